"""The history table: which migrations are applied, with checksums, timings, who applied them, and dirty state.

One row per applied version (``kind`` = ``migration``) plus at most one ``baseline`` row; ``down`` deletes the row.
A ``dirty`` row is a migration that started on a database without transactional DDL and did not finish: no run
proceeds past it until ``dbmigrate repair``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy

from dbmigrate import errors
from dbmigrate.dialects import base

DEFAULT_TABLE = "dbmigrate_history"
KIND_MIGRATION = "migration"
KIND_BASELINE = "baseline"
#: An applied migration whose file was removed on purpose (squashed): kept for the record, no longer checked.
KIND_DELETED = "deleted"
_COLUMNS = "version, name, kind, checksum, applied_at, execution_ms, success, applied_by, dirty"
#: A row's values for :meth:`History.numbered_insert` ($1…$8): every column but execution_ms, which the database
#: measures.
numbered_values: Callable[[Row], tuple[object, ...]] = operator.attrgetter(
    "version", "name", "kind", "checksum", "applied_at", "success", "applied_by", "dirty"
)


class Query(NamedTuple):
    """SQL with its parameters in the driver's placeholder style, for the driver's cursor."""

    sql: str
    params: dict[str, object]


@dataclasses.dataclass(slots=True)  # not frozen: built once per history row on every run (see sources.model)
class Row:
    """One history row as read back."""

    version: str
    name: str
    kind: str
    checksum: str | None
    #: As the driver returns it (a datetime, or text from SQLite); formatted only for output, because `status`
    #: reads every row of a long history and never shows the time.
    applied_at: datetime | str
    execution_ms: int
    success: bool
    applied_by: str
    dirty: bool

    def to_json(self) -> dict[str, object]:
        stamp = self.applied_at
        if isinstance(stamp, datetime):  # MySQL's DATETIME comes back naive: it holds UTC, as written
            stamp = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()
        return dataclasses.asdict(self) | {"applied_at": stamp}


class History:
    """Reads and writes one history table on one connection, quoting its validated name once.

    The rows are read once per session and then kept in step with every write made through this object (the run
    lock means nobody else writes meanwhile): re-reading 10,000 rows to verify after a run would cost more than
    applying one migration.
    """

    def __init__(self, conn: sqlalchemy.Connection, dialect: base.Dialect, *, table: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self.table = table
        self._quoted = dialect.quote(table)
        self._rows: dict[str, Row] | None = None  # by version, in table order: each write is O(1)
        # Inserts go to the driver's cursor in the driver's own placeholder style, built once here, rather than
        # through SQLAlchemy's per-call compilation: one runs per migration.
        style = "%({})s" if conn.dialect.paramstyle in ("pyformat", "format") else ":{}"
        names = ("version", "name", "kind", "checksum", "applied_at", "ms", "success", "by", "dirty")
        values = [style.format(n) for n in names]
        self._insert = f"INSERT INTO {self._quoted} ({_COLUMNS}) VALUES ({', '.join(values)})"
        self._delete = f"DELETE FROM {self._quoted} WHERE version = {style.format('version')}"

    def exists(self) -> bool:
        schema, _, name = self.table.rpartition(".")
        return sqlalchemy.inspect(self._conn).has_table(name, schema=schema or None)

    def ensure(self) -> None:
        """Create the table if it is missing (under the run lock, so two runners never race here)."""
        types = self._dialect.history_column_types()
        try:
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
        except sqlalchemy.exc.DBAPIError:
            schema = self.table.rpartition(".")[0]  # asked only on failure: every run passes here
            if schema and not sqlalchemy.inspect(self._conn).has_schema(schema):
                raise errors.UsageError(
                    f"the history table {self.table} is in schema {schema!r}, which does not exist",
                    hint="create it first, or name another schema (or none) with --history-table",
                ) from None
            raise

    def rows(self) -> list[Row]:
        """All rows, oldest first; an empty list when the table does not exist yet."""
        if self._rows is None:
            self._rows = {row.version: row for row in self._read()} if self.exists() else {}
        return list(self._rows.values())

    def new_row(
        self,
        *,
        version: str,
        name: str,
        checksum: str | None,
        applied_by: str,
        execution_ms: int = 0,
        kind: str = KIND_MIGRATION,
        dirty: bool = False,
    ) -> Row:
        """A row to write, stamped now."""
        return Row(
            version,
            name[:255],
            kind,
            checksum,
            datetime.now(UTC),
            execution_ms,
            not dirty,
            applied_by[:255],
            dirty,
        )

    def insert(self, row: Row) -> Query:
        """The INSERT for ``row``, to run by the caller (in the migration's transaction, say), which then calls
        :meth:`inserted`."""
        params = {
            "version": row.version,
            "name": row.name,
            "kind": row.kind,
            "checksum": row.checksum,
            "applied_at": self._dialect.timestamp_param(_as_datetime(row.applied_at)),
            "ms": row.execution_ms,
            "success": row.success,
            "by": row.applied_by,
            "dirty": row.dirty,
        }
        return Query(self._insert, params)

    def numbered_insert(self, elapsed_ms_sql: str) -> str:
        """An INSERT with numbered parameters (``$1``…, filled by :data:`numbered_values`) that records
        ``elapsed_ms_sql`` (the database's own timing of the transaction) as the execution time, for a statement
        prepared once per run."""
        values = ["$1", "$2", "$3", "$4", "$5", elapsed_ms_sql, "$6", "$7", "$8"]
        return f"INSERT INTO {self._quoted} ({_COLUMNS}) VALUES ({', '.join(values)})"

    def numbered_delete(self) -> str:
        """The DELETE of one version's row (``$1``), the counterpart of :meth:`numbered_insert`."""
        return f"DELETE FROM {self._quoted} WHERE version = $1"

    def inserted(self, row: Row) -> None:
        """Keep the rows in step after an insert from :meth:`insert` committed."""
        if self._rows is not None:
            self._rows[row.version] = row

    def delete_query(self, version: str) -> Query:
        """The DELETE of ``version``'s row, to run by the caller, which then calls :meth:`deleted`."""
        return Query(self._delete, {"version": version})

    def deleted(self, version: str) -> None:
        if self._rows is not None:
            self._rows.pop(version, None)

    def record(self, row: Row) -> None:
        """Insert ``row`` now (in autocommit mode, that commits it)."""
        query = self.insert(row)
        self._cursor().execute(query.sql, query.params)
        self.inserted(row)

    def mark_deleted(self, version: str) -> None:
        self._conn.execute(
            sqlalchemy.text(f"UPDATE {self._quoted} SET kind = :k WHERE version = :v"),
            {"k": KIND_DELETED, "v": version},
        )
        self._update(version, lambda row: dataclasses.replace(row, kind=KIND_DELETED))

    def mark_dirty(self, version: str) -> None:
        """Before a revert that commits as it goes: one that stops half-way leaves this mark for `repair`."""
        self._conn.execute(
            sqlalchemy.text(f"UPDATE {self._quoted} SET dirty = :t, success = :f WHERE version = :v"),
            {"t": True, "f": False, "v": version},
        )
        self._update(version, lambda row: dataclasses.replace(row, dirty=True, success=False))

    def mark_clean(self, *, version: str, execution_ms: int) -> None:
        self._conn.execute(
            sqlalchemy.text(
                f"UPDATE {self._quoted} SET dirty = :f, success = :t, execution_ms = :ms WHERE version = :v"
            ),
            {"f": False, "t": True, "ms": execution_ms, "v": version},
        )
        self._update(
            version, lambda row: dataclasses.replace(row, dirty=False, success=True, execution_ms=execution_ms)
        )

    def update_checksum(self, *, version: str, checksum: str) -> None:
        self._conn.execute(
            sqlalchemy.text(f"UPDATE {self._quoted} SET checksum = :c WHERE version = :v"),
            {"c": checksum, "v": version},
        )
        self._update(version, lambda row: dataclasses.replace(row, checksum=checksum))

    def delete(self, versions: Iterable[str]) -> None:
        for version in versions:
            query = self.delete_query(version)
            self._cursor().execute(query.sql, query.params)
            self.deleted(version)

    def _update(self, version: str, change: Callable[[Row], Row]) -> None:
        if self._rows is not None and version in self._rows:
            self._rows[version] = change(self._rows[version])

    def _read(self) -> list[Row]:
        """In the dialect's neutral session: psycopg parses timestamps in ISO DateStyle only."""
        with self._dialect.neutral_session(self._conn):
            cursor = self._cursor()
            cursor.execute(f"SELECT {_COLUMNS} FROM {self._quoted} ORDER BY applied_at, version")
            return [_row(*values) for values in cursor.fetchall()]

    def _cursor(self) -> Any:
        return self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


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
    return Row(version, name, kind, checksum, applied_at, ms, bool(success), by, bool(dirty))


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
