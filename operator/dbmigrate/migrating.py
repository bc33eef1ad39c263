"""A migration run from start to end: choose the migrations, pass the safety gates, apply, roll back, verify.

Order matters and is the safety model: everything that can refuse (drift, backup, destructive changes, a changed
plan) refuses before the first statement runs; once running, a failure rolls the whole run back through the down
parts and proves it by comparing schema fingerprints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

import sqlalchemy

from dbmigrate import (
    applying,
    backups,
    config,
    errors,
    history,
    outcome,
    planning,
    progress,
    session,
    state,
    verification,
)
from dbmigrate.backups import gate
from dbmigrate.dialects import base
from dbmigrate.schema import diff as schema_diff
from dbmigrate.schema import fingerprint as fingerprints
from dbmigrate.schema import model as schema_model
from dbmigrate.sources import model


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the user asked of this run, beyond the settings shared by every action."""

    target: str | None = None
    steps: int | None = None
    out_of_order: bool = False
    dry_run: bool = False
    allow_destructive: bool = False
    approve: str | None = None
    rollback_on_failure: bool = True
    fail_on_drift: bool = False
    expected_fingerprint: str | None = None


def migrate(
    settings: config.Settings,
    migrations: list[model.Migration],
    *,
    direction: str,
    options: RunOptions,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    """Run ``migrations`` (all known files) ``up`` or ``down`` as ``options`` say, filling ``result``."""
    with session.open_session(settings, result, lock=True, create_history=not options.dry_run) as (
        conn,
        dialect,
        table,
    ):
        current = state.compute(migrations, table.rows())
        current.check_clean(allow_out_of_order=options.out_of_order or direction == "down")
        if current.ahead:
            versions = ", ".join(row.version for row in current.ahead)
            message = f"The database is ahead of these files: applied migration(s) {versions} have no file"
            result.checks.append(outcome.Check("ahead", True, message, warning=True))
        result.details["current_version"] = current.current_version
        todo = select(current, migrations, direction=direction, options=options)
        schema_before = verification.read(conn, dialect, history_table=table.table)
        plan = planning.build(
            url=settings.url,
            dialect=dialect,
            direction=direction,
            migrations=todo,
            schema=schema_before,
            rollback=options.rollback_on_failure and direction == "up",
        )
        result.details["plan"] = plan.to_json()
        _gates(
            settings,
            conn,
            dialect,
            plan=plan,
            options=options,
            schema=schema_before,
            history_table=table.table,
            later=len(current.pending) - len(todo) if direction == "up" else 0,
            result=result,
        )
        report.checks(result.checks)
        if options.dry_run:
            planning.dry_run(
                conn,
                dialect,
                plan=plan,
                read_schema=lambda: verification.read(conn, dialect, history_table=table.table),
            )
            result.details["plan"] = plan.to_json()
            _dry_run_failure(plan, result)
            return
        dialect.set_timeouts(
            conn, lock_timeout=settings.apply.lock_timeout, statement_timeout=settings.apply.statement_timeout
        )
        applier = applying.Applier(conn=conn, dialect=dialect, table=table, options=settings.apply, report=report)
        applied: list[model.Migration] = []
        try:
            _apply(todo, direction=direction, applier=applier, result=result, report=report, applied=applied)
        except errors.MigrationError as exc:
            result.history_updated |= exc.left_dirty  # the dirty mark is a history change too
            if options.rollback_on_failure and direction == "up" and applied:
                if exc.left_dirty:
                    result.checks.append(_kept_under_dirty(applied))
                else:
                    exc.left_dirty = _roll_back(
                        conn,
                        dialect,
                        table=table,
                        applier=applier,
                        applied=applied,
                        result=result,
                        before=schema_before,
                    )
            raise
        finally:
            _verify(
                conn,
                dialect,
                table=table,
                migrations=migrations,
                options=options,
                direction=direction,
                result=result,
            )
        _after_run(result, options=options, direction=direction)


def _after_run(result: outcome.Outcome, *, options: RunOptions, direction: str) -> None:
    """A run that succeeded still fails (exit 5, as `verify` would) on the schema check after it: the schema it
    left is not the expected one, or has integrity failures (NOT VALID constraints are warnings, not failures)."""
    verified: dict[str, Any] = result.details.get("verify") or {}
    if options.expected_fingerprint and verified.get("fingerprint") != options.expected_fingerprint:
        raise errors.DriftError(
            f"✗ the run succeeded, but the schema fingerprint {verified.get('fingerprint')} differs from the "
            f"expected {options.expected_fingerprint}",
            hint="to see what differs, compare `dbmigrate verify --show-schema --output json` (its verify.schema) "
            "here with the same on the database the expected fingerprint was taken from",
        )
    if verified.get("ok") is False:
        done = sum(1 for m in result.migrations if m.direction == direction and m.status in ("applied", "reverted"))
        problems = f"{len(verified['problems'])} problem(s): {'; '.join(verified['problems'])}"
        if not done:
            raise errors.DriftError(f"✗ nothing to run, but the schema check found {problems}", hint=_FIX_HINT)
        verb = "applied" if direction == "up" else "reverted"
        raise errors.DriftError(
            f"✗ {done} migration(s) {verb}, but the schema check after them found {problems}",
            hint=f"the migrations stay {verb} (the history records them); {_FIX_HINT}",
        )


_FIX_HINT = "fix each problem as it says, then `dbmigrate verify`"


def _gates(
    settings: config.Settings,
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    plan: planning.Plan,
    options: RunOptions,
    schema: schema_model.Schema,
    history_table: str,
    later: int,
    result: outcome.Outcome,
) -> None:
    """Every check that may refuse the run, in the order the report shows them (``later``: pending migrations
    beyond the target, which this run leaves)."""
    drift = verification.drift(
        conn,
        dialect,
        history_table=history_table,
        live=schema,
        fingerprint=fingerprints.fingerprint(schema),
        baseline=verification.recorded(conn, dialect, history_table),
    )
    result.details["drift"] = drift.to_json()
    if drift.check.ok is False and options.fail_on_drift:
        raise errors.DriftError(f"✗ {drift.check.message}", hint=verification.DRIFT_HINT)
    result.checks.append(_backup_check(settings, plan=plan, options=options, result=result))
    result.checks.append(outcome.Check("pending", True, _count(plan, later=later, target=options.target)))
    if plan.findings:
        if options.dry_run and plan.blocking and options.approve is None and not options.allow_destructive:
            # A dry run never refuses: it says what the run would need instead.
            needs = f"{len(plan.blocking)} destructive change(s): a run needs the plan hash below approved"
            result.checks.append(outcome.Check("destructive", True, needs, warning=True))
        else:
            approval = planning.enforce_approval(
                plan, allow_destructive=options.allow_destructive, approve=options.approve
            )
            result.checks.append(outcome.Check("destructive", True, approval))
        risky = [f for f in plan.findings if f.severity != "destructive" or f.allowed]
        if risky:
            rules = ", ".join(sorted({f.rule for f in risky}))
            result.checks.append(
                outcome.Check("risky", True, f"{len(risky)} risky statement(s): {rules}", warning=True)
            )
    elif options.approve is not None:
        planning.enforce_approval(plan, allow_destructive=False, approve=options.approve)
    if drift.check.ok is False:
        result.checks.append(dataclasses.replace(drift.check, warning=True))


def _dry_run_failure(plan: planning.Plan, result: outcome.Outcome) -> None:
    """A statement that failed in the dry run fails the plan (exit 1), so that a CI job gating on `plan` stops a
    run that would fail; only a warning when statements skipped before it (outside-a-transaction ones the dry run
    cannot execute) may be what it needs."""
    failed = next((i for i, run in enumerate(plan.statements) if run.status == "error"), None)
    if failed is None:
        return
    run = plan.statements[failed]
    where = f"the dry run failed at {run.file}:{run.line}: {run.statement}\n  {run.error}"
    if any(earlier.status == "skipped" for earlier in plan.statements[:failed]):
        text = f"{where}\n  statements before it were skipped (no-transaction), so a run may still succeed"
        result.checks.append(outcome.Check("dry_run", True, text, warning=True))
        return
    raise errors.MigrationError(
        f"{where}\n  a run would fail there; nothing was changed (the dry run was rolled back)",
        hint="fix the migration before running it",
    )


def _count(plan: planning.Plan, *, later: int, target: str | None) -> str:
    count = len(plan.migrations)
    plural = "s" if count != 1 else ""
    if plan.direction == "down":
        return f"{count} migration{plural} to revert"
    if count == 0:
        if later:
            return f"No pending migrations up to target {target}; {later} more after it, left pending"
        return "No pending migrations (up to date)"
    beyond = f"; {later} more after target {target}, left pending" if later else ""
    return f"{count} pending migration{plural}{beyond}"


def _backup_check(
    settings: config.Settings, *, plan: planning.Plan, options: RunOptions, result: outcome.Outcome
) -> outcome.Check:
    """The backup gate; with nothing configured it says so rather than pretending a check passed."""
    provider = backups.provider_for(settings)
    policy = settings.backup.policy or ("require" if provider else None)
    if policy is None:
        return outcome.Check("backup", None, "Backup not checked (no backup policy configured)")
    if not plan.migrations or options.dry_run:
        return outcome.Check("backup", None, "Backup not checked (nothing will be changed)")
    check, backup = gate.check(provider, policy=policy, max_age=settings.backup.max_age)
    if backup is not None:
        result.details["backup"] = backup.to_json()
    return check


def _apply(
    todo: list[model.Migration],
    *,
    direction: str,
    applier: applying.Applier,
    result: outcome.Outcome,
    report: progress.Progress,
    applied: list[model.Migration],
) -> None:
    """Run ``todo`` in order, appending each one that completed to ``applied`` (what a rollback must undo)."""
    # Closed on any exception here (a failed report, Ctrl-C): the applier then stops what it queued ahead.
    with contextlib.closing(applier.run(todo, direction=direction)) as runs:
        for index, migration in enumerate(todo, start=1):
            report.migration_started(index=index, total=len(todo), label=_label(migration, direction))
            started = time.monotonic()
            try:
                done, seconds = next(runs)
            except (errors.MigrationError, KeyboardInterrupt) as exc:  # Ctrl-C, SIGTERM: statement cancelled
                elapsed = time.monotonic() - started
                message = (exc if isinstance(exc, errors.MigrationError) else errors.interrupted(exc)).message
                report.migration_failed(seconds=elapsed, message=message)
                result.migrations.append(_result(migration, direction, "failed", elapsed, error=message))
                raise
            assert done is migration, "migrations complete in order"
            applied.append(migration)
            result.history_updated = True
            report.migration_finished(seconds=seconds)
            status = "applied" if direction == "up" else "reverted"
            result.migrations.append(_result(migration, direction, status, seconds))


def _kept_under_dirty(applied: list[model.Migration]) -> outcome.Check:
    """Why the run's earlier migrations stay: reverting what lies under a half-applied migration would leave it
    stranded above a gap once it is completed by hand and marked applied, as the repair hint allows."""
    files = ", ".join(migration.filename for migration in applied)
    return outcome.Check(
        "rollback",
        False,
        f"Not attempted: the failed migration is dirty, so the ones beneath it stay applied ({files})",
    )


def _roll_back(
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    table: history.History,
    applier: applying.Applier,
    applied: list[model.Migration],
    result: outcome.Outcome,
    before: schema_model.Schema,
) -> bool:
    """Undo the migrations this run applied, newest first, then prove the schema is back where it started.
    Returns whether a revert stopped half-way and left its migration dirty."""
    with contextlib.suppress(*_CONNECTION_GONE):  # the down parts will say so
        dialect.restore_session(conn)
    results = {r.version: r for r in result.migrations if r.status == "applied"}
    reverted: list[str] = []
    for migration in reversed(applied):
        try:
            seconds = applier.down(migration)
        except errors.MigrationError as exc:
            result.checks.append(
                outcome.Check("rollback", False, f"Rollback stopped at {migration.filename}: {exc.message}")
            )
            return exc.left_dirty
        results[migration.version].status = "rolled_back"
        result.migrations.append(_result(migration, "down", "reverted", seconds))
        reverted.append(migration.version)
    after = verification.read(conn, dialect, history_table=table.table)
    changes = schema_diff.diff(before, after)
    if changes:
        message = f"Rolled back {len(reverted)} migration(s) but the schema differs: {schema_diff.summarize(changes)}"
        result.checks.append(outcome.Check("rollback", False, message))
    elif reverted:
        result.checks.append(
            outcome.Check("rollback", True, f"Rolled back {len(reverted)} migration(s); schema matches the start")
        )
    result.details["rolled_back"] = reverted
    return False


#: What SQLAlchemy raises on a lost connection: the driver's error, then PendingRollbackError once invalidated.
_CONNECTION_GONE = (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.InvalidRequestError)


def _verify(
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    table: history.History,
    migrations: list[model.Migration],
    options: RunOptions,
    direction: str,
    result: outcome.Outcome,
) -> None:
    """Verify after every run (also a failed one: the report must say what state it left). The fingerprint and its
    snapshot are recorded only by a run that kept a change (a migration applied or reverted and not rolled back,
    or one left dirty) or when no comparable baseline is recorded yet: a run that changed nothing, or undid all it
    did, must not make drift the baseline (``repair --accept-schema`` does)."""
    try:
        dialect.restore_session(conn)
        current = state.compute(migrations, table.rows())
        verified = verification.verify(
            conn, dialect, history_table=table.table, current=current, expected=options.expected_fingerprint
        )
        kept = any(m.direction == direction and m.status in ("applied", "reverted") for m in result.migrations)
        if kept or current.dirty or verified.recorded is None or not verified.recorded.has_snapshot:
            verification.record(
                conn, dialect, history_table=table.table, fingerprint=verified.fingerprint, schema=verified.schema
            )
    except _CONNECTION_GONE:
        return  # the connection is gone; the run's own error says why
    result.checks.append(verified.check())
    result.details["verify"] = verified.to_json()
    result.details["current_version"] = current.current_version


def select(
    current: state.State, migrations: list[model.Migration], *, direction: str, options: RunOptions
) -> list[model.Migration]:
    """The migrations this run will apply (pending up to the target) or revert (newest first)."""
    if direction == "up":
        wanted = state.target_key(options.target, migrations) if options.target else None
        return [m for m in current.pending if wanted is None or m.sort_key <= wanted]
    return _to_revert(current, migrations, target=options.target, steps=options.steps)


def _to_revert(
    current: state.State, migrations: list[model.Migration], *, target: str | None, steps: int | None
) -> list[model.Migration]:
    applied = sorted(current.applied, key=lambda m: m.sort_key, reverse=True)
    if current.ahead:  # reverting the newest file would go beneath migrations applied on top of it
        versions = ", ".join(row.version for row in current.ahead)
        raise errors.UsageError(
            f"the database is ahead of these files: applied migration(s) {versions} have no file, so nothing "
            "beneath them can be reverted",
            hint="run `down` from the release whose files include them",
        )
    baseline = current.baseline.version if current.baseline is not None else None
    if target is None:
        todo = state.newest(applied, steps, baseline=baseline)
    else:
        wanted = (0,) if target == "0" else state.target_key(target, migrations)
        if baseline is not None and wanted < model.version_key(baseline):
            raise errors.UsageError(
                f"refusing to go below the baseline {baseline}: "
                "migrations up to it were never run by dbmigrate and cannot be reverted"
            )
        todo = [m for m in applied if m.sort_key > wanted]
    irreversible = [m.filename for m in todo if m.down is None]
    if irreversible:  # refused up front: reverting the ones above it first would leave the run half done
        raise errors.UsageError(
            f"cannot revert {', '.join(irreversible)}: no down part (irreversible); nothing was reverted",
            hint="add a down part (NNN_name.down.sql, `-- migrate:down`, or a U file), or choose a target above it",
        )
    return todo


def _label(migration: model.Migration, direction: str) -> str:
    script = migration.up if direction == "up" else migration.down
    return script.filename if script is not None else migration.filename


def _result(
    migration: model.Migration, direction: str, status: str, seconds: float, *, error: str | None = None
) -> outcome.MigrationResult:
    return outcome.MigrationResult(
        version=migration.version,
        name=migration.name,
        file=_label(migration, direction),
        direction=direction,
        status=status,
        seconds=round(seconds, 3),
        error=error,
    )
