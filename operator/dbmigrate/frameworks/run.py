"""The ``up``, ``down`` and ``status`` actions for framework projects, inside dbmigrate's run.

The framework does the migrating; dbmigrate wraps it the same way as its own SQL files: the per-database run
lock (so two runners on one database take turns), the checks preamble, one timed progress line and one
:class:`outcome.MigrationResult` per step, and errors as :class:`errors.MigrationError` without passwords.

The framework opens connections of its own. Our session connection stays idle and autocommit meanwhile, so on
SQLite (whose run lock is a lock file, not a database lock) it holds no transaction the framework waits on.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable

from dbmigrate import backups, config, errors, outcome, progress, session
from dbmigrate.backups import gate
from dbmigrate.frameworks import base
from dbmigrate.sources import detect


def up(
    settings: config.Settings,
    detection: detect.Detection,
    *,
    target: str | None,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    """Apply the framework's pending steps up to ``target`` (all when None), one by one, under the lock."""
    _describe(detection, result)
    with session.open_session(settings, result, lock=True), _adapter(settings, detection) as adapter:
        todo = adapter.steps_pending(target)
        _gates(settings, todo, direction="up", result=result)
        report.checks(result.checks)
        _run(todo, direction="up", step=adapter.apply, settings=settings, result=result, report=report)


def down(
    settings: config.Settings,
    detection: detect.Detection,
    *,
    target: str | None,
    steps: int | None,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    """Revert the newest ``steps`` applied steps (default one) or all above ``target``, under the run lock."""
    _describe(detection, result)
    with session.open_session(settings, result, lock=True), _adapter(settings, detection) as adapter:
        todo = adapter.steps_to_revert(target, steps)
        irreversible = [step.label for step in todo if not step.reversible]
        if irreversible:
            raise errors.UsageError(
                f"cannot revert {', '.join(irreversible)}: it has no reverse operation",
                hint="nothing was reverted; give the migration a reverse (or go down to a target above it)",
            )
        _gates(settings, todo, direction="down", result=result)
        report.checks(result.checks)
        _run(todo, direction="down", step=adapter.revert, settings=settings, result=result, report=report)


def status(settings: config.Settings, detection: detect.Detection, *, result: outcome.Outcome) -> None:
    """Where the database stands in the framework's own history; read-only, so without the run lock."""
    _describe(detection, result)
    with session.open_session(settings, result, lock=False), _adapter(settings, detection) as adapter:
        heads = adapter.current()
        applied = adapter.applied()
        output = adapter.describe()
        # A delegated tool's own listing replaces ours: it alone knows what is pending.
        pending = adapter.steps_pending(None) if output is None else []
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
        "missing": [],
        "dirty": [],
        "baseline": None,
        **({"output": output} if output is not None else {}),
    }
    result.details["migrations_total"] = len(applied) + len(pending)


def _describe(detection: detect.Detection, result: outcome.Outcome) -> None:
    if result.framework is None:
        result.framework = detection.to_json()


def _adapter(settings: config.Settings, detection: detect.Detection) -> contextlib.AbstractContextManager[base.Adapter]:
    """The framework's adapter, imported only when used: Alembic and Django are optional installs."""
    try:
        if detection.framework == "alembic":
            from dbmigrate.frameworks import alembic

            return alembic.adapter(settings, detection)
        if detection.framework == "django":
            from dbmigrate.frameworks import django

            return django.adapter(settings, detection)
    except ModuleNotFoundError as exc:
        raise errors.UsageError(
            f"this is a {detection.framework} project ({detection.reason}) but {exc.name} is not installed",
            hint="install dbmigrate with its framework support: pip install 'dbmigrate[frameworks]'",
        ) from None
    if detection.framework in ("rails", "flyway"):
        from dbmigrate.frameworks import external

        return external.adapter(settings, detection)
    raise errors.UsageError(f"no framework adapter for {detection.framework!r}")


def _run(
    todo: list[base.Step],
    *,
    direction: str,
    step: Callable[[base.Step], None],
    settings: config.Settings,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    for index, item in enumerate(todo, start=1):
        report.migration_started(index=index, total=len(todo), label=item.label)
        started = time.monotonic()
        try:
            # Framework code prints; stdout carries the JSON document.
            with contextlib.redirect_stdout(sys.stderr):
                step(item)
        except errors.UsageError:
            raise
        except Exception as exc:
            elapsed = time.monotonic() - started
            message = _redact(f"{item.label}: {_message(exc)}", settings)
            report.migration_failed(seconds=elapsed, message=message)
            result.migrations.append(_result(item, direction, "failed", elapsed, error=message))
            raise errors.MigrationError(message) from None
        elapsed = time.monotonic() - started
        result.history_updated = True
        report.migration_finished(seconds=elapsed)
        result.migrations.append(_result(item, direction, "applied" if direction == "up" else "reverted", elapsed))


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


def _redact(message: str, settings: config.Settings) -> str:
    password = settings.url.password
    return message.replace(str(password), "***") if password else message


def _gates(settings: config.Settings, todo: list[base.Step], *, direction: str, result: outcome.Outcome) -> None:
    """The backup gate and the count line, worded as for SQL files; a refused backup stops the run here."""
    result.checks.append(_backup_check(settings, changes=bool(todo), result=result))
    count = len(todo)
    if count == 0 and direction == "up":
        text = "No pending migrations (up to date)"
    else:
        noun = "pending migration" if direction == "up" else "migration to revert"
        text = f"{count} {noun}{'s' if count != 1 else ''}"
    result.checks.append(outcome.Check("pending", True, text))


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
