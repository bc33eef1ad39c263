"""Where a database stands against the migration files: applied, pending, dirty, edited, missing, out of order.

Computed from one read of the history table and the files in memory (dicts, no per-migration queries), so its cost
stays flat as history grows to tens of thousands of rows.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from dbmigrate import errors, history
from dbmigrate.sources import model


@dataclasses.dataclass(frozen=True)
class State:
    migrations: list[model.Migration]
    rows: list[history.Row]
    applied: list[model.Migration]
    pending: list[model.Migration]
    #: Pending migrations numbered below the newest applied one.
    out_of_order: list[model.Migration]
    #: Applied migrations whose file changed since (checksum differs).
    edited: list[tuple[model.Migration, history.Row]]
    #: History rows with no file any more, below the newest file: a gap in the files.
    missing: list[history.Row]
    #: History rows newer than every file: the database is ahead of these files (an older release's checkout).
    ahead: list[history.Row]
    dirty: list[history.Row]
    baseline: history.Row | None

    @property
    def current_version(self) -> str | None:
        versions = [row.version for row in self.rows if not row.dirty]
        return max(versions, key=model.version_key) if versions else None

    def to_json(self) -> dict[str, object]:
        return {
            "current_version": self.current_version,
            "applied": [m.version for m in self.applied],
            "pending": [_migration_json(m) for m in self.pending],
            "out_of_order": [m.version for m in self.out_of_order],
            "edited": [{"version": m.version, "file": m.filename} for m, _ in self.edited],
            "missing": [row.version for row in self.missing],
            "ahead": [row.version for row in self.ahead],
            "dirty": [row.version for row in self.dirty],
            "baseline": self.baseline.version if self.baseline else None,
        }

    def check_clean(self, *, allow_out_of_order: bool) -> None:
        """Refuse to run on a dirty database, edited applied migrations, or (unless allowed) out-of-order ones."""
        if self.dirty:
            versions = ", ".join(row.version for row in self.dirty)
            raise errors.DriftError(
                f"the database is dirty: migration {versions} started but did not finish, "
                "and part of it may have been applied",
                hint="compare the schema with that migration's statements and undo or complete them by hand; "
                "then `dbmigrate repair` to clear the dirty mark (it will run again) "
                "or `dbmigrate repair --mark-applied` if you completed it",
            )
        if self.edited:
            files = ", ".join(m.filename for m, _ in self.edited)
            raise errors.DriftError(
                f"applied migration(s) were edited after they ran (checksum differs): {files}",
                hint="restore the files as applied and put the change in a new migration, "
                "or run `dbmigrate repair` to accept the edited files' checksums",
            )
        if self.missing:
            versions = ", ".join(row.version for row in self.missing)
            raise errors.DriftError(
                f"applied migration(s) without a file: {versions}; the files below the newest one must all be there",
                hint="restore the files; if they were removed on purpose (squashed), `dbmigrate repair` keeps their "
                "history rows marked deleted and stops checking them",
            )
        if self.out_of_order and not allow_out_of_order:
            newest = self.current_version
            files = ", ".join(m.filename for m in self.out_of_order)
            raise errors.DriftError(
                f"pending migration(s) numbered below the newest applied version {newest}: {files}",
                hint="renumber them above the newest applied one, or pass --out-of-order to apply them anyway",
            )


def compute(migrations: list[model.Migration], rows: list[history.Row]) -> State:
    by_version = {m.version: m for m in migrations}
    recorded = {row.version: row for row in rows}
    baseline = next((row for row in rows if row.kind == history.KIND_BASELINE), None)
    baseline_key = model.version_key(baseline.version) if baseline else None

    def covered(migration: model.Migration) -> bool:
        return migration.version in recorded or (baseline_key is not None and migration.sort_key <= baseline_key)

    # A baseline row covers its version without dbmigrate having run it: not applied, so never reverted.
    applied = [
        m
        for m in migrations
        if (row := recorded.get(m.version)) is not None and row.kind == history.KIND_MIGRATION and not row.dirty
    ]
    pending = [m for m in migrations if not covered(m)]
    clean_rows = [row for row in rows if not row.dirty]
    without_file = [row for row in rows if row.kind == history.KIND_MIGRATION and row.version not in by_version]
    newest_file = max((m.sort_key for m in migrations), default=None)
    newest = max((model.version_key(row.version) for row in clean_rows), default=None)
    return State(
        migrations=migrations,
        rows=rows,
        applied=applied,
        pending=pending,
        out_of_order=[m for m in pending if newest is not None and m.sort_key < newest],
        edited=[
            (m, recorded[m.version])
            for m in applied
            if recorded[m.version].checksum is not None and recorded[m.version].checksum != m.checksum
        ],
        missing=[row for row in without_file if newest_file is not None and row_key(row) <= newest_file],
        ahead=[row for row in without_file if newest_file is None or row_key(row) > newest_file],
        dirty=[row for row in rows if row.dirty],
        baseline=baseline,
    )


def row_key(row: history.Row) -> tuple[int, ...]:
    return model.version_key(row.version)


def _migration_json(migration: model.Migration) -> dict[str, object]:
    return {
        "version": migration.version,
        "name": migration.name,
        "file": migration.filename,
        "checksum": migration.checksum,
        "reversible": migration.down is not None,
        "transactional": migration.up.transactional,
    }


def target_key(target: str, migrations: list[model.Migration], *, what: str = "target") -> tuple[int, ...]:
    """The sort key of a version given by the user (``what`` it is for), which must be a migration file's."""
    try:
        key = model.version_key(model.canonical_version(target))
    except ValueError:
        raise errors.UsageError(f"{what} {target!r} is not a version number") from None
    if not any(m.sort_key == key for m in migrations):
        newest = migrations[-1].version if migrations else "none"
        raise errors.UsageError(
            f"unknown {what} version {target}: no migration file has that version (newest is {newest})",
            hint="run `dbmigrate status` to list the versions",
        )
    return key


T = TypeVar("T")


def newest(applied_newest_first: list[T], steps: int | None, *, baseline: str | None = None) -> list[T]:
    """The ``steps`` newest applied migrations (default one) for ``down``, refusing counts that cannot be honoured.

    Shared by SQL directories and framework projects so both refuse the same way."""
    count = 1 if steps is None else steps
    if count < 1:
        raise errors.UsageError("--steps must be at least 1")
    if count > len(applied_newest_first):
        message = f"only {len(applied_newest_first)} applied migration(s) can be reverted, not {count}"
        if baseline is not None:
            message += f": refusing to go below the baseline {baseline}, which dbmigrate never ran"
        raise errors.UsageError(message)
    return applied_newest_first[:count]
