"""The ``up``, ``down``, ``status`` and ``history`` actions for framework projects, inside dbmigrate's run.

The framework does the migrating; dbmigrate wraps it the same way as its own SQL files: the per-database run
lock (so two runners on one database take turns), the checks preamble, one timed progress line and one
:class:`outcome.MigrationResult` per step, a failed run's earlier steps reverted (through the framework's own
downgrades), and errors as :class:`errors.MigrationError` without secrets.

The framework opens connections of its own. Our session connection stays idle and autocommit meanwhile, so on
SQLite (whose run lock is a lock file, not a database lock) it holds no transaction the framework waits on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

from dbmigrate import backups, config, dburl, errors, outcome, progress, session
from dbmigrate.backups import gate
from dbmigrate.frameworks import base, output
from dbmigrate.sources import detect

if TYPE_CHECKING:
    from dbmigrate import migrating

#: Where a framework keeps the database it names, for the projects whose setting dbmigrate cannot read.
_UNREAD = {
    "rails": "config/database.yml, which dbmigrate does not read",
    "flyway": "the Flyway configuration, which dbmigrate does not read",
}


def up(
    settings: config.Settings,
    detection: detect.Detection,
    *,
    options: migrating.RunOptions,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    """Apply the framework's pending steps up to ``options.target`` (all when None), one by one, under the lock;
    with ``options.rollback_on_failure``, a failure reverts the steps this run applied, newest first."""
    _describe(detection, result)
    settings = _database(settings, detection, result)
    with session.open_session(settings, result, lock=True), _opened(settings, detection, result) as adapter:
        todo = adapter.steps_pending(options.target)
        _gates(settings, todo, direction="up", detection=detection, options=options, result=result)
        report.checks(result.checks)
        applied: list[base.Step] = []
        try:
            _run(
                todo, direction="up", step=adapter.apply, settings=settings, result=result, report=report, done=applied
            )
        except errors.MigrationError as exc:
            if options.rollback_on_failure and applied:
                failed = todo[len(applied)]
                if failed.transactional:
                    _roll_back(adapter, applied, settings=settings, result=result)
                else:
                    result.checks.append(_kept_under_half_applied(applied))
            raise exc from None


def down(
    settings: config.Settings,
    detection: detect.Detection,
    *,
    options: migrating.RunOptions,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    """Revert the newest ``options.steps`` applied steps (default one) or all above ``options.target``, under the
    run lock; only with ``--allow-destructive``, since their downgrade code cannot be analysed."""
    _describe(detection, result)
    settings = _database(settings, detection, result)
    with session.open_session(settings, result, lock=True), _opened(settings, detection, result) as adapter:
        todo = adapter.steps_to_revert(options.target, options.steps)
        irreversible = [step.label for step in todo if not step.reversible]
        if irreversible:
            raise errors.UsageError(
                f"cannot revert {', '.join(irreversible)}: it has no reverse operation",
                hint="nothing was reverted; give the migration a reverse (or go down to a target above it)",
            )
        _gates(settings, todo, direction="down", detection=detection, options=options, result=result)
        report.checks(result.checks)
        _run(todo, direction="down", step=adapter.revert, settings=settings, result=result, report=report, done=[])


def status(settings: config.Settings, detection: detect.Detection, *, result: outcome.Outcome) -> None:
    """Where the database stands in the framework's own history; read-only, so without the run lock."""
    _describe(detection, result)
    settings = _database(settings, detection, result)
    with session.open_session(settings, result, lock=False), _opened(settings, detection, result) as adapter:
        heads = adapter.current()
        applied = adapter.applied()
        missing = adapter.unknown()
        listing = adapter.describe()
        try:
            # A delegated tool's own listing replaces ours: it alone knows what is pending.
            pending = adapter.steps_pending(None) if listing is None else []
        except errors.DriftError:
            if not missing:
                raise
            pending = []  # Alembic cannot plan above a revision the code does not have; status still lists it
    result.details["status"] = {
        "current_version": ",".join(heads) or None,
        "applied": applied,
        "pending": [
            {
                "version": step.key,
                "name": step.name,
                "file": step.label,
                "reversible": step.reversible,
                "transactional": step.transactional,
            }
            for step in pending
        ],
        "out_of_order": [],
        "edited": [],
        "missing": missing,
        "dirty": [],
        "baseline": None,
        **({"output": listing} if listing is not None else {}),
    }
    result.details["migrations_total"] = len(applied) + len(pending)


def history(settings: config.Settings, detection: detect.Detection, *, result: outcome.Outcome) -> None:
    """The framework's own record of what is applied (dbmigrate's history table has no rows for it)."""
    _describe(detection, result)
    settings = _database(settings, detection, result)
    with session.open_session(settings, result, lock=False), _opened(settings, detection, result) as adapter:
        rows = adapter.history()
        listing = adapter.describe() if rows is None else None
    result.details["history"] = rows or []
    if listing is not None:
        result.details["output"] = listing


def _describe(detection: detect.Detection, result: outcome.Outcome) -> None:
    if result.framework is None:
        result.framework = detection.to_json()


def _database(settings: config.Settings, detection: detect.Detection, result: outcome.Outcome) -> config.Settings:
    """The database to run on: the one given (a check says when it is not the one the project names), else the
    project's own. Never dbmigrate's embedded SQLite default: a framework project's database is elsewhere."""
    source = _UNREAD.get(detection.framework) or (
        "alembic.ini" if detection.framework == "alembic" else "Django settings"
    )
    try:
        configured = _configured_url(settings, detection)
    except errors.UsageError:
        if settings.url_source == "default":
            raise
        configured = None  # the database was given; the project's own (unusable) one is not needed
    if settings.url_source == "default":
        if configured is None:
            raise errors.UsageError(
                f"no database given for {detection.project}, and none could be read from {source}",
                hint="pass --database URL, set DATABASE_URL, or put `database:` in dbmigrate.yaml "
                "(dbmigrate's own SQLite default is never used for a framework project)",
            )
        result.checks.append(
            outcome.Check("database", True, f"Database from {source}: {dburl.redacted(configured)} (none given)")
        )
        return dataclasses.replace(settings, url=configured, url_source=source)
    if configured is not None and configured != settings.url:
        result.checks.append(
            outcome.Check(
                "database",
                True,
                f"{settings.url_source} overrides the database in {source} ({dburl.redacted(configured)})",
                warning=True,
            )
        )
    return settings


def _configured_url(settings: config.Settings, detection: detect.Detection) -> URL | None:
    if detection.framework == "alembic":
        with _imported(detection):
            from dbmigrate.frameworks import alembic

        return alembic.configured_url(settings.project_dir)
    if detection.framework == "django":
        with _imported(detection):
            from dbmigrate.frameworks import django

        return django.configured_url(settings, detection)
    return None


@contextlib.contextmanager
def _opened(settings: config.Settings, detection: detect.Detection, result: outcome.Outcome) -> Iterator[base.Adapter]:
    """The framework's adapter; the report's directory becomes where the framework keeps its migrations."""
    with _adapter(settings, detection) as adapter:
        if result.framework is not None:
            result.framework["directory"] = str(adapter.location)
        yield adapter


def _adapter(settings: config.Settings, detection: detect.Detection) -> contextlib.AbstractContextManager[base.Adapter]:
    """The framework's adapter, imported only when used: Alembic and Django are optional installs."""
    if detection.framework == "alembic":
        with _imported(detection):
            from dbmigrate.frameworks import alembic
        return alembic.adapter(settings, detection)
    if detection.framework == "django":
        with _imported(detection):
            from dbmigrate.frameworks import django
        return django.adapter(settings, detection)
    if detection.framework in ("rails", "flyway"):
        from dbmigrate.frameworks import external

        return external.adapter(settings, detection)
    raise errors.UsageError(f"no framework adapter for {detection.framework!r}")


@contextlib.contextmanager
def _imported(detection: detect.Detection) -> Iterator[None]:
    try:
        yield
    except ModuleNotFoundError as exc:
        raise errors.UsageError(
            f"this is {detection.project} ({detection.reason}) but {exc.name} is not installed",
            hint="install dbmigrate with its framework support: pip install 'dbmigrate[frameworks]'",
        ) from None


def _run(
    todo: list[base.Step],
    *,
    direction: str,
    step: Callable[[base.Step], None],
    settings: config.Settings,
    result: outcome.Outcome,
    report: progress.Progress,
    done: list[base.Step],
) -> None:
    """Run ``todo`` in order, appending each step that completed to ``done`` (what a rollback must undo); what a
    step prints is shown after its progress line."""
    for index, item in enumerate(todo, start=1):
        report.migration_started(index=index, total=len(todo), label=item.label)
        started = time.monotonic()
        printed = io.StringIO()
        try:
            with output.captured(printed):
                step(item)
        except errors.UsageError:
            raise
        except Exception as exc:
            elapsed = time.monotonic() - started
            message = output.mask(f"{item.label}: {_message(exc)}", settings.url)
            report.migration_failed(seconds=elapsed, message=message)
            result.migrations.append(_result(item, direction, "failed", elapsed, error=message))
            raise errors.MigrationError(message, hint=_half_applied(item, settings)) from None
        else:
            elapsed = time.monotonic() - started
            done.append(item)
            result.history_updated = True
            report.migration_finished(seconds=elapsed)
            status = "applied" if direction == "up" else "reverted"
            result.migrations.append(_result(item, direction, status, elapsed))
        finally:
            output.show(printed, settings.url)


def _half_applied(step: base.Step, settings: config.Settings) -> str | None:
    """What to check when a step that was not one transaction failed: its finished statements stay."""
    if step.transactional:
        return None
    return (
        f"{step.label} did not run in one transaction on {settings.dialect} (MySQL/MariaDB commit each DDL "
        "statement), so part of it may have been applied although the framework does not record it: compare the "
        "tables, columns and indexes it creates or changes with the database, undo those changes by hand, then run "
        "again"
    )


def _roll_back(
    adapter: base.Adapter, applied: list[base.Step], *, settings: config.Settings, result: outcome.Outcome
) -> None:
    """Undo the steps this run applied, newest first, through the framework's own downgrades."""
    results = {r.version: r for r in result.migrations if r.status == "applied"}
    reverted: list[str] = []
    for step in reversed(applied):
        started = time.monotonic()
        printed = io.StringIO()
        try:
            if not step.reversible:
                raise errors.UsageError("it has no reverse operation")
            with output.captured(printed):
                adapter.revert(step)
        except Exception as exc:
            message = output.mask(_message(exc), settings.url)
            result.checks.append(outcome.Check("rollback", False, f"Rollback stopped at {step.label}: {message}"))
            result.details["rolled_back"] = reverted
            return
        finally:
            output.show(printed, settings.url)
        results[step.key].status = "rolled_back"
        result.migrations.append(_result(step, "down", "reverted", time.monotonic() - started))
        reverted.append(step.key)
    result.checks.append(
        outcome.Check("rollback", True, f"Rolled back {len(reverted)} migration(s) through their own downgrades")
    )
    result.details["rolled_back"] = reverted


def _kept_under_half_applied(applied: list[base.Step]) -> outcome.Check:
    """As for a dirty SQL migration: what lies under a half-applied step stays, so that finishing it by hand
    does not leave it above a gap."""
    files = ", ".join(step.label for step in applied)
    return outcome.Check(
        "rollback",
        False,
        f"Not attempted: the failed migration may be half-applied, so the ones beneath it stay applied ({files})",
    )


def _result(
    step: base.Step, direction: str, status: str, seconds: float, *, error: str | None = None
) -> outcome.MigrationResult:
    return outcome.MigrationResult(
        version=step.key,
        name=step.name or step.key,
        file=step.label,
        direction=direction,
        status=status,
        seconds=round(seconds, 3),
        error=error,
    )


def _message(exc: Exception) -> str:
    """The database's or framework's own words, without SQLAlchemy's wrapping and documentation links."""
    if isinstance(exc, errors.DbmigrateError):
        return exc.message
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split()) or type(exc).__name__


def _gates(
    settings: config.Settings,
    todo: list[base.Step],
    *,
    direction: str,
    detection: detect.Detection,
    options: migrating.RunOptions,
    result: outcome.Outcome,
) -> None:
    """The backup gate, the count line and the destructive-change gate, worded as for SQL files; a refused gate
    stops the run here. The framework's migrations are code dbmigrate cannot analyse: ``up`` says so, and
    ``down``, whose downgrades usually drop tables and columns with their data, needs ``--allow-destructive``."""
    result.checks.append(_backup_check(settings, changes=bool(todo), result=result))
    count = len(todo)
    if count == 0 and direction == "up":
        text = "No pending migrations (up to date)"
    elif direction == "up":
        text = f"{count} pending migration{'s' if count != 1 else ''}"
    else:
        text = f"{count} migration{'s' if count != 1 else ''} to revert"
    result.checks.append(outcome.Check("pending", True, text))
    if not todo:
        return
    unanalysed = f"{detection.project}'s migrations are code dbmigrate cannot analyse"
    if direction == "up":
        message = f"Destructive changes not checked: {unanalysed}; review them before running"
        result.checks.append(outcome.Check("destructive", None, message, warning=True))
    elif not options.allow_destructive:
        raise errors.SafetyGateError(
            f"`down` would revert {count} migration(s) ({', '.join(step.label for step in todo)}) through their own "
            f"downgrade code, which usually drops tables or columns with their data; {unanalysed}",
            hint="review what they undo (and take a backup), then run again with --allow-destructive",
        )
    else:
        message = f"Reverting {count} migration(s) allowed by --allow-destructive (not analysed: {unanalysed})"
        result.checks.append(outcome.Check("destructive", True, message))


def _backup_check(settings: config.Settings, *, changes: bool, result: outcome.Outcome) -> outcome.Check:
    """The same gate as :func:`migrating._backup_check`, which needs a SQL plan this run does not have."""
    provider = backups.provider_for(settings)
    policy = settings.backup.policy or ("require" if provider else None)
    if policy is None:
        return outcome.Check("backup", None, "Backup not checked (no backup policy configured)")
    if not changes:
        return outcome.Check("backup", None, "Backup not checked (nothing will be changed)")
    check, backup = gate.check(provider, policy=policy, max_age=settings.backup.max_age)
    if backup is not None:
        result.details["backup"] = backup.to_json()
    return check
