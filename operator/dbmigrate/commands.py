"""One function per CLI action, each returning an :class:`outcome.Outcome` (errors included, never raised).

This is the engine's public surface: the CLI renders outcomes, the operator's Jobs run the CLI and read the JSON.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy

from dbmigrate import config, database, errors, history, outcome, progress, session, state
from dbmigrate.dialects import base
from dbmigrate.sources import detect, model, sqlfiles

if TYPE_CHECKING:
    from dbmigrate import migrating

_SLUG = re.compile(r"[^a-z0-9]+")
_TIMESTAMP_DIGITS = 14


def _detect(settings: config.Settings, result: outcome.Outcome) -> detect.Detection:
    detection = detect.detect(
        project_dir=settings.project_dir,
        migrations_dir=settings.migrations_dir,
        forced=settings.framework,
        dir_source=settings.migrations_dir_source,
    )
    # A framework's adapter replaces the project directory with where its migrations are, once it has read them.
    directory = settings.migrations_dir if detection.framework == "sql" else settings.project_dir
    result.framework = {**detection.to_json(), "directory": str(directory)}
    return detection


def _load(settings: config.Settings, result: outcome.Outcome) -> list[model.Migration]:
    """The SQL migrations; actions that only exist for SQL directories refuse framework projects here."""
    detection = _detect(settings, result)
    if detection.framework != "sql":
        raise errors.UsageError(
            f"`{result.action}` works on dbmigrate's SQL migrations only, and this is {detection.project} "
            f"({detection.reason})",
            hint="framework projects support `up`, `down`, `status` and `history`; use the framework's own tools "
            "for the rest, or `--framework sql --dir DIR` if DIR holds dbmigrate SQL migrations",
        )
    return sqlfiles.load(settings.migrations_dir)


def up(
    settings: config.Settings,
    *,
    options: migrating.RunOptions | None = None,
    report: progress.Progress | None = None,
) -> outcome.Outcome:
    """Apply pending migrations up to ``options.target`` (all when None), behind every safety gate."""
    from dbmigrate import migrating

    return _migrate(settings, direction="up", action="up", options=options or migrating.RunOptions(), report=report)


def down(
    settings: config.Settings,
    *,
    options: migrating.RunOptions | None = None,
    report: progress.Progress | None = None,
) -> outcome.Outcome:
    """Revert the newest ``options.steps`` applied migrations (default one), or all above ``options.target``."""
    from dbmigrate import migrating

    return _migrate(settings, direction="down", action="down", options=options or migrating.RunOptions(), report=report)


def plan(
    settings: config.Settings, *, options: migrating.RunOptions | None = None, direction: str = "up"
) -> outcome.Outcome:
    """What ``up`` (or ``down``) would do: migrations, findings, plan hash; executed and rolled back where the
    database has transactional DDL. Never changes anything; findings never fail it, a statement failing in the
    dry run does (a run would fail there)."""
    from dbmigrate import migrating

    options = dataclasses.replace(options or migrating.RunOptions(), dry_run=True)
    return _migrate(settings, direction=direction, action="plan", options=options, report=None)


def _migrate(
    settings: config.Settings,
    *,
    direction: str,
    action: str,
    options: migrating.RunOptions,
    report: progress.Progress | None,
) -> outcome.Outcome:
    from dbmigrate import migrating  # the run machinery (sqlglot, schema catalogs) loads only for runs

    result = outcome.Outcome(action=action)
    with session.capture(result):
        detection = _detect(settings, result)
        if detection.framework != "sql":
            _migrate_framework(settings, detection, direction=direction, options=options, result=result, report=report)
            return result
        migrations = sqlfiles.load(settings.migrations_dir)
        migrating.migrate(
            settings,
            migrations,
            direction=direction,
            options=options,
            result=result,
            report=report or progress.Silent(),
        )
    return result


def _migrate_framework(
    settings: config.Settings,
    detection: detect.Detection,
    *,
    direction: str,
    options: migrating.RunOptions,
    result: outcome.Outcome,
    report: progress.Progress | None,
) -> None:
    """Alembic, Django, Rails and Flyway projects: their own engines, under our lock, gates and report.

    The SQL-level features (dry run, plan approval, fingerprints) need our SQL parser, so they are refused here
    rather than silently skipped.
    """
    unsupported = [
        flag
        for flag, given in (
            ("plan/--dry-run", options.dry_run),
            ("--approve", options.approve is not None),
            ("--expected-fingerprint", options.expected_fingerprint is not None),
            ("--fail-on-drift", options.fail_on_drift),
            ("--out-of-order", options.out_of_order),
        )
        if given
    ]
    if unsupported:
        raise errors.UsageError(
            f"{', '.join(unsupported)} work on dbmigrate's SQL migrations only, and this is {detection.project} "
            f"({detection.reason})",
            hint="framework projects support `up`, `down` (with --allow-destructive), `status` and `history`",
        )
    from dbmigrate.frameworks import run  # Alembic and Django are an optional extra

    report = report or progress.Silent()
    if direction == "up":
        run.up(settings, detection, options=options, result=result, report=report)
    else:
        run.down(settings, detection, options=options, result=result, report=report)


def verify(
    settings: config.Settings, *, expected: str | None = None, fail_on_drift: bool = False, show_schema: bool = False
) -> outcome.Outcome:
    """Check the live schema: history against files, catalog problems, expected fingerprint, drift (and what
    changed since the recorded snapshot); ``show_schema`` adds the snapshot itself, to compare two databases."""
    from dbmigrate import verification

    result = outcome.Outcome(action="verify")
    with session.capture(result):
        migrations = _load(settings, result)
        with session.open_session(settings, result, lock=False, missing_file="refuse") as (conn, dialect, table):
            current = state.compute(migrations, table.rows())
            verified = verification.verify(conn, dialect, history_table=table.table, current=current, expected=expected)
            drift = verification.drift(
                conn,
                dialect,
                history_table=table.table,
                live=verified.schema,
                fingerprint=verified.fingerprint,
                baseline=verified.recorded,
            )
        result.checks += [drift.check, verified.check()]
        result.details["verify"] = verified.to_json()
        if show_schema:
            result.details["verify"]["schema"] = verified.schema.to_json()
        result.details["drift"] = drift.to_json()
        result.details["current_version"] = current.current_version
        if not verified.ok:
            raise errors.DriftError(f"✗ Schema integrity: {verified.check().message}")
        if drift.check.ok is False and fail_on_drift:
            raise errors.DriftError(f"✗ {drift.check.message}", hint=verification.DRIFT_HINT)
    return result


def status(settings: config.Settings) -> outcome.Outcome:
    """Where the database stands: applied, pending, dirty, edited and missing migrations; read-only, no lock."""
    result = outcome.Outcome(action="status")
    with session.capture(result):
        detection = _detect(settings, result)
        if detection.framework != "sql":
            from dbmigrate.frameworks import run

            run.status(settings, detection, result=result)
            return result
        migrations = sqlfiles.load(settings.migrations_dir)
        with session.open_session(settings, result, lock=False, missing_file="empty") as (_conn, _dialect, table):
            current = state.compute(migrations, table.rows())
        result.details["status"] = current.to_json()
        result.details["migrations_total"] = len(migrations)
    return result


def history_rows(settings: config.Settings) -> outcome.Outcome:
    """The history table, oldest first, with each migration's execution time; for a framework project, the
    framework's own record of what is applied."""
    result = outcome.Outcome(action="history")
    with session.capture(result):
        detection = _detect(settings, result)
        if detection.framework != "sql":
            from dbmigrate.frameworks import run

            run.history(settings, detection, result=result)
            return result
        with session.open_session(settings, result, lock=False, missing_file="refuse") as (_conn, _dialect, table):
            result.details["history"] = [row.to_json() for row in table.rows()]
    return result


def baseline(settings: config.Settings, *, version: str) -> outcome.Outcome:
    """Mark an existing database as being at ``version`` without running anything (adopting dbmigrate)."""
    result = outcome.Outcome(action="baseline")
    with session.capture(result):
        migrations = _load(settings, result)
        key = state.target_key(version, migrations, what="baseline")
        with session.open_session(settings, result, lock=True) as (_conn, _dialect, table):
            if table.rows():
                raise errors.UsageError(
                    "the history table is not empty; baseline is only for a database dbmigrate has never migrated"
                )
            table.record(
                table.new_row(
                    version=".".join(map(str, key)),
                    name="<< baseline >>",
                    checksum=None,
                    kind=history.KIND_BASELINE,
                    applied_by=database.runner_identity(),
                )
            )
            result.history_updated = True
            result.details["baseline"] = ".".join(map(str, key))
    return result


def repair(settings: config.Settings, *, mark_applied: bool = False, accept_schema: bool = False) -> outcome.Outcome:
    """Explicitly clear dirty marks and accept edited files' checksums, listing every change it makes; with
    ``accept_schema``, record the live schema's fingerprint as the baseline later drift checks compare with."""
    result = outcome.Outcome(action="repair")
    with session.capture(result):
        migrations = _load(settings, result)
        with session.open_session(settings, result, lock=True) as (conn, dialect, table):
            current = state.compute(migrations, table.rows())
            changes: list[str] = []
            for row in current.dirty:
                if mark_applied:
                    table.mark_clean(version=row.version, execution_ms=row.execution_ms)
                    changes.append(f"version {row.version}: dirty mark cleared, recorded as applied")
                else:
                    table.delete([row.version])
                    changes.append(f"version {row.version}: dirty record removed; it will run again on `up`")
            for row in current.missing:
                table.mark_deleted(row.version)
                changes.append(f"version {row.version}: file missing; its history row is kept, marked deleted")
            for migration, row in current.edited:
                table.update_checksum(version=migration.version, checksum=migration.checksum)
                changes.append(
                    f"version {migration.version} ({migration.filename}): checksum "
                    f"{(row.checksum or '')[:12]} replaced by {migration.checksum[:12]}"
                )
            if accept_schema:
                changes += _accept_schema(conn, dialect, history_table=table.table)
            result.details["repaired"] = changes
            result.history_updated = bool(changes)
    return result


def _accept_schema(conn: sqlalchemy.Connection, dialect: base.Dialect, *, history_table: str) -> list[str]:
    """Record the live schema as the drift baseline; no change when it already is."""
    from dbmigrate import verification
    from dbmigrate.schema import fingerprint

    schema = verification.read(conn, dialect, history_table=history_table)
    live = fingerprint.fingerprint(schema)
    recorded = verification.recorded(conn, dialect, history_table)
    if recorded is not None and recorded.has_snapshot and recorded.fingerprint == live:
        return []
    verification.record(conn, dialect, history_table=history_table, fingerprint=live, schema=schema)
    before = f"{recorded.fingerprint[:19]}…" if recorded else "none"
    return [
        f"schema fingerprint {before} replaced by {live[:19]}…: the current schema is accepted as the baseline "
        "for drift checks"
    ]


def create(settings: config.Settings, *, name: str, timestamp: bool = False) -> outcome.Outcome:
    """Write the next migration's up and down files.

    Versions follow the directory's existing style: Flyway ``V<n>__`` files get the next Flyway number,
    14-digit versions (or ``--timestamp``) get a UTC ``YYYYMMDDHHMMSS`` timestamp, and anything else the next
    sequence number zero-padded like the existing files (``001`` in an empty directory).
    """
    result = outcome.Outcome(action="create")
    with session.capture(result):
        # Accents folded to their base letter ("Ünïcode naïve" → "unicode_naive"), not dropped as separators.
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = _SLUG.sub("_", folded.lower()).strip("_")
        if not slug:
            raise errors.UsageError(
                f"migration name {name!r} has no letters or digits that a file name can hold",
                hint="file names take a-z, 0-9 and _ (accented letters become their base letter): use a Latin name",
            )
        directory = settings.migrations_dir
        try:
            directory.mkdir(parents=True, exist_ok=True)
            up_path, down_path = _new_paths(directory, slug, timestamp=timestamp)
            with up_path.open("x") as up, down_path.open("x") as down:  # "x": never over an existing file
                up.write(f"-- {up_path.name}: {name}\n-- Write the schema change here.\n")
                down.write(f"-- {down_path.name}: undoes {up_path.name}\n-- Write the reverse change here.\n")
        except OSError as exc:
            where = exc.filename or directory
            raise errors.UsageError(f"cannot write the migration in {directory}: {exc.strerror} ({where})") from None
        result.details["created"] = [str(up_path), str(down_path)]
    return result


def _new_paths(directory: Path, slug: str, *, timestamp: bool) -> tuple[Path, Path]:
    existing = [p.name for p in directory.iterdir() if p.name.lower().endswith(".sql")]
    flyway = [int(m.group(1)) for n in existing if (m := re.match(r"^[VU](\d+)", n))]
    numbered = [m.group(1) for n in existing if (m := re.match(r"^(\d+)_", n))]
    highest = max([*flyway, *map(int, numbered)], default=0)  # one version space, whichever style a file uses
    if flyway and not timestamp:
        number = highest + 1
        return directory / f"V{number}__{slug}.sql", directory / f"U{number}__{slug}.sql"
    if timestamp or any(len(v) >= _TIMESTAMP_DIGITS for v in numbered):
        version = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        if int(version) <= highest:
            version = str(highest + 1)
    else:
        width = max((len(v) for v in numbered), default=3)
        version = str(highest + 1).zfill(width)
    return directory / f"{version}_{slug}.up.sql", directory / f"{version}_{slug}.down.sql"
