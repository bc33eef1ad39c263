"""The phase state machine on its own: transitions from given status and Job outcomes, without a cluster.

The world here is an in-memory stand-in for the few reads and writes the machine makes (ConfigMap hash, Secret
presence, Jobs); the end-to-end tests run the same machine against the real API server.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dbmigrate.backups import base
from dbmigrate.controller import backups, cluster, reconcile
from dbmigrate.controller import spec as specs
from dbmigrate.controller.settings import Settings

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(poll_seconds=2, retry_base_seconds=10, retry_max_seconds=60, retry_limit=2)
SPEC: dict[str, Any] = {
    "database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
    "migrations": {"configMapRef": {"name": "sql"}},
    "backup": {"policy": "Skip"},
}


@dataclasses.dataclass
class World:
    jobs: dict[str, cluster.JobState] = dataclasses.field(default_factory=dict)
    created: list[str] = dataclasses.field(default_factory=list)
    secret_missing: bool = False
    #: Secrets missing by name (secret_missing: every one)
    missing_secrets: set[str] = dataclasses.field(default_factory=set)

    def migrations_hash(self, namespace: str, name: str) -> str | None:
        return "sha256:m"

    def secret_problem(self, namespace: str, name: str, keys: list[str]) -> str | None:
        return f"Secret {name!r} not found" if self.secret_missing or name in self.missing_secrets else None

    def ensure_job(self, manifest: Mapping[str, Any]) -> bool:
        name = manifest["metadata"]["name"]
        self.created.append(name)
        self.jobs.setdefault(name, cluster.JobState(exists=True))
        return True

    def job_state(self, namespace: str, name: str) -> cluster.JobState:
        return self.jobs.get(name, cluster.JobState(exists=False))

    def finish(self, suffix: str, document: dict[str, Any], *, exit_code: int = 0) -> None:
        name = next(n for n in self.jobs if n.endswith(suffix))
        self.jobs[name] = cluster.JobState(
            exists=True, finished=True, exit_code=exit_code, message=json.dumps(document)
        )


def no_provider(backup: specs.Backup, namespace: str, request_id: str) -> base.Provider | None:
    return None


def obj(
    status: dict[str, Any] | None = None,
    *,
    generation: int = 1,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta = {
        "name": "app",
        "namespace": "ns",
        "uid": "u-123456789",
        "generation": generation,
        "annotations": annotations,
    }
    return {"metadata": meta, "spec": spec or SPEC, "status": status or {}}


def run(world: World, status: dict[str, Any] | None = None, *, now: datetime = NOW, **kw: Any) -> reconcile.Step:
    return reconcile.step(obj(status, **kw), world=world, providers=no_provider, settings=SETTINGS, now=now)


def until_waiting(world: World, status: dict[str, Any] | None = None, **kw: Any) -> reconcile.Step:
    """Move until the machine waits (as the daemon does), returning the last step."""
    result = run(world, status, **kw)
    while result.wait == 0:
        result = run(world, result.status, **kw)
    return result


def state(result: reconcile.Step) -> dict[str, str]:
    return {c["type"]: c["status"] for c in result.status["conditions"]}


PLAN_OK = {
    "ok": True,
    "exit_code": 0,
    "plan_hash": "sha256:p1",
    "current_version": None,
    "pending": ["1"],
    "irreversible": [],
    "findings": [],
    "blocking": 0,
}
PLAN_DESTRUCTIVE = {
    **PLAN_OK,
    "blocking": 1,
    "findings": [{"rule": "drop_table", "severity": "destructive", "allowed": False}],
}


def test_new_resource_is_first_marked_reconciling_before_any_work() -> None:
    world = World()
    first = run(world)
    assert first.status["phase"] == "Pending" and first.wait == 0 and world.created == []
    assert state(first)["Ready"] == "False" and state(first)["Reconciling"] == "True"
    assert state(first)["Planned"] == "Unknown" and first.status["observedGeneration"] == 1


def test_happy_path_through_the_jobs() -> None:
    world = World()
    waiting = until_waiting(world)
    assert waiting.status["phase"] == "Planning" and waiting.wait == SETTINGS.poll_seconds
    assert world.created == ["dbm-app-u-123456-g1a0-plan"]
    world.finish("-plan", PLAN_OK)
    waiting = until_waiting(world, waiting.status)
    assert waiting.status["phase"] == "Migrating" and world.created[-1].endswith("-migrate")
    world.finish("-migrate", {"ok": True, "applied": ["1"], "current_version": "1"})
    waiting = until_waiting(world, waiting.status)
    world.finish("-verify", {"ok": True, "fingerprint": "sha256:f", "integrity_ok": True, "problems": []})
    done = until_waiting(world, waiting.status)
    assert done.status["phase"] == "Succeeded" and done.wait is None
    assert state(done) == {
        "BackupVerified": "False",
        "Planned": "True",
        "Approved": "True",
        "Migrated": "True",
        "SchemaVerified": "True",
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert done.status["schema"]["fingerprint"] == "sha256:f"


def test_a_warning_of_the_migrate_run_becomes_one_warning_event() -> None:
    world = World()
    waiting = until_waiting(world)
    world.finish("-plan", PLAN_OK)
    waiting = until_waiting(world, waiting.status)
    warning = {"name": "run_lock", "message": "the run lock was no longer held by this session"}
    world.finish("-migrate", {"ok": True, "applied": ["1"], "current_version": "1", "warnings": [warning]})

    read = run(world, waiting.status)
    after = until_waiting(world, read.status)

    warned = [e for e in [*read.events, *after.events] if e.reason == "RunWarning"]
    assert [(e.type, e.message) for e in warned] == [
        ("Warning", "run_lock: the run lock was no longer held by this session")
    ]
    assert read.status["phase"] == "Verifying"  # a warning, not a failure


def test_a_second_look_at_a_running_job_creates_nothing() -> None:
    world = World()
    waiting = until_waiting(world)
    again = until_waiting(world, waiting.status)
    assert world.created == ["dbm-app-u-123456-g1a0-plan"] and again.status == waiting.status


def _awaiting(world: World, annotations: dict[str, str] | None = None) -> reconcile.Step:
    waiting = until_waiting(world)
    world.finish("-plan", PLAN_DESTRUCTIVE)
    return until_waiting(world, waiting.status, annotations=annotations)


def test_wrong_approval_is_reported_once_and_approves_nothing() -> None:
    world = World()
    awaiting = _awaiting(world, annotations={"dbmigrate.io/approved-plan": "sha256:other"})
    assert awaiting.status["phase"] == "AwaitingApproval" and awaiting.wait is None
    assert [e.reason for e in awaiting.events if e.type == "Warning"] == ["ApprovalMismatch"]
    again = run(world, awaiting.status, annotations={"dbmigrate.io/approved-plan": "sha256:other"})
    assert not any(e.reason == "ApprovalMismatch" for e in again.events)
    assert not any(name.endswith("-migrate") for name in world.created)


def test_right_approval_migrates_with_allow_destructive() -> None:
    world = World()
    awaiting = _awaiting(world)
    approved = until_waiting(world, awaiting.status, annotations={"dbmigrate.io/approved-plan": "sha256:p1"})
    assert approved.status["phase"] == "Migrating"
    assert {c["type"]: c["reason"] for c in approved.status["conditions"]}["Approved"] == "ApprovedByAnnotation"


def test_lock_timeout_retries_with_backoff_then_stalls() -> None:
    world = World()
    status = until_waiting(world).status
    lock = {"ok": False, "exit_code": 4, "error": {"type": "LockTimeoutError", "message": "busy"}}
    delays = []
    clock = NOW
    for attempt in range(3):
        world.finish(f"a{attempt}-plan", lock, exit_code=4)
        result = run(world, status, now=clock)
        status = result.status
        if status["phase"] == "Failed":
            break
        delays.append(result.wait)
        assert status["reason"] == "Retrying" and status["attempt"] == attempt + 1
        assert run(world, status, now=clock).wait == result.wait  # backing off: no Job yet
        clock += timedelta(seconds=result.wait or 0)
        status = until_waiting(world, status, now=clock).status  # the next attempt's Job
    assert delays == [10, 20]
    assert status["phase"] == "Failed" and status["reason"] == "LockTimeout" and "gave up after 2" in status["message"]
    assert state(result)["Stalled"] == "True"


def test_retry_annotation_starts_a_new_attempt() -> None:
    world = World()
    failed = {"phase": "Failed", "observedGeneration": 1, "attempt": 0, "reason": "Drift"}
    restarted = run(world, failed, annotations={"dbmigrate.io/retry": "1"})
    assert restarted.status["phase"] == "Pending" and restarted.status["attempt"] == 1
    assert restarted.status["retryToken"] == "1"
    assert run(world, restarted.status, annotations={"dbmigrate.io/retry": "1"}).status["phase"] == "CheckingBackup"


def test_missing_secret_stalls_but_keeps_looking() -> None:
    world = World(secret_missing=True)
    result = until_waiting(world)
    assert result.status["reason"] == "SecretNotFound" and result.wait == SETTINGS.retry_base_seconds
    assert state(result)["Stalled"] == "True" and world.created == []


def test_a_running_migration_is_finished_before_a_new_generation_starts() -> None:
    world = World()
    waiting = until_waiting(world)
    world.finish("-plan", PLAN_OK)
    migrating = until_waiting(world, waiting.status)
    changed = run(world, migrating.status, generation=2)
    assert changed.status["phase"] == "Migrating" and changed.status["observedGeneration"] == 1


def test_nothing_pending_skips_to_verification() -> None:
    world = World()
    waiting = until_waiting(world)
    world.finish("-plan", {**PLAN_OK, "pending": [], "current_version": "4"})
    verifying = until_waiting(world, waiting.status)
    assert verifying.status["phase"] == "Verifying" and not any(n.endswith("-migrate") for n in world.created)
    assert verifying.status["appliedVersion"] == "4"
    assert {c["type"]: c["reason"] for c in verifying.status["conditions"]}["Migrated"] == "UpToDate"


def test_dry_run_stops_after_planning() -> None:
    world = World()
    dry = {**SPEC, "dryRun": True}
    waiting = until_waiting(world, spec=dry)
    world.finish("-plan", PLAN_OK)
    done = until_waiting(world, waiting.status, spec=dry)
    assert (done.status["phase"], done.status["reason"]) == ("Succeeded", "DryRun")
    assert world.created == ["dbm-app-u-123456-g1a0-plan"]


@dataclasses.dataclass
class Snapshots:
    """A backup provider whose newest backup the test moves."""

    taken_at: datetime

    def latest(self) -> base.Backup | None:
        return base.Backup(provider="test", taken_at=self.taken_at, description="nightly")

    def create(self) -> base.Backup:
        raise base.BackupError("this provider cannot take backups")


def test_blocked_by_a_stale_backup_looks_again_and_goes_on_once_a_fresh_one_exists() -> None:
    world, snapshots = World(), Snapshots(taken_at=NOW - timedelta(hours=3))
    spec = {**SPEC, "backup": {"policy": "Require", "maxAge": "1h", "volumeSnapshot": {"name": "nightly"}}}

    def step(status: dict[str, Any], now: datetime) -> reconcile.Step:
        return reconcile.step(
            obj(status, spec=spec), world=world, providers=lambda *_: snapshots, settings=SETTINGS, now=now
        )

    blocked = step(step(step({}, NOW).status, NOW).status, NOW)
    assert (blocked.status["phase"], blocked.status["reason"]) == ("Blocked", "BackupTooOld")
    assert blocked.wait is None  # the daemon comes back at the next resync
    still = step(blocked.status, NOW + timedelta(minutes=5))
    assert still.status["phase"] == "Blocked" and still.events == [] and world.created == []

    snapshots.taken_at = NOW + timedelta(minutes=7)
    resumed = step(still.status, NOW + timedelta(minutes=10))
    assert resumed.status["phase"] == "Planning"
    assert resumed.status["backup"]["takenAt"].startswith("2026-01-01T12:07")


def test_a_denied_destructive_change_stays_blocked_until_the_spec_or_a_retry_changes() -> None:
    blocked = {"phase": "Blocked", "reason": "DestructiveDenied", "observedGeneration": 1, "attempt": 0}
    assert run(World(), blocked).status["phase"] == "Blocked"


def test_a_migration_left_dirty_fails_with_reason_dirty_and_is_not_retried() -> None:
    """A half-applied migration needs a person and `dbmigrate repair`; "rolled back" or a retry would hide it."""
    for exit_code, error_type in ((1, "MigrationError"), (4, "TableLockTimeoutError")):
        world = World()
        waiting = until_waiting(world)
        world.finish("-plan", PLAN_OK)
        migrating = until_waiting(world, waiting.status)
        error = {"type": error_type, "message": "001_x.sql:2: boom\n  left DIRTY at version 1", "left_dirty": True}
        world.finish(
            "-migrate", {"ok": False, "exit_code": exit_code, "applied": [], "error": error}, exit_code=exit_code
        )
        done = until_waiting(world, migrating.status)
        assert (done.status["phase"], done.status["reason"], done.wait) == ("Failed", "Dirty", None)
        assert "dbmigrate repair" in done.status["message"] and "boom" in done.status["message"]
        migrated = next(c for c in done.status["conditions"] if c["type"] == "Migrated")
        assert (migrated["status"], migrated["reason"]) == ("False", "Dirty")
        assert state(done)["Stalled"] == "True" and "retries" not in done.status


def test_migrations_changed_under_an_unchanged_spec_warn_that_argo_cd_cannot_see_it() -> None:
    """Same ConfigMap name, new content: the generation stays, so Argo CD reads the old Healthy until the operator
    moves; the Warning tells the user to give the ConfigMap a content-hashed name."""
    succeeded = {"phase": "Succeeded", "observedGeneration": 1, "attempt": 0, "migrationsHash": "sha256:old"}
    restarted = run(World(), succeeded)
    assert (restarted.status["phase"], restarted.status["reason"]) == ("Pending", "MigrationsChanged")
    warned = [e for e in restarted.events if e.type == "Warning"]
    assert [e.reason for e in warned] == ["MigrationsChangedInPlace"]
    assert "'sql'" in warned[0].message and "content-hashed" in warned[0].message


LOCK_TIMEOUT = {"ok": False, "exit_code": 4, "error": {"type": "LockTimeoutError", "message": "busy"}}


def _migrate_retrying(world: World, *, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> Any:
    """A destructive plan approved (or allowed), its migrate Job timed out on a lock: waiting to retry."""
    waiting = until_waiting(world, spec=spec, annotations=annotations)
    world.finish("-plan", PLAN_DESTRUCTIVE)
    migrating = until_waiting(world, waiting.status, spec=spec, annotations=annotations)
    world.finish("a0-migrate", LOCK_TIMEOUT, exit_code=4)
    retrying = until_waiting(world, migrating.status, spec=spec, annotations=annotations)
    assert (retrying.status["phase"], retrying.status["reason"]) == ("Migrating", "Retrying")
    return retrying


def test_a_spec_edit_between_migrate_attempts_restarts_instead_of_migrating_with_the_new_spec() -> None:
    """No migrate Job of the current attempt exists: nothing runs, so nothing is abandoned by starting afresh. A
    Job built now would take the new spec (here a dry run that denies destructive changes) with the old approval."""
    world = World()
    retrying = _migrate_retrying(world, spec={**SPEC, "safety": {"destructive": "Allow"}})
    edited = {**SPEC, "dryRun": True, "safety": {"destructive": "Deny"}}
    later = NOW + timedelta(minutes=5)  # past the backoff

    restarted = run(world, retrying.status, spec=edited, generation=2, now=later)
    assert (restarted.status["phase"], restarted.status["reason"]) == ("Pending", "SpecChanged")
    assert restarted.status["observedGeneration"] == 2 and "plan" not in restarted.status
    planning = until_waiting(world, restarted.status, spec=edited, generation=2, now=later)
    world.finish("g2a2-plan", PLAN_DESTRUCTIVE)
    done = until_waiting(world, planning.status, spec=edited, generation=2, now=later)
    assert (done.status["phase"], done.status["reason"]) == ("Succeeded", "DryRun")
    assert [name for name in world.created if name.endswith("-migrate")] == ["dbm-app-u-123456-g1a0-migrate"]


def test_a_retry_requested_between_migrate_attempts_starts_a_new_run() -> None:
    world = World()
    spec = {**SPEC, "safety": {"destructive": "Allow"}}
    retrying = _migrate_retrying(world, spec=spec)
    restarted = run(world, retrying.status, spec=spec, annotations={"dbmigrate.io/retry": "now"})
    assert (restarted.status["phase"], restarted.status["reason"]) == ("Pending", "RetryRequested")
    assert restarted.status["retryToken"] == "now" and "retries" not in restarted.status


def test_an_approval_withdrawn_between_migrate_attempts_is_asked_for_again() -> None:
    world = World()
    approved = {"dbmigrate.io/approved-plan": "sha256:p1"}
    retrying = _migrate_retrying(world, spec=SPEC, annotations=approved)
    later = NOW + timedelta(minutes=5)
    for withdrawn in ({}, {"dbmigrate.io/approved-plan": "sha256:other"}):
        waiting = until_waiting(world, retrying.status, annotations=withdrawn, now=later)
        assert (waiting.status["phase"], waiting.status["reason"]) == ("AwaitingApproval", "AwaitingApproval")
        assert not any(name.endswith("a1-migrate") for name in world.created)


def test_a_spec_edit_while_the_migrate_job_runs_waits_for_its_result() -> None:
    world = World()
    spec = {**SPEC, "safety": {"destructive": "Allow"}}
    retrying = _migrate_retrying(world, spec=spec)
    later = NOW + timedelta(minutes=5)
    running = until_waiting(world, retrying.status, spec=spec, now=later)
    assert world.created[-1].endswith("a1-migrate")
    edited = run(world, running.status, spec=spec, generation=2, now=later)
    assert edited.status["phase"] == "Migrating" and edited.status["observedGeneration"] == 1
    world.finish("a1-migrate", {"ok": True, "applied": ["1"], "current_version": "1"})
    read = run(world, edited.status, spec=spec, generation=2, now=later)
    assert read.status["migration"]["applied"] == ["1"] and read.status["phase"] == "Verifying"
    assert run(world, read.status, spec=spec, generation=2, now=later).status["reason"] == "SpecChanged"


def test_lists_the_summary_trimmed_to_fit_its_4_kib_still_count_in_full() -> None:
    world = World()
    waiting = until_waiting(world)
    world.finish("-plan", {**PLAN_OK, "pending": ["299", "300"], "pending_truncated": 298})
    migrating = until_waiting(world, waiting.status)
    assert migrating.status["pendingCount"] == 300 and migrating.status["target"] == "300"
    assert migrating.status["plan"]["pendingTruncated"] == 298
    planned = next(c for c in migrating.status["conditions"] if c["type"] == "Planned")
    assert planned["message"].startswith("300 to apply")

    world.finish("-migrate", {"ok": True, "applied": ["300"], "applied_truncated": 299, "current_version": "300"})
    verifying = until_waiting(world, migrating.status)
    assert verifying.status["migration"]["applied"] == ["300"]
    assert verifying.status["migration"]["appliedTruncated"] == 299
    migrated = next(c for c in verifying.status["conditions"] if c["type"] == "Migrated")
    assert migrated["message"] == "applied 300 migrations (the last: 300)"


def test_a_failure_after_applied_migrations_the_summary_left_out_is_not_called_rolled_back() -> None:
    """Exit 1 with nothing applied means the failed migration was rolled back; here 40 stayed applied."""
    world = World()
    waiting = until_waiting(world)
    world.finish("-plan", PLAN_OK)
    migrating = until_waiting(world, waiting.status)
    error = {"type": "MigrationError", "message": "041_x.sql:1: boom"}
    world.finish("-migrate", {"ok": False, "applied": [], "applied_truncated": 40, "error": error}, exit_code=1)
    failed = until_waiting(world, migrating.status)
    assert (failed.status["phase"], failed.status["reason"]) == ("Failed", "MigrationFailed")


@dataclasses.dataclass
class FlakyBackups:
    """A backup API that fails (passing trouble) ``failures`` times, then has a fresh backup."""

    failures: int
    calls: int = 0

    def latest(self) -> base.Backup | None:
        self.calls += 1
        if self.calls <= self.failures:
            raise backups.BackupUnavailable("Cloud SQL Admin API unreachable: timed out")
        return base.Backup(provider="test", taken_at=NOW, description="nightly")

    def create(self) -> base.Backup:
        raise AssertionError("not asked")


def _checking(api: FlakyBackups, status: dict[str, Any], now: datetime) -> reconcile.Step:
    spec = {**SPEC, "backup": {"policy": "Require", "gcpCloudSql": {"project": "p", "instance": "i"}}}
    return reconcile.step(obj(status, spec=spec), world=World(), providers=lambda *_: api, settings=SETTINGS, now=now)


def test_a_backup_api_in_passing_trouble_is_asked_again_with_backoff_not_blocked() -> None:
    api = FlakyBackups(failures=2)
    first = _checking(api, _checking(api, {}, NOW).status, NOW)
    retrying = _checking(api, first.status, NOW)
    assert (retrying.status["phase"], retrying.status["reason"], retrying.wait) == ("CheckingBackup", "Retrying", 10)
    assert state(retrying)["Stalled"] == "False" and "unreachable" in retrying.status["message"]
    assert _checking(api, retrying.status, NOW + timedelta(seconds=5)).wait == 5 and api.calls == 1  # backing off

    again = _checking(api, retrying.status, NOW + timedelta(seconds=10))
    assert (again.status["reason"], again.wait, again.status["retries"]) == ("Retrying", 20, 2)
    passed = _checking(api, again.status, NOW + timedelta(seconds=30))
    assert passed.status["phase"] == "Planning" and "retries" not in passed.status
    assert passed.status["attempt"] == 0  # a backup being created keeps its name


def test_a_backup_api_in_trouble_past_the_retry_limit_blocks() -> None:
    api = FlakyBackups(failures=10)
    result, clock = _checking(api, {}, NOW), NOW
    while result.status["phase"] != "Blocked":
        clock += timedelta(seconds=result.wait or 0)
        result = _checking(api, result.status, clock)
    assert result.status["reason"] == "BackupError" and "gave up after 2 retries" in result.status["message"]


@dataclasses.dataclass
class RejectingWorld(World):
    """An API server that refuses Jobs (a ResourceQuota, Pod Security admission, an invalid spec.job) until told."""

    rejection: str | None = 'Job.batch "x" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1'

    def ensure_job(self, manifest: Mapping[str, Any]) -> bool:
        if self.rejection:
            raise cluster.JobRejected(f"403 Forbidden: {self.rejection}")
        return super().ensure_job(manifest)


def test_a_job_the_api_server_rejects_stalls_with_its_message_and_goes_on_once_accepted() -> None:
    world = RejectingWorld()
    rejected = until_waiting(world)
    assert (rejected.status["phase"], rejected.status["reason"]) == ("Planning", "JobRejected")
    assert "exceeded quota" in rejected.status["message"] and state(rejected)["Stalled"] == "True"
    assert [(e.type, e.reason) for e in rejected.events] == [("Warning", "JobRejected")]
    assert rejected.wait == SETTINGS.retry_max_seconds and world.created == []
    assert run(world, rejected.status).events == []  # refused again: nothing new to say

    world.rejection = None
    accepted = run(world, rejected.status)
    assert (accepted.status["phase"], accepted.status["reason"]) == ("Planning", "Planning")
    assert state(accepted)["Stalled"] == "False" and world.created == ["dbm-app-u-123456-g1a0-plan"]
    assert [e.reason for e in accepted.events] == ["JobCreated", "Planning"]


def test_a_job_found_already_created_is_not_announced_again() -> None:
    """409 AlreadyExists: an earlier operator process created it (and said so)."""

    class Existing(World):
        def ensure_job(self, manifest: Mapping[str, Any]) -> bool:
            super().ensure_job(manifest)
            return False

    waiting = until_waiting(Existing())
    assert waiting.status["job"] == "dbm-app-u-123456-g1a0-plan"
    assert not any(e.reason == "JobCreated" for e in waiting.events)


def _waiting(world: World, reason: str, message: str, *, since: datetime = NOW) -> str:
    name = world.created[-1]
    world.jobs[name] = cluster.JobState(exists=True, waiting=cluster.Waiting(reason, message, since))
    return name


def test_a_job_pod_whose_secret_is_gone_stalls_stays_watched_and_recovers_when_it_starts() -> None:
    world = World()
    planning = until_waiting(world)
    name = _waiting(world, "CreateContainerConfigError", 'secret "db" not found')
    stuck = run(world, planning.status, now=NOW + timedelta(seconds=3))
    assert (stuck.status["phase"], stuck.status["reason"]) == ("Planning", "ContainerConfigError")
    assert stuck.status["message"] == f'Job {name} cannot start: CreateContainerConfigError: secret "db" not found'
    assert (state(stuck)["Stalled"], state(stuck)["Reconciling"]) == ("True", "True")
    assert stuck.wait == SETTINGS.poll_seconds and [e.type for e in stuck.events] == ["Warning"]

    world.jobs[name] = cluster.JobState(exists=True)  # the Secret is back: the pod runs
    going = run(world, stuck.status, now=NOW + timedelta(minutes=1))
    assert (going.status["reason"], state(going)["Stalled"]) == ("Planning", "False")
    assert going.status["message"] == f"Job {name} started"


def test_a_failing_image_pull_stalls_only_after_a_grace_period_and_without_an_event_per_kubelet_retry() -> None:
    world = World()
    planning = until_waiting(world)
    _waiting(world, "ErrImagePull", "manifest unknown")
    early = run(world, planning.status, now=NOW + timedelta(seconds=30))
    assert (early.status["reason"], state(early)["Stalled"]) == ("JobWaiting", "False")

    stuck = run(world, early.status, now=NOW + timedelta(minutes=3))
    assert (stuck.status["reason"], state(stuck)["Stalled"]) == ("ImagePullFailed", "True")
    _waiting(world, "ImagePullBackOff", 'Back-off pulling image "x"')
    again = run(world, stuck.status, now=NOW + timedelta(minutes=4))
    assert again.status["message"] == stuck.status["message"] and again.events == []


def test_a_malformed_image_name_stalls_at_once() -> None:
    world = World()
    planning = until_waiting(world)
    _waiting(world, "InvalidImageName", 'couldn\'t parse image name "Bad:Name"')
    assert run(world, planning.status, now=NOW).status["reason"] == "ImagePullFailed"


def test_a_missing_backup_credentials_secret_stalls_like_the_database_secret() -> None:
    """Not a silent fall-back to the operator's own cloud identity."""
    world = World(missing_secrets={"rds-creds"})
    spec = {
        **SPEC,
        "backup": {
            "policy": "Require",
            "credentialsSecretRef": {"name": "rds-creds"},
            "awsRds": {"dbInstanceIdentifier": "orders", "region": "eu-west-1"},
        },
    }
    asked: list[str] = []

    def providers(*_: Any) -> base.Provider | None:
        asked.append("provider")
        return None

    first = reconcile.step(obj(None, spec=spec), world=world, providers=providers, settings=SETTINGS, now=NOW)
    stalled = reconcile.step(obj(first.status, spec=spec), world=world, providers=providers, settings=SETTINGS, now=NOW)
    assert (stalled.status["phase"], stalled.status["reason"]) == ("Pending", "SecretNotFound")
    assert stalled.status["message"] == "backup credentials: Secret 'rds-creds' not found; retrying"
    assert state(stalled)["Stalled"] == "True" and asked == []


def test_backup_credentials_gone_after_pending_block_the_run() -> None:
    def providers(*_: Any) -> base.Provider | None:
        raise base.BackupError("credentials Secret 'rds-creds' not found")

    checking = {"phase": "CheckingBackup", "observedGeneration": 1, "attempt": 0}
    spec = {**SPEC, "backup": {"policy": "Require", "awsRds": {"dbInstanceIdentifier": "o", "region": "r"}}}
    blocked = reconcile.step(obj(checking, spec=spec), world=World(), providers=providers, settings=SETTINGS, now=NOW)
    assert (blocked.status["phase"], blocked.status["reason"]) == ("Blocked", "BackupError")
    assert "'rds-creds' not found" in blocked.status["message"]


def test_a_new_run_does_not_show_an_earlier_runs_backup() -> None:
    """With policy Skip the BACKUP column would keep the backup some earlier run relied on."""
    earlier = {"provider": "VolumeSnapshot", "takenAt": "2025-12-01T00:00:00Z", "description": "old", "checkedAt": "x"}
    succeeded = {"phase": "Succeeded", "observedGeneration": 1, "attempt": 0, "backup": earlier}
    restarted = until_waiting(World(), succeeded, generation=2)
    assert "backup" not in restarted.status and restarted.status["phase"] == "Planning"
