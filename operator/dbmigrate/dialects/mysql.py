"""MySQL/MariaDB: DDL commits implicitly, ``GET_LOCK`` as the run lock, ``lock_wait_timeout`` for table locks."""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

import sqlalchemy

from dbmigrate import errors
from dbmigrate.dialects import base
from dbmigrate.sources import model

#: ER_LOCK_WAIT_TIMEOUT: raised for metadata-lock and row-lock waits alike.
_LOCK_WAIT_TIMEOUT = 1205


#: First words of statements that never commit implicitly (DDL, LOCK TABLES, SET autocommit, CALL may).
_NO_IMPLICIT_COMMIT = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH", "VALUES", "TABLE"})


class MySQL(base.Dialect):
    name: ClassVar[str] = "mysql"
    transactional_ddl: ClassVar[bool] = False
    quote_char: ClassVar[str] = "`"

    def atomic(self, script: model.Script) -> bool:
        """A migration of data changes alone runs in one transaction (on InnoDB tables): only DDL forces the
        mark-dirty-then-clean path, where a failure half-way keeps what ran before it."""
        return script.transactional and all(
            bool(s.head) and s.head[0] in _NO_IMPLICIT_COMMIT for s in self.statements(script)
        )

    def acquire_lock(self, conn: sqlalchemy.Connection, *, key: str, timeout: float) -> None:
        """``GET_LOCK`` is server-wide and session level: named after the database so that two databases on one
        server migrate independently, and released by the server when our connection dies."""
        name = self._lock_name(conn, key)
        deadline = time.monotonic() + timeout
        while True:
            wait = max(0.0, min(1.0, deadline - time.monotonic()))
            got = conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, :w)"), {"n": name, "w": wait}).scalar()
            if got == 1:
                return
            if time.monotonic() >= deadline:
                raise errors.LockTimeoutError(
                    f"timed out after {timeout:g}s waiting for the migration lock, held by {self._holder(conn, name)}",
                    hint="another dbmigrate run is applying migrations; wait for it, or raise --lock-wait",
                )

    def check_writable(self, conn: sqlalchemy.Connection) -> None:
        """``read_only`` marks a replica (or a primary fenced off during a failover) but does not stop an account
        with SUPER or READ_ONLY ADMIN, which migration accounts often have: they would write to the replica and
        break replication. So it is refused whoever we are, as are a server started read-only and a read-only
        session (``SET SESSION TRANSACTION READ ONLY``, e.g. from an ``init_command``)."""
        session_flag = "tx_read_only" if self._is_mariadb(conn) else "transaction_read_only"
        server, innodb, session = conn.exec_driver_sql(
            f"SELECT @@global.read_only, @@global.innodb_read_only, @@session.{session_flag}"
        ).one()
        if _on(server) or _on(innodb):
            raise errors.SafetyGateError(
                "refused: the server is read-only (read_only or innodb_read_only is set: a replica, or a primary "
                "fenced off during a failover); a privileged account could still write to it and break "
                "replication, so nothing was started",
                hint="point --database / DATABASE_URL at the primary; if this server is the primary, make it "
                "writable first (SET GLOBAL read_only = OFF)",
            )
        if _on(session):
            raise errors.SafetyGateError(
                f"refused: this session is read-only ({session_flag} is on); nothing was started",
                hint="connect without SET SESSION TRANSACTION READ ONLY (look for it in an init_command)",
            )

    def pinned(self, conn: sqlalchemy.Connection, table: str) -> str:
        return base.qualify(conn.exec_driver_sql("SELECT DATABASE()").scalar(), table)

    def restore_session(self, conn: sqlalchemy.Connection) -> None:
        """Back to the URL's database after a migration's ``USE``: the catalog readers read ``DATABASE()``."""
        if conn.engine.url.database:
            conn.exec_driver_sql(f"USE {self.quote_char}{conn.engine.url.database}{self.quote_char}")

    @contextlib.contextmanager
    def neutral_session(self, conn: sqlalchemy.Connection) -> Iterator[None]:
        """information_schema prints TIMESTAMP defaults in the session's ``time_zone``."""
        saved = conn.exec_driver_sql("SELECT @@session.time_zone").scalar()
        conn.exec_driver_sql("SET time_zone = '+00:00'")
        with base.restoring(lambda: conn.execute(sqlalchemy.text("SET time_zone = :z"), {"z": saved})):
            yield

    def cancel_running(self, conn: sqlalchemy.Connection) -> None:
        """The server runs a statement to its end after its client stops waiting (an ALTER TABLE keeping its
        metadata lock, so every query on the table queued behind it), so it is killed from a second connection."""
        thread_id = int(conn.connection.dbapi_connection.thread_id())  # type: ignore[union-attr]
        with contextlib.suppress(sqlalchemy.exc.DBAPIError), conn.engine.connect() as other:
            other.exec_driver_sql(f"KILL QUERY {thread_id}")

    def release_lock(self, conn: sqlalchemy.Connection, *, key: str) -> bool:
        released = conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": self._lock_name(conn, key)})
        return bool(released.scalar() == 1)  # 0: another connection holds it; NULL: nobody does

    def set_timeouts(
        self, conn: sqlalchemy.Connection, *, lock_timeout: float | None, statement_timeout: float | None
    ) -> None:
        # lock_wait_timeout bounds metadata-lock waits (ALTER behind a long transaction); the InnoDB one row locks.
        wait = 31536000 if lock_timeout is None else max(1, math.ceil(lock_timeout))
        conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {wait}")
        conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {min(wait, 1073741824)}")
        if self._is_mariadb(conn):
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {statement_timeout or 0:g}")
        else:
            conn.exec_driver_sql(f"SET SESSION max_execution_time = {int((statement_timeout or 0) * 1000)}")

    def is_lock_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        args: tuple[object, ...] = getattr(orig, "args", ())
        return bool(args) and args[0] == _LOCK_WAIT_TIMEOUT

    def history_column_types(self) -> dict[str, str]:
        return {"timestamp": "DATETIME(6)", "boolean": "BOOLEAN", "text": "LONGTEXT"}

    def timestamp_param(self, value: datetime) -> object:
        return value.replace(tzinfo=None)

    @staticmethod
    def _is_mariadb(conn: sqlalchemy.Connection) -> bool:
        return bool(getattr(conn.dialect, "is_mariadb", False))

    @staticmethod
    def _lock_name(conn: sqlalchemy.Connection, key: str) -> str:
        database = conn.exec_driver_sql("SELECT DATABASE()").scalar() or ""
        return "dbmigrate:" + hashlib.sha256(f"{database}\0{key}".encode()).hexdigest()[:40]

    @staticmethod
    def _holder(conn: sqlalchemy.Connection, name: str) -> str:
        row = conn.execute(
            sqlalchemy.text(
                "SELECT p.ID, p.USER, p.HOST, p.TIME FROM information_schema.PROCESSLIST p "
                "WHERE p.ID = IS_USED_LOCK(:n)"
            ),
            {"n": name},
        ).first()
        if row is None:
            return "another session (it has just released it)"
        conn_id, user, host, seconds = row
        return f"connection {conn_id} (user {user} from {host}, in its current state for {seconds}s)"


def _on(value: object) -> bool:
    """A server flag as set: 1 (MariaDB 10.x, MySQL) or a word other than OFF (newer MariaDB's read_only modes)."""
    return value is not None and str(value).upper() not in ("0", "OFF")
