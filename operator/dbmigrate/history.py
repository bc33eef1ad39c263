"""The history table: which migrations are applied, with checksums, timings, who applied them, and dirty state.

One row per applied version (``kind`` = ``migration``) plus at most one ``baseline`` row; ``down`` deletes the row.
A ``dirty`` row is a migration that started on a database without transactional DDL and did not finish: no run
proceeds past it until ``dbmigrate repair``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy

from dbmigrate.dialects import base

DEFAULT_TABLE = "dbmigrate_history"
KIND_MIGRATION = "migration"
KIND_BASELINE = "baseline"
_COLUMNS = "version, name, kind, checksum, applied_at, execution_ms, success, applied_by, dirty"


@dataclasses.dataclass(slots=True)  # not frozen: built once per history row on every run (see sources.model)
class Row:
    """One history row as read back."""

    version: str
    name: str
    kind: str
    checksum: str | None
    applied_at: str
    execution_ms: int
    success: bool
    applied_by: str
    dirty: bool

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class History:
    """Reads and writes one history table on one connection, quoting its validated name once."""

    def __init__(self, conn: sqlalchemy.Connection, dialect: base.Dialect, *, table: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self.table = table
        self._quoted = dialect.quote(table)
        # `record` runs once per migration: it goes to the driver's cursor in the driver's own placeholder style,
        # built once here, rather than through SQLAlchemy's per-call compilation.
        names = ("version", "name", "kind", "checksum", "applied_at", "ms", "success", "by", "dirty")
        style = "%({})s" if conn.dialect.paramstyle in ("pyformat", "format") else ":{}"
        placeholders = ", ".join(style.format(n) for n in names)
        self._insert = f"INSERT INTO {self._quoted} ({_COLUMNS}) VALUES ({placeholders})"

    def exists(self) -> bool:
        schema, _, name = self.table.rpartition(".")
        return sqlalchemy.inspect(self._conn).has_table(name, schema=schema or None)

    def ensure(self) -> None:
        """Create the table if it is missing (under the run lock, so two runners never race here)."""
        types = self._dialect.history_column_types()
        self._conn.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {self._quoted} ("
            "version VARCHAR(64) NOT NULL PRIMARY KEY, "
            "name VARCHAR(255) NOT NULL, "
            "kind VARCHAR(16) NOT NULL, "
            "checksum VARCHAR(64), "
            f"applied_at {types['timestamp']} NOT NULL, "
            "execution_ms INTEGER NOT NULL, "
            f"success {types['boolean']} NOT NULL, "
            "applied_by VARCHAR(255) NOT NULL, "
            f"dirty {types['boolean']} NOT NULL)"
        )

    def rows(self) -> list[Row]:
        """All rows, oldest first; an empty list when the table does not exist yet."""
        if not self.exists():
            return []
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(f"SELECT {_COLUMNS} FROM {self._quoted} ORDER BY applied_at, version")
        return [_row(*values) for values in cursor.fetchall()]

    def record(
        self,
        *,
        version: str,
        name: str,
        checksum: str | None,
        execution_ms: int = 0,
        kind: str = KIND_MIGRATION,
        dirty: bool = False,
        applied_by: str,
        and_commit: bool = False,
    ) -> bool:
        """Insert the row; with ``and_commit``, also COMMIT in the same round trip where the driver can quote
        literals itself (PostgreSQL). Returns whether it committed."""
        values = {
            "version": version,
            "name": name[:255],
            "kind": kind,
            "checksum": checksum,
            "applied_at": self._dialect.timestamp_param(datetime.now(UTC)),
            "ms": execution_ms,
            "success": not dirty,
            "by": applied_by[:255],
            "dirty": dirty,
        }
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if and_commit:
            literals = [self._dialect.literal(self._conn, value) for value in values.values()]
            if None not in literals:
                cursor.execute(
                    f"INSERT INTO {self._quoted} ({_COLUMNS}) VALUES ({', '.join(map(str, literals))}); COMMIT"
                )
                return True
        cursor.execute(self._insert, values)
        return False

    def mark_clean(self, *, version: str, execution_ms: int) -> None:
        self._conn.execute(
            sqlalchemy.text(
                f"UPDATE {self._quoted} SET dirty = :f, success = :t, execution_ms = :ms WHERE version = :v"
            ),
            {"f": False, "t": True, "ms": execution_ms, "v": version},
        )

    def update_checksum(self, *, version: str, checksum: str) -> None:
        self._conn.execute(
            sqlalchemy.text(f"UPDATE {self._quoted} SET checksum = :c WHERE version = :v"),
            {"c": checksum, "v": version},
        )

    def delete(self, versions: Iterable[str]) -> None:
        for version in versions:
            self._conn.execute(sqlalchemy.text(f"DELETE FROM {self._quoted} WHERE version = :v"), {"v": version})


def _row(
    version: str,
    name: str,
    kind: str,
    checksum: str | None,
    applied_at: datetime | str,
    ms: int,
    success: object,
    by: str,
    dirty: object,
) -> Row:
    """A history row from the driver's tuple; kept lean because `status` converts every row of a long history."""
    stamp = applied_at.isoformat() if isinstance(applied_at, datetime) else applied_at
    return Row(version, name, kind, checksum, stamp, ms, bool(success), by, bool(dirty))
