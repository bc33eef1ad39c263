"""The phase state machine: from the resource (spec, annotations, status) and the world, one transition.

Pending → CheckingBackup → Planning → AwaitingApproval → Migrating → Verifying → Succeeded, or Failed /
RolledBack / Blocked. :func:`step` makes one move and returns the new status; the caller persists it before the
next move, so every piece of work (a Job, a snapshot) is recorded before anything builds on it, and an operator
restarted at any moment resumes from ``status`` alone. Work items are idempotent by construction: Job and backup
names derive from (uid, observedGeneration, attempt), so redoing a step finds the earlier one instead of
starting another.

``status.attempt`` moves whenever a step must run afresh (a retry, a changed plan, a new generation, the
``dbmigrate.io/retry`` annotation); ``status.retries`` counts the automatic retries against the limit.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from dbmigrate import errors
from dbmigrate.backups import base, gate
from dbmigrate.controller import backups, cluster, jobs, results
from dbmigrate.controller import conditions as conds
from dbmigrate.controller import spec as specs
from dbmigrate.controller.settings import Settings

APPROVED_PLAN = "dbmigrate.io/approved-plan"
RETRY = "dbmigrate.io/retry"
TERMINAL = frozenset({"Succeeded", "Failed", "RolledBack", "Blocked"})
#: phases where changed migrations start a new run (elsewhere the run in flight finishes first; a migrate Job
#: refuses a plan that no longer matches anyway)
RESTARTABLE = TERMINAL | {"AwaitingApproval"}
#: Blocked for one of these reasons, a resource looks at its backups again at every resync.
BACKUP_BLOCKS = frozenset({"BackupTooOld", "NoBackup", "BackupError"})
#: a Job pod's waiting reasons that need help: the resource's reason, and how long the pod may wait first (a
#: failing image pull can be a registry hiccup; a Secret missing or an image name malformed is not)
CANNOT_START: dict[str, tuple[str, timedelta]] = {
    "CreateContainerConfigError": ("ContainerConfigError", timedelta(0)),
    "InvalidImageName": ("ImagePullFailed", timedelta(0)),
    "ErrImagePull": ("ImagePullFailed", timedelta(minutes=2)),
    "ImagePullBackOff": ("ImagePullFailed", timedelta(minutes=2)),
}
#: reasons a step shows while its Job cannot be created or its pod not start; the phase's own reason returns after
JOB_TROUBLE = frozenset({"JobRejected", "JobWaiting", *(reason for reason, _ in CANNOT_START.values())})
#: status fields that belong to one run and are cleared when a new one starts
RUN_FIELDS = ("plan", "migration", "schema", "direction", "job", "rejectedApproval", "retryAfter", "retries", "backup")


class World(Protocol):
    """The cluster as the state machine uses it (:class:`dbmigrate.controller.cluster.Cluster`)."""

    def migrations_hash(self, namespace: str, name: str) -> str | None: ...
    def secret_problem(self, namespace: str, name: str, keys: list[str]) -> str | None: ...
    def ensure_job(self, manifest: Mapping[str, Any]) -> bool: ...
    def job_state(self, namespace: str, name: str) -> cluster.JobState: ...


#: builds the backup provider of a spec for one run (None with policy Skip)
ProviderFactory = Callable[[specs.Backup, str, str], base.Provider | None]


@dataclasses.dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclasses.dataclass
class Step:
    """The outcome of one move: the full new ``status``, Events to post, and when to look again (seconds; 0 =
    at once, None = only when something changes or at the periodic resync)."""

    status: dict[str, Any]
    events: list[Event]
    wait: float | None


def step(
    obj: Mapping[str, Any], *, world: World, providers: ProviderFactory, settings: Settings, now: datetime
) -> Step:
    machine = _Machine(obj, world=world, providers=providers, settings=settings, now=now)
    machine.advance()
    return machine.result()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Machine:
    def __init__(
        self,
        obj: Mapping[str, Any],
        *,
        world: World,
        providers: ProviderFactory,
        settings: Settings,
        now: datetime,
    ) -> None:
        self.obj = obj
        self.meta: Mapping[str, Any] = obj["metadata"]
        self.namespace: str = self.meta["namespace"]
        self.annotations: Mapping[str, str] = self.meta.get("annotations") or {}
        self.status: dict[str, Any] = copy.deepcopy(dict(obj.get("status") or {}))
        self.world = world
        self.providers = providers
        self.settings = settings
        self.now = now
        self.events: list[Event] = []
        self.wait: float | None = None
        #: the step cannot go on without help but is looked at again (a missing Secret, a rejected Job)
        self.stalled = False
        self._before = (self.status.get("phase"), self.status.get("reason"), self.status.get("message"))

    # -- outcome --------------------------------------------------------------------------------------------

    def result(self) -> Step:
        phase = self.status.get("phase", "Pending")
        stalled = phase in conds.STALLED or self.stalled
        self.status["conditions"] = conds.summarize(
            self.status.get("conditions") or [],
            phase=phase,
            reason=self.status.get("reason", phase),
            message=self.status.get("message", ""),
            stalled=stalled,
            generation=self._generation,
            now=_iso(self.now),
        )
        after = (phase, self.status.get("reason"), self.status.get("message"))
        if after != self._before:
            kind = "Warning" if stalled or self.status.get("reason") == "Retrying" else "Normal"
            self.events.append(Event(kind, str(after[1]), f"{phase}: {after[2]}"))
        return Step(status=self.status, events=self.events, wait=self.wait)

    @property
    def _generation(self) -> int:
        return int(self.status.get("observedGeneration", self.meta.get("generation", 1)))

    def _move(self, phase: str, reason: str, message: str, *, wait: float | None = 0) -> None:
        self.status.update(phase=phase, reason=reason, message=message[: results.MAX_MESSAGE])
        self.wait = wait

    def _detail(self, type_: str, status: str, reason: str, message: str) -> None:
        self.status["conditions"] = conds.upsert(
            self.status.get("conditions") or [],
            type_=type_,
            status=status,
            reason=reason,
            message=message[: results.MAX_MESSAGE],
            generation=self._generation,
            now=_iso(self.now),
        )

    def _run_id(self) -> str:
        return jobs.run_id(
            name=self.meta["name"],
            uid=self.meta["uid"],
            generation=self._generation,
            attempt=int(self.status.get("attempt", 0)),
        )

    # -- dispatch -------------------------------------------------------------------------------------------

    def advance(self) -> None:
        if self._restart_if_needed():
            return
        try:
            mig = specs.parse(self.obj.get("spec") or {})
        except specs.SpecError as exc:
            if self.status.get("phase") not in TERMINAL:
                self._move("Failed", "InvalidSpec", str(exc), wait=None)
            return
        phase = self.status.get("phase", "Pending")
        handlers: dict[str, Callable[[specs.MigrationSpec], None]] = {
            "Pending": self._pending,
            "CheckingBackup": self._checking_backup,
            "Planning": self._planning,
            "AwaitingApproval": self._awaiting_approval,
            "Migrating": self._migrating,
            "Verifying": self._verifying,
            "Blocked": self._blocked,
        }
        if phase in handlers:
            handlers[phase](mig)

    def _restart_if_needed(self) -> bool:
        """Start a new run on a new generation, a new retry token, or changed migrations (once finished or while
        awaiting approval).

        A migration under way is never abandoned: while the current attempt's migrate Job exists, it finishes and
        its result is recorded first (the new generation is picked up on the move after). Between attempts (no
        such Job, e.g. backing off after a lock timeout) the run restarts at once: a migrate Job built now would
        take the new spec with the old run's plan and approval. The restart itself is one move of its own, so
        Ready flips to False before any work."""
        generation = int(self.meta.get("generation", 1))
        token = self.annotations.get(RETRY)
        phase = self.status.get("phase")
        if phase is None:
            reason, message = "Created", "new resource"
        elif self.status.get("observedGeneration") != generation:
            reason, message = "SpecChanged", f"spec changed (generation {generation})"
        elif token is not None and token != self.status.get("retryToken"):
            reason, message = "RetryRequested", f"retry requested ({RETRY}={token})"
        elif phase in RESTARTABLE and self._migrations_changed():
            reason, message = "MigrationsChanged", "the migrations ConfigMap changed"
            self._warn_changed_in_place()
        else:
            return False
        if phase == "Migrating" and self._migrate_job_exists():
            return False
        for field in RUN_FIELDS:
            self.status.pop(field, None)
        self.status.update(
            observedGeneration=generation,
            attempt=int(self.status.get("attempt", -1)) + 1,
            startedAt=_iso(self.now),
        )
        if token is not None:
            self.status["retryToken"] = token
        for type_ in conds.DETAILS:
            self._detail(type_, "Unknown", "Pending", "not reached yet in this run")
        self._move("Pending", reason, message)
        return True

    def _warn_changed_in_place(self) -> None:
        """New content under the same ConfigMap name moves no generation: Argo CD (and anything reading
        ``observedGeneration``) took the previous run's outcome for this content until now. Say so, and how to
        avoid it."""
        name = self.obj["spec"]["migrations"]["configMapRef"]["name"]
        text = (
            f"ConfigMap {name!r} changed under an unchanged spec: until this run started, the previous outcome "
            "stood for the new migrations (Argo CD may have rolled out the application already); give the "
            "ConfigMap a content-hashed name (kustomize configMapGenerator) so that a change is a spec change"
        )
        self.events.append(Event("Warning", "MigrationsChangedInPlace", text))

    def _migrations_changed(self) -> bool:
        configmap = ((self.obj.get("spec") or {}).get("migrations") or {}).get("configMapRef") or {}
        recorded = self.status.get("migrationsHash")
        if not configmap.get("name") or not recorded:
            return False
        current = self.world.migrations_hash(self.namespace, configmap["name"])
        return current is not None and current != recorded

    # -- phases ---------------------------------------------------------------------------------------------

    def _pending(self, mig: specs.MigrationSpec) -> None:
        if mig.migrations.configmap:
            digest = self.world.migrations_hash(self.namespace, mig.migrations.configmap)
            if digest is None:
                self._missing("ConfigMapNotFound", f"ConfigMap {mig.migrations.configmap!r} not found")
                return
            self.status["migrationsHash"] = digest
        problem = self.world.secret_problem(self.namespace, mig.database.secret_name, mig.database.secret_keys())
        if problem:
            self._missing("SecretNotFound", problem)
            return
        if mig.backup.credentials_secret and mig.backup.credential_keys:
            credentials = mig.backup.credentials_secret
            problem = self.world.secret_problem(self.namespace, credentials, list(mig.backup.credential_keys))
            if problem:
                self._missing("SecretNotFound", f"backup credentials: {problem}")
                return
        self.status["target"] = mig.target
        self._move("CheckingBackup", "CheckingBackup", f"backup policy {mig.backup.policy}")

    def _missing(self, reason: str, message: str) -> None:
        """A dependency the user must create: Stalled, but looked for again (it may appear any moment)."""
        self._stalled_on(reason, f"{message}; retrying", wait=self.settings.retry_base_seconds)

    def _stalled_on(self, reason: str, message: str, *, wait: float) -> None:
        """Stalled in the current phase (not a final one): the step goes on by itself once the cause is fixed."""
        self.stalled = True
        self._move(self.status.get("phase", "Pending"), reason, message, wait=wait)

    def _blocked(self, mig: specs.MigrationSpec) -> None:
        """Blocked by the backup gate: checked again at every resync, so a backup taken meanwhile (the nightly job,
        an RDS snapshot: nothing a watch would see) lets the run go on without a retry annotation. Other blocks
        (a denied downgrade or destructive change) wait for a spec change or a retry."""
        if self.status.get("reason") in BACKUP_BLOCKS:
            self._checking_backup(mig)

    def _checking_backup(self, mig: specs.MigrationSpec) -> None:
        if self._backing_off():
            return
        try:
            provider = self.providers(mig.backup, self.namespace, self._run_id())
            check, backup = gate.check(
                provider, policy=mig.backup.gate_policy, max_age=mig.backup.max_age, now=self.now
            )
        except backups.BackupPending as pending:
            self._backup_pending(str(pending))
            return
        except backups.BackupUnavailable as unavailable:
            self._backup_unavailable(str(unavailable))
            return
        except base.BackupError as exc:  # raised building the provider: its credentials Secret went missing
            self._backup_blocked("BackupError", f"Backup check failed: {exc}")
            return
        except errors.SafetyGateError as exc:
            message = exc.message.lstrip("✗ ")
            reason = "BackupTooOld" if "too old" in message else "NoBackup" if "No backup" in message else "BackupError"
            self._backup_blocked(reason, message)
            return
        for field in ("retries", "retryAfter"):  # the Jobs' retries are counted afresh
            self.status.pop(field, None)
        if backup is None:
            self._detail(conds.BACKUP_VERIFIED, "False", "Skipped", "backup check skipped (policy Skip)")
        else:
            self.status["backup"] = {
                "provider": backup.provider,
                "takenAt": _iso(backup.taken_at),
                "description": backup.description[: results.MAX_MESSAGE],
                "checkedAt": _iso(self.now),
            }
            self._detail(conds.BACKUP_VERIFIED, "True", "BackupFresh", f"{backup.description}: {check.message}")
        self._move("Planning", "Planning", "running dbmigrate plan")

    def _backup_blocked(self, reason: str, message: str) -> None:
        self._detail(conds.BACKUP_VERIFIED, "False", reason, message)
        self._move("Blocked", reason, message, wait=None)

    def _backup_unavailable(self, message: str) -> None:
        """The provider's API had passing trouble: ask again with backoff (Progressing in Argo CD, where Degraded
        would fail the sync); after the retry limit, Blocked like any backup error, and looked at every resync."""
        delay = self._schedule_retry(new_attempt=False)
        if delay is None:
            self._give_up(conds.BACKUP_VERIFIED, "BackupError", message, phase="Blocked")
            return
        self._detail(conds.BACKUP_VERIFIED, "Unknown", "BackupUnavailable", message)
        text = f"BackupUnavailable: {message}; retry {self.status['retries']} in {delay:.0f}s"
        self._move("CheckingBackup", "Retrying", text, wait=delay)

    def _backup_pending(self, message: str) -> None:
        record = self.status.setdefault("backup", {})
        requested = _parse_time(record.setdefault("requestedAt", _iso(self.now)))
        if self.now - requested > timedelta(seconds=self.settings.backup_timeout_seconds):
            text = f"backup not usable after {self.settings.backup_timeout_seconds:.0f}s: {message}"
            self._detail(conds.BACKUP_VERIFIED, "False", "BackupTimeout", text)
            self._move("Failed", "BackupTimeout", text, wait=None)
            return
        self._detail(conds.BACKUP_VERIFIED, "Unknown", "BackupInProgress", message)
        self._move("CheckingBackup", "CreatingBackup", message, wait=self.settings.poll_seconds)

    def _planning(self, mig: specs.MigrationSpec) -> None:
        down = self.status.get("direction") == "down"
        result = self._job(mig, jobs.Step("plan-down" if down else "plan"))
        if result is None:
            return
        current = result.text("current_version")
        if not down and results.is_downgrade(target=mig.target, current=current):
            if not mig.allow_down:
                text = f"target {mig.target} is below the applied version {current}; set allowDown: true to revert"
                self._detail(conds.PLANNED, "False", "DowngradeNotAllowed", text)
                self._move("Blocked", "DowngradeNotAllowed", text, wait=None)
                return
            self.status["direction"] = "down"
            self._move("Planning", "PlanningDowngrade", f"planning the downgrade from {current} to {mig.target}")
            return
        if not result.ok:
            self._failed(result, condition=conds.PLANNED)
            return
        plan = results.plan_status(result, direction="down" if down else "up")
        pending = result.count("pending")
        self.status.update(plan=plan, pendingCount=pending)
        if current is not None:
            self.status["appliedVersion"] = current
        if plan["pending"] and mig.target == specs.LATEST:
            self.status["target"] = plan["pending"][-1]  # the newest: a trimmed list keeps it
        verb = "revert" if down else "apply"
        summary = f"{pending} to {verb}, {plan['blocking']} blocking finding(s), plan {plan['hash']}"
        self._detail(conds.PLANNED, "True", "Planned", summary)
        if not plan["pending"]:
            self._detail(conds.APPROVED, "True", "NothingToApprove", "no pending migrations")
            self._detail(conds.MIGRATED, "True", "UpToDate", "nothing pending")
            self._move("Verifying", "Verifying", "up to date; verifying the schema")
        elif mig.dry_run:
            self._detail(conds.MIGRATED, "False", "DryRun", "dryRun: planned only")
            self._move("Succeeded", "DryRun", f"dry run: {summary}", wait=None)
        else:
            self._awaiting_approval(mig)  # decided in the same move: no half-decided AwaitingApproval is ever seen

    def _awaiting_approval(self, mig: specs.MigrationSpec) -> None:
        plan = self.status["plan"]
        blocking = int(plan.get("blocking", 0))
        given = self.annotations.get(APPROVED_PLAN)
        if blocking == 0:
            self._approve("NoDestructiveChanges", "no destructive findings")
        elif mig.safety.destructive == "Allow":
            self._approve("DestructiveAllowed", f"{blocking} destructive finding(s) allowed by safety.destructive")
        elif mig.safety.destructive == "Deny":
            text = f"{blocking} destructive finding(s) and safety.destructive is Deny"
            self._detail(conds.APPROVED, "False", "DestructiveDenied", text)
            self._move("Blocked", "DestructiveDenied", text, wait=None)
        elif given == plan["hash"]:
            self._approve("ApprovedByAnnotation", f"plan {given} approved by annotation {APPROVED_PLAN}")
        else:
            if given and given != self.status.get("rejectedApproval"):
                self.status["rejectedApproval"] = given
                self.events.append(
                    Event(
                        "Warning",
                        "ApprovalMismatch",
                        f"{APPROVED_PLAN}={given} does not match the current plan {plan['hash']}; nothing approved",
                    )
                )
            text = f"{blocking} destructive finding(s): approve with annotation {APPROVED_PLAN}={plan['hash']}"
            self._detail(conds.APPROVED, "False", "AwaitingApproval", text)
            self._move("AwaitingApproval", "AwaitingApproval", text, wait=None)

    def _approve(self, reason: str, message: str) -> None:
        self._detail(conds.APPROVED, "True", reason, message)
        self._move("Migrating", "Migrating", f"running dbmigrate {self.status['plan'].get('direction', 'up')}")

    def _migrate_job_exists(self) -> bool:
        """Whether the current attempt's migrate Job was created (running or finished, not yet read)."""
        name = jobs.job_name(self._run_id(), jobs.Step("migrate"))
        return self.world.job_state(self.namespace, name).exists

    def _approval_withdrawn(self, mig: specs.MigrationSpec) -> bool:
        """The plan needed the approval annotation (the spec is unchanged, else the run restarted) and it no
        longer names the plan: removed, rejected, or replaced by another hash."""
        plan = self.status["plan"]
        needed = mig.safety.destructive == "RequireApproval" and int(plan.get("blocking", 0)) > 0
        return needed and self.annotations.get(APPROVED_PLAN) != plan["hash"]

    def _migrating(self, mig: specs.MigrationSpec) -> None:
        plan = self.status["plan"]
        if self._approval_withdrawn(mig) and not self._migrate_job_exists():
            self._awaiting_approval(mig)  # a started Job cannot be recalled; an attempt not started yet can
            return
        job = jobs.Step(
            "migrate",
            direction=plan.get("direction", "up"),
            plan_hash=plan["hash"],
            allow_destructive=int(plan.get("blocking", 0)) > 0,
        )
        result = self._job(mig, job)
        if result is None:
            return
        for warning in result.warnings():
            self.events.append(Event("Warning", "RunWarning", f"{warning['name']}: {warning['message']}"))
        rolled_back = result.strings("rolled_back")
        done_key = "reverted" if job.direction == "down" else "applied"
        done = result.strings(done_key)
        record: dict[str, Any] = {
            "applied": done,
            "rolledBack": rolled_back,
            "exitCode": result.exit_code,
            "finishedAt": _iso(self.now),
        }
        if result.truncated(done_key):
            record["appliedTruncated"] = result.truncated(done_key)
        if not result.ok:
            record.update(errorType=result.error_type, errorMessage=result.error_message)
        self.status["migration"] = record
        if result.text("current_version") is not None:
            self.status["appliedVersion"] = result.text("current_version")
        if result.ok:
            self.status["pendingCount"] = 0
            verb, listed = done_key, ", ".join(done) or "nothing"
            if result.truncated(done_key):
                listed = f"{result.count(done_key)} migrations (the last: {listed})"
            self._detail(conds.MIGRATED, "True", "Applied", f"{verb} {listed}")
            self._move("Verifying", "Verifying", "verifying the schema")
        elif result.exit_code == errors.ExitCode.SAFETY_GATE:
            self._replan(result)
        elif result.left_dirty:  # no retry: every run refuses a dirty database until someone repairs it
            text = (
                f"{result.error_message}; the database is dirty: check it by hand, run `dbmigrate repair` "
                "against it, then `kubectl dbmigrate retry`"
            )
            self._detail(conds.MIGRATED, "False", "Dirty", text)
            self._move("Failed", "Dirty", text, wait=None)
        elif result.count("rolled_back") or (
            result.exit_code == errors.ExitCode.MIGRATION_FAILED and not result.count("applied")
        ):
            text = f"{result.error_message}; rolled back {', '.join(rolled_back) or 'the failed migration'}"
            self._detail(conds.MIGRATED, "False", "RolledBack", text)
            self._move("RolledBack", "MigrationFailed", text, wait=None)
        else:
            self._failed(result, condition=conds.MIGRATED)

    def _replan(self, result: results.Result) -> None:
        """The database no longer matches the approved plan (exit 3 with --approve): plan (and approve) afresh."""
        if self._schedule_retry(new_attempt=True) is None:
            self._give_up(conds.MIGRATED, result.reason, result.error_message)
            return
        for field in ("plan", "direction", "rejectedApproval", "retryAfter"):
            self.status.pop(field, None)
        self._detail(conds.MIGRATED, "False", "PlanChanged", result.error_message)
        self._detail(conds.PLANNED, "Unknown", "PlanChanged", "planning again")
        self._detail(conds.APPROVED, "Unknown", "PlanChanged", "the approved plan is outdated")
        self._move("Planning", "PlanChanged", f"the plan changed before it was applied: {result.error_message}")

    def _verifying(self, mig: specs.MigrationSpec) -> None:
        result = self._job(mig, jobs.Step("verify"))
        if result is None:
            return
        problems = results.problems(result)
        integrity = result.document.get("integrity_ok")
        self.status["schema"] = {
            "fingerprint": result.text("fingerprint") or "",
            "integrityOk": bool(integrity),
            "problems": problems,
            "verifiedAt": _iso(self.now),
        }
        if result.ok and integrity is not False:
            self._detail(conds.SCHEMA_VERIFIED, "True", "Verified", f"fingerprint {result.text('fingerprint')}")
            applied = self.status.get("appliedVersion") or "none"
            self._move("Succeeded", "Succeeded", f"schema at version {applied}, verified", wait=None)
        elif result.exit_code in results.RETRYABLE:
            self._failed(result, condition=conds.SCHEMA_VERIFIED)
        else:
            text = "; ".join(problems) or result.error_message
            self._detail(conds.SCHEMA_VERIFIED, "False", "VerificationFailed", text)
            self._move("Failed", "VerificationFailed", text, wait=None)

    # -- jobs and failures ----------------------------------------------------------------------------------

    def _job(self, mig: specs.MigrationSpec, job: jobs.Step) -> results.Result | None:
        """The finished Job's result; None while it is being started or runs (``self.wait`` set)."""
        if self._backing_off():
            return None
        run = self._run_id()
        name = jobs.job_name(run, job)
        state = self.world.job_state(self.namespace, name)
        self.wait = self.settings.poll_seconds
        if not state.exists:
            manifest = jobs.manifest(owner=self.obj, mig=mig, step=job, run=run, settings=self.settings)
            try:
                created = self.world.ensure_job(manifest)
            except cluster.JobRejected as rejected:  # tried again now and then: a quota may free up
                text = f"the API server rejected Job {name}: {rejected}"
                self._stalled_on("JobRejected", text, wait=self.settings.retry_max_seconds)
                return None
            self.status["job"] = name
            if created:  # else an earlier operator process created it, and said so
                self.events.append(Event("Normal", "JobCreated", f"started Job {name}"))
            self._job_going(name)
            return None
        if not state.finished:
            self._job_waiting(name, state.waiting)
            return None
        self.status.pop("retryAfter", None)
        self.wait = 0
        return results.parse(exit_code=state.exit_code, message=state.message)

    def _job_waiting(self, name: str, waiting: cluster.Waiting | None) -> None:
        """A Job whose pod does not start: Stalled (and still watched) when it cannot without help, per
        CANNOT_START; other waiting reasons are only shown (JobWaiting). Once it starts, the phase's reason is back.
        The message of a stall is kept while its reason stays: the kubelet alternates ErrImagePull and
        ImagePullBackOff, which would otherwise be an Event each time."""
        if waiting is None:
            self._job_going(name)
            return
        text = f"Job {name} cannot start: {waiting}"
        stall = CANNOT_START.get(waiting.reason)
        if stall is None or self.now - waiting.since < stall[1]:
            self._move(self.status["phase"], "JobWaiting", text, wait=self.settings.poll_seconds)
            return
        reason = stall[0]
        held = self.status["message"] if self.status.get("reason") == reason else text
        self._stalled_on(reason, held, wait=self.settings.poll_seconds)

    def _job_going(self, name: str) -> None:
        """The Job trouble shown before is over: back to the phase's own reason."""
        if self.status.get("reason") in JOB_TROUBLE:
            phase = self.status["phase"]
            self._move(phase, phase, f"Job {name} started", wait=self.settings.poll_seconds)

    def _failed(self, result: results.Result, *, condition: str) -> None:
        """A failed step: retried with backoff when the database was busy or unreachable, else Failed."""
        if result.exit_code not in results.RETRYABLE:
            self._detail(condition, "False", result.reason, result.error_message)
            self._move("Failed", result.reason, result.error_message, wait=None)
        elif (delay := self._schedule_retry(new_attempt=True)) is None:
            self._give_up(condition, result.reason, result.error_message)
        else:
            text = f"{result.reason}: {result.error_message}; retry {self.status['retries']} in {delay:.0f}s"
            self._move(self.status["phase"], "Retrying", text, wait=delay)

    def _backing_off(self) -> bool:
        """Whether a scheduled retry is not due yet (``self.wait`` then says for how long)."""
        retry_after = self.status.get("retryAfter")
        if retry_after and _parse_time(retry_after) > self.now:
            self.wait = (_parse_time(retry_after) - self.now).total_seconds()
            return True
        return False

    def _schedule_retry(self, *, new_attempt: bool) -> float | None:
        """Book one more automatic retry with exponential backoff: its delay, or None once the limit is reached.
        A Job is retried under a new attempt (a Job of its own); a backup check asks the same provider again, so
        a backup it is creating keeps its name."""
        retries = int(self.status.get("retries", 0))
        if retries >= self.settings.retry_limit:
            return None
        delay = float(min(self.settings.retry_base_seconds * 2**retries, self.settings.retry_max_seconds))
        self.status.update(retries=retries + 1, retryAfter=_iso(self.now + timedelta(seconds=delay)))
        if new_attempt:
            self.status["attempt"] = int(self.status.get("attempt", 0)) + 1
        return delay

    def _give_up(self, condition: str, reason: str, message: str, *, phase: str = "Failed") -> None:
        """The retry limit is reached: a final phase (Stalled)."""
        text = f"gave up after {self.status.get('retries', 0)} retries: {message}"
        self._detail(condition, "False", reason, text)
        self._move(phase, reason, text, wait=None)
