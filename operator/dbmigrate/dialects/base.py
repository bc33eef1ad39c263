"""What every database dialect provides to the engine: connection set-up, the run lock, transactions, timeouts.

The engine drives one connection in autocommit mode and issues ``BEGIN``/``COMMIT`` itself, so it alone decides
what is transactional (and statements such as ``CREATE INDEX CONCURRENTLY`` can run outside a transaction on the
same connection that holds the session-level lock).
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy

from dbmigrate import errors
from dbmigrate.sources import model
from dbmigrate.sqltext import Statement, split_statements, transaction_body

if TYPE_CHECKING:
    from dbmigrate.dialects import pgpipeline

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Dialect(abc.ABC):
    """Per-database behaviour; one subclass per database, in a module of its own."""

    name: ClassVar[str]
    #: Whether DDL takes part in transactions (PostgreSQL, SQLite) or commits implicitly (MySQL/MariaDB).
    transactional_ddl: ClassVar[bool]
    quote_char: ClassVar[str] = '"'
    #: How a migration's transaction starts.
    begin_statement: ClassVar[str] = "BEGIN"
    #: SQL for the milliseconds since the current transaction began, where the database can tell: then a
    #: migration's history row can be queued with its statements and still time all of them.
    elapsed_ms_sql: ClassVar[str | None] = None

    def engine_options(self) -> dict[str, object]:
        """Extra ``create_engine`` options for this database."""
        return {}

    @abc.abstractmethod
    def acquire_lock(self, conn: sqlalchemy.Connection, *, key: str, timeout: float) -> None:
        """Take the per-database migration lock, a session-level lock the server releases if we die.

        Raises :class:`errors.LockTimeoutError` naming the holder, when the server can tell, after ``timeout``.
        """

    def check_session(self, conn: sqlalchemy.Connection, *, session_pooler: bool) -> None:
        """Refuse, before the run lock is taken, a connection whose server session could change under the run
        (nothing to check where the driver talks to the database itself)."""
        return None

    def check_writable(self, conn: sqlalchemy.Connection) -> None:
        """Refuse, before a run (or its dry run) takes the lock, a server or session that must not or cannot take
        writes (a read replica, a read-only session): said plainly up front, instead of failing on the first write
        or, on a replica that lets a privileged account write, quietly breaking replication. Nothing to check by
        default (SQLite reports a read-only file clearly on its own)."""
        return None

    def pinned(self, conn: sqlalchemy.Connection, table: str) -> str:
        """``table`` (one of ours) qualified with the schema it resolves to now, so that a migration's
        ``SET search_path`` or ``USE`` cannot send dbmigrate's own reads and writes elsewhere. Unchanged where the
        database has no such setting, when already qualified, or when that schema's name is no plain identifier."""
        return table

    def restore_session(self, conn: sqlalchemy.Connection) -> None:
        """Undo, after the migrations, what they may have changed in the session that the checks after them read
        (the schema names resolve in): nothing by default."""
        return None

    @contextlib.contextmanager
    def neutral_session(self, conn: sqlalchemy.Connection) -> Iterator[None]:
        """Read the catalogs and the history in settings of our own, then give the session its own back.

        The server prints defaults, checks and view definitions (and the driver parses timestamps) in the
        session's time zone and date style, which a role, a database or a migration may set: read in those, the
        same schema would fingerprint differently in CI and production. Nothing to do by default (SQLite)."""
        yield

    def cancel_running(self, conn: sqlalchemy.Connection) -> None:
        """Stop, from another connection, the statement ``conn`` runs, when the run is interrupted (Ctrl-C,
        SIGTERM) while waiting for it. Nothing to do by default: psycopg cancels by itself, SQLite runs in-process."""
        return None

    def end_with_client(self, conn: sqlalchemy.Connection) -> None:
        """Have the server end this session's statement should the client vanish without a word (SIGKILL, an
        OOM-killed pod, a lost node), instead of running it on with its locks; where the server can."""
        return None

    @abc.abstractmethod
    def release_lock(self, conn: sqlalchemy.Connection, *, key: str) -> bool:
        """Give the migration lock back; False if this session no longer held it (a migration released it, or a
        pooler moved the run to another server session), which the run then reports."""

    def begin(self, conn: sqlalchemy.Connection) -> None:
        conn.exec_driver_sql(self.begin_statement)

    def rollback(self, conn: sqlalchemy.Connection) -> None:
        conn.exec_driver_sql("ROLLBACK")

    def statements(self, script: model.Script) -> Sequence[Statement]:
        """The statements ``script`` runs as here; for a script that runs in our own transaction, without a BEGIN …
        COMMIT around the whole file, and refused if it ends the transaction anywhere else
        (:func:`dbmigrate.sqltext.transaction_body`)."""
        split = split_statements(script.sql, dialect=self.name, first_line=script.first_line)
        if self.transactional_ddl and script.transactional:
            return transaction_body(split, dialect=self.name, filename=script.filename)
        return split

    def atomic(self, script: model.Script) -> bool:
        """Whether ``script`` runs in one transaction with its history row, so that a failure keeps nothing of it."""
        return self.transactional_ddl and script.transactional

    def pipeline(self, dbapi_connection: Any) -> pgpipeline.Pipeline | None:
        """A pipeline that runs migrations' transactions back to back on this driver connection, where the driver
        has one (then :attr:`elapsed_ms_sql` is set too)."""
        return None

    @abc.abstractmethod
    def set_timeouts(
        self, conn: sqlalchemy.Connection, *, lock_timeout: float | None, statement_timeout: float | None
    ) -> None:
        """Bound how long each following statement may wait for a table lock and run (seconds; None = no bound)."""

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Whether a failed statement failed because it waited too long for a table lock (so a retry may work)."""
        return False

    def history_column_types(self) -> dict[str, str]:
        """SQL types of the history table's timestamp and boolean columns, and of the state table's snapshot."""
        return {"timestamp": "TIMESTAMP", "boolean": "BOOLEAN", "text": "TEXT"}

    def timestamp_param(self, value: datetime) -> object:
        """A UTC timestamp as the driver should bind it into the history table."""
        return value

    def quote(self, identifier: str) -> str:
        """Quote a validated (possibly schema-qualified) identifier."""
        q = self.quote_char
        return ".".join(f"{q}{part}{q}" for part in validate_identifier(identifier).split("."))

    def server_version(self, conn: sqlalchemy.Connection) -> str:
        return ".".join(str(part) for part in conn.dialect.server_version_info or ())


@contextlib.contextmanager
def restoring(restore: Callable[[], object]) -> Iterator[None]:
    """Run ``restore`` after the block; after a failed one too, unless the session cannot take it (in a failed
    transaction, whose rollback undoes the block's settings anyway): the block's own error is the one to see."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlalchemy.exc.DBAPIError):
            restore()
        raise
    restore()


def validate_identifier(identifier: str) -> str:
    """``name`` or ``schema.name`` made of letters, digits and underscores; anything else is a usage error."""
    parts = identifier.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.match(part) for part in parts):
        raise errors.UsageError(
            f"invalid table name {identifier!r}: use letters, digits and underscores (optionally schema.table)"
        )
    return identifier


def qualify(schema: object, table: str) -> str:
    """``schema.table`` for :meth:`Dialect.pinned`, or ``table`` as it was when that cannot be written plainly."""
    if "." in table or not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        return table
    return f"{schema}.{table}"


def lock_key_int(key: str) -> int:
    """A signed 64-bit number for ``key``, as PostgreSQL's advisory locks take."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
