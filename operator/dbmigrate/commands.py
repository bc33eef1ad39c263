"""One function per CLI action, each returning an :class:`outcome.Outcome` (errors included, never raised).

This is the engine's public surface: the CLI renders outcomes, the operator's Jobs run the CLI and read the JSON.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from dbmigrate import applying, config, database, errors, history, outcome, progress, session, state
from dbmigrate.sources import detect, model, sqlfiles

_SLUG = re.compile(r"[^a-z0-9]+")
_TIMESTAMP_DIGITS = 14


def _load(settings: config.Settings, result: outcome.Outcome) -> list[model.Migration]:
    detection = detect.detect(
        project_dir=settings.project_dir, migrations_dir=settings.migrations_dir, forced=settings.framework
    )
    result.framework = {**detection.to_json(), "directory": str(settings.migrations_dir)}
    if detection.framework != "sql":
        raise errors.UsageError(
            f"{detection.framework} project detected ({detection.reason}); "
            "run it with `--framework sql` to use plain SQL files instead"
        )
    return sqlfiles.load(settings.migrations_dir)


def up(
    settings: config.Settings,
    *,
    target: str | None = None,
    out_of_order: bool = False,
    report: progress.Progress | None = None,
) -> outcome.Outcome:
    """Apply pending migrations up to ``target`` (all when None)."""
    report = report or progress.Silent()
    result = outcome.Outcome(action="up")
    with session.capture(result):
        migrations = _load(settings, result)
        wanted = _target_key(target, migrations) if target else None
        with session.open_session(settings, result, lock=True) as (conn, dialect, table):
            current = state.compute(migrations, table.rows())
            current.check_clean(allow_out_of_order=out_of_order)
            todo = [m for m in current.pending if wanted is None or m.sort_key <= wanted]
            result.checks.append(_backup_not_checked())
            result.checks.append(outcome.Check("pending", True, _pending_text(len(todo))))
            report.checks(result.checks)
            dialect.set_timeouts(
                conn,
                lock_timeout=settings.apply.lock_timeout,
                statement_timeout=settings.apply.statement_timeout,
            )
            applier = applying.Applier(
                conn=conn, dialect=dialect, table=table, options=settings.apply, report=report
            )
            _run(todo, direction="up", step=applier.up, result=result, report=report)
    return result


def down(
    settings: config.Settings,
    *,
    target: str | None = None,
    steps: int | None = None,
    report: progress.Progress | None = None,
) -> outcome.Outcome:
    """Revert the newest ``steps`` applied migrations (default one), or all applied above ``target``."""
    report = report or progress.Silent()
    result = outcome.Outcome(action="down")
    with session.capture(result):
        migrations = _load(settings, result)
        with session.open_session(settings, result, lock=True) as (conn, dialect, table):
            current = state.compute(migrations, table.rows())
            current.check_clean(allow_out_of_order=True)
            todo = _to_revert(current, migrations, target=target, steps=steps)
            result.checks.append(outcome.Check("revert", True, f"{len(todo)} migration(s) to revert"))
            report.checks(result.checks)
            dialect.set_timeouts(
                conn,
                lock_timeout=settings.apply.lock_timeout,
                statement_timeout=settings.apply.statement_timeout,
            )
            applier = applying.Applier(
                conn=conn, dialect=dialect, table=table, options=settings.apply, report=report
            )
            _run(todo, direction="down", step=applier.down, result=result, report=report)
    return result


def _run(
    todo: list[model.Migration],
    *,
    direction: str,
    step: applying.Step,
    result: outcome.Outcome,
    report: progress.Progress,
) -> None:
    for index, migration in enumerate(todo, start=1):
        script = migration.up if direction == "up" else migration.down
        label = script.path.name if script is not None else migration.filename
        report.migration_started(index=index, total=len(todo), label=label)
        started = datetime.now(UTC)
        try:
            seconds = step(migration)
        except errors.MigrationError as exc:
            elapsed = (datetime.now(UTC) - started).total_seconds()
            report.migration_failed(seconds=elapsed, message=exc.message)
            result.migrations.append(_result(migration, direction, "failed", elapsed, error=exc.message))
            raise
        result.history_updated = True
        report.migration_finished(seconds=seconds)
        result.migrations.append(
            _result(migration, direction, "applied" if direction == "up" else "reverted", seconds)
        )


def _result(
    migration: model.Migration, direction: str, status: str, seconds: float, *, error: str | None = None
) -> outcome.MigrationResult:
    return outcome.MigrationResult(
        version=migration.version,
        name=migration.name,
        file=migration.filename if direction == "up" or migration.down is None else migration.down.path.name,
        direction=direction,
        status=status,
        seconds=round(seconds, 3),
        error=error,
    )


def _to_revert(
    current: state.State, migrations: list[model.Migration], *, target: str | None, steps: int | None
) -> list[model.Migration]:
    applied = sorted(current.applied, key=lambda m: m.sort_key, reverse=True)
    if current.missing:
        newest_missing = max(current.missing, key=lambda row: model.version_key(row.version))
        raise errors.UsageError(
            f"applied migration {newest_missing.version} has no file any more, so it cannot be reverted",
            hint="restore the migration file (with its down part) before going down",
        )
    if target is None:
        count = 1 if steps is None else steps
        if count < 1:
            raise errors.UsageError("--steps must be at least 1")
        if count > len(applied):
            raise errors.UsageError(f"only {len(applied)} applied migration(s) can be reverted, not {count}")
        return applied[:count]
    wanted = (0,) if target == "0" else _target_key(target, migrations)
    if current.baseline is not None and wanted < model.version_key(current.baseline.version):
        raise errors.UsageError(
            f"refusing to go below the baseline {current.baseline.version}: "
            "migrations up to it were never run by dbmigrate and cannot be reverted"
        )
    return [m for m in applied if m.sort_key > wanted]


def _target_key(target: str, migrations: list[model.Migration]) -> tuple[int, ...]:
    try:
        key = model.version_key(model.canonical_version(target))
    except ValueError:
        raise errors.UsageError(f"target {target!r} is not a version number") from None
    if not any(m.sort_key == key for m in migrations):
        newest = migrations[-1].version if migrations else "none"
        raise errors.UsageError(
            f"unknown target version {target}: no migration file has that version (newest is {newest})",
            hint="run `dbmigrate status` to list the versions",
        )
    return key


def _pending_text(count: int) -> str:
    if count == 0:
        return "No pending migrations (up to date)"
    return f"{count} pending migration{'s' if count != 1 else ''}"


def _backup_not_checked() -> outcome.Check:
    return outcome.Check("backup", None, "Backup not checked (no backup policy configured)")


def status(settings: config.Settings) -> outcome.Outcome:
    """Where the database stands: applied, pending, dirty, edited and missing migrations; read-only, no lock."""
    result = outcome.Outcome(action="status")
    with session.capture(result):
        migrations = _load(settings, result)
        with session.open_session(settings, result, lock=False) as (_conn, _dialect, table):
            current = state.compute(migrations, table.rows())
        result.details["status"] = current.to_json()
        result.details["migrations_total"] = len(migrations)
    return result


def history_rows(settings: config.Settings) -> outcome.Outcome:
    """The history table, oldest first, with each migration's execution time."""
    result = outcome.Outcome(action="history")
    with (
        session.capture(result),
        session.open_session(settings, result, lock=False) as (_conn, _dialect, table),
    ):
        result.details["history"] = [row.to_json() for row in table.rows()]
    return result


def baseline(settings: config.Settings, *, version: str) -> outcome.Outcome:
    """Mark an existing database as being at ``version`` without running anything (adopting dbmigrate)."""
    result = outcome.Outcome(action="baseline")
    with session.capture(result):
        migrations = _load(settings, result)
        key = _target_key(version, migrations)
        with session.open_session(settings, result, lock=True) as (_conn, _dialect, table):
            if table.rows():
                raise errors.UsageError(
                    "the history table is not empty; baseline is only for a database dbmigrate has never migrated"
                )
            table.record(
                version=".".join(map(str, key)),
                name="<< baseline >>",
                checksum=None,
                kind=history.KIND_BASELINE,
                applied_by=database.runner_identity(),
            )
            result.history_updated = True
            result.details["baseline"] = ".".join(map(str, key))
    return result


def repair(settings: config.Settings, *, mark_applied: bool = False) -> outcome.Outcome:
    """Explicitly clear dirty marks and accept edited files' checksums, listing every change it makes."""
    result = outcome.Outcome(action="repair")
    with session.capture(result):
        migrations = _load(settings, result)
        with session.open_session(settings, result, lock=True) as (_conn, _dialect, table):
            current = state.compute(migrations, table.rows())
            changes: list[str] = []
            for row in current.dirty:
                if mark_applied:
                    table.mark_clean(version=row.version, execution_ms=row.execution_ms)
                    changes.append(f"version {row.version}: dirty mark cleared, recorded as applied")
                else:
                    table.delete([row.version])
                    changes.append(f"version {row.version}: dirty record removed; it will run again on `up`")
            for migration, row in current.edited:
                table.update_checksum(version=migration.version, checksum=migration.checksum)
                changes.append(
                    f"version {migration.version} ({migration.filename}): checksum "
                    f"{(row.checksum or '')[:12]} replaced by {migration.checksum[:12]}"
                )
            result.details["repaired"] = changes
            result.history_updated = bool(changes)
    return result


def create(settings: config.Settings, *, name: str, timestamp: bool = False) -> outcome.Outcome:
    """Write the next migration's up and down files.

    Versions follow the directory's existing style: Flyway ``V<n>__`` files get the next Flyway number,
    14-digit versions (or ``--timestamp``) get a UTC ``YYYYMMDDHHMMSS`` timestamp, and anything else the next
    sequence number zero-padded like the existing files (``001`` in an empty directory).
    """
    result = outcome.Outcome(action="create")
    with session.capture(result):
        slug = _SLUG.sub("_", name.lower()).strip("_")
        if not slug:
            raise errors.UsageError(f"migration name {name!r} has no letters or digits")
        directory = settings.migrations_dir
        directory.mkdir(parents=True, exist_ok=True)
        up_path, down_path = _new_paths(directory, slug, timestamp=timestamp)
        up_path.write_text(f"-- {up_path.name}: {name}\n-- Write the schema change here.\n")
        down_path.write_text(
            f"-- {down_path.name}: undoes {up_path.name}\n-- Write the reverse change here.\n"
        )
        result.details["created"] = [str(up_path), str(down_path)]
    return result


def _new_paths(directory: Path, slug: str, *, timestamp: bool) -> tuple[Path, Path]:
    existing = [p.name for p in directory.glob("*.sql")]
    flyway = sorted(int(m.group(1)) for n in existing if (m := re.match(r"^V(\d+)", n)))
    if flyway and not timestamp:
        number = flyway[-1] + 1
        return directory / f"V{number}__{slug}.sql", directory / f"U{number}__{slug}.sql"
    numbered = [m.group(1) for n in existing if (m := re.match(r"^(\d+)_", n))]
    if timestamp or any(len(v) >= _TIMESTAMP_DIGITS for v in numbered):
        version = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        if numbered and int(version) <= max(int(v) for v in numbered):
            version = str(max(int(v) for v in numbered) + 1)
    else:
        width = max((len(v) for v in numbered), default=3)
        version = str(max((int(v) for v in numbered), default=0) + 1).zfill(width)
    return directory / f"{version}_{slug}.up.sql", directory / f"{version}_{slug}.down.sql"
