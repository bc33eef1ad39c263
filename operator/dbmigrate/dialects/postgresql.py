"""PostgreSQL: transactional DDL, ``pg_advisory_lock`` as the run lock, ``lock_timeout``/``statement_timeout``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy

from dbmigrate import errors
from dbmigrate.dialects import base

if TYPE_CHECKING:
    from dbmigrate.dialects import pgpipeline

_POLL_SECONDS = 0.1
#: How often the server checks, while our statement runs, that we are still there (milliseconds).
CLIENT_CHECK_MS = 3000
#: SQLSTATE 55P03 lock_not_available: what ``lock_timeout`` raises.
_LOCK_NOT_AVAILABLE = "55P03"
#: Settings that change how the server prints values (and psycopg can parse only ISO dates), with the values the
#: catalogs and the history are read in: extra_float_digits 1 prints floats exactly (the default from 12 on).
_NEUTRAL = {"TimeZone": "UTC", "DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "1"}
_SET_ALL = "SELECT " + ", ".join(f"set_config('{name}', :{name}, false)" for name in _NEUTRAL)


class PostgreSQL(base.Dialect):
    name: ClassVar[str] = "postgresql"
    transactional_ddl: ClassVar[bool] = True
    elapsed_ms_sql: ClassVar[str | None] = (
        "CAST(EXTRACT(EPOCH FROM clock_timestamp() - transaction_timestamp()) * 1000 AS INTEGER)"
    )

    def acquire_lock(self, conn: sqlalchemy.Connection, *, key: str, timeout: float) -> None:
        """Poll ``pg_try_advisory_lock`` (session level, so it survives our COMMITs and never blocks
        ``CREATE INDEX CONCURRENTLY`` the way an open transaction holding an xact lock would)."""
        lock_id = base.lock_key_int(key)
        deadline = time.monotonic() + timeout
        while not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({lock_id})").scalar():
            if time.monotonic() >= deadline:
                holder = self._holder(conn, lock_id)
                raise errors.LockTimeoutError(
                    f"timed out after {timeout:g}s waiting for the migration lock, held by {holder}",
                    hint="another dbmigrate run is applying migrations; wait for it, or raise --lock-wait",
                )
            time.sleep(_POLL_SECONDS)

    def check_session(self, conn: sqlalchemy.Connection, *, session_pooler: bool) -> None:
        """A pooler (PgBouncer, pgcat, Odyssey, Supavisor) answers the login itself, with a made-up backend pid;
        so a pid that differs from the server's own ``pg_backend_pid()`` means one is in between. In transaction
        mode it hands each transaction to whichever server session is free: the session-level run lock then stays
        with a pooled session after the run (blocking every later run until that session closes) and two runs can
        both apply. Refused unless the user says the pool is in session mode."""
        if session_pooler:
            return
        reported = getattr(getattr(conn.connection.dbapi_connection, "info", None), "backend_pid", None)
        actual = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        if reported is not None and reported != actual:
            raise errors.SafetyGateError(
                "refused: this connection goes through a connection pooler such as PgBouncer (the login reported "
                f"backend pid {reported}, the session's own is {actual}). Through a pooler in transaction mode the run "
                "lock is not this run's alone, so nothing was started",
                hint="migrate through a direct connection to PostgreSQL, or pass --session-pooler (session_pooler: "
                "true in dbmigrate.yaml) if it gives each client one server session for the whole connection "
                "(PgBouncer pool_mode=session, or a proxy that does not pool)",
            )

    def check_writable(self, conn: sqlalchemy.Connection) -> None:
        """A hot standby (a reader endpoint, or a former primary after a failover) answers reads like the primary;
        ``default_transaction_read_only`` (set for a role or database) makes every session read-only."""
        in_recovery, read_only = conn.exec_driver_sql(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
        ).one()
        if in_recovery:
            raise errors.SafetyGateError(
                "refused: this server is a hot standby (a read replica, in recovery) and migrations must run on the "
                "primary; nothing was started",
                hint="point --database / DATABASE_URL at the primary (the writer endpoint of a managed database, not "
                "a reader or replica endpoint)",
            )
        if read_only == "on":
            raise errors.SafetyGateError(
                "refused: sessions of this user or database are read-only (default_transaction_read_only is on); "
                "nothing was started",
                hint="migrate as a user that owns the schema, or turn it off for the migration role: ALTER ROLE "
                "<user> SET default_transaction_read_only = off",
            )

    def pinned(self, conn: sqlalchemy.Connection, table: str) -> str:
        """pg_dump output, pasted as a migration, starts with ``set_config('search_path', '', false)``."""
        return base.qualify(conn.exec_driver_sql("SELECT current_schema()").scalar(), table)

    def restore_session(self, conn: sqlalchemy.Connection) -> None:
        """Back to the connection's own search_path (its URL's options included): the catalog readers name tables
        relative to ``current_schema()``, and a fingerprint read under another would show drift that is not."""
        conn.exec_driver_sql("RESET search_path")

    @contextlib.contextmanager
    def neutral_session(self, conn: sqlalchemy.Connection) -> Iterator[None]:
        """``set_config(…, false)`` rather than ``SET LOCAL``: the reads may run outside a transaction."""
        names = ", ".join(f"current_setting('{name}')" for name in _NEUTRAL)
        saved = dict(zip(_NEUTRAL, conn.exec_driver_sql(f"SELECT {names}").one(), strict=True))
        conn.execute(sqlalchemy.text(_SET_ALL), _NEUTRAL)
        with base.restoring(lambda: conn.execute(sqlalchemy.text(_SET_ALL), saved)):
            yield

    def end_with_client(self, conn: sqlalchemy.Connection) -> None:
        """PostgreSQL notices a closed client socket only when it next writes to it, after the statement; from 14
        on, ``client_connection_check_interval`` makes it look while the statement runs (Linux servers)."""
        if (conn.dialect.server_version_info or (0,)) >= (14,):
            conn.exec_driver_sql(f"SET client_connection_check_interval = {CLIENT_CHECK_MS}")

    def release_lock(self, conn: sqlalchemy.Connection, *, key: str) -> bool:
        return bool(conn.exec_driver_sql(f"SELECT pg_advisory_unlock({base.lock_key_int(key)})").scalar())

    def pipeline(self, dbapi_connection: Any) -> pgpipeline.Pipeline | None:
        import psycopg

        from dbmigrate.dialects import pgpipeline

        # Not with psycopg2 (when the URL names it), nor with a libpq older than 14 (psycopg without its binary).
        if not isinstance(dbapi_connection, psycopg.Connection) or not psycopg.Pipeline.is_supported():
            return None
        return pgpipeline.Pipeline(dbapi_connection)

    def set_timeouts(
        self, conn: sqlalchemy.Connection, *, lock_timeout: float | None, statement_timeout: float | None
    ) -> None:
        conn.exec_driver_sql(f"SET lock_timeout = {_millis(lock_timeout)}")
        conn.exec_driver_sql(f"SET statement_timeout = {_millis(statement_timeout)}")

    def is_lock_timeout(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        return getattr(orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE

    def history_column_types(self) -> dict[str, str]:
        return {"timestamp": "TIMESTAMPTZ", "boolean": "BOOLEAN", "text": "TEXT"}

    def _holder(self, conn: sqlalchemy.Connection, lock_id: int) -> str:
        """Who holds our advisory lock, from pg_locks and pg_stat_activity."""
        classid, objid = (lock_id >> 32) & 0xFFFFFFFF, lock_id & 0xFFFFFFFF
        row = conn.execute(
            sqlalchemy.text(
                "SELECT a.pid, a.application_name, a.usename, a.client_addr::text, "
                "extract(epoch FROM now() - a.backend_start)::int, a.state, "
                "extract(epoch FROM now() - a.state_change)::int "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c AND l.objid = :o LIMIT 1"
            ),
            {"c": classid, "o": objid},
        ).first()
        if row is None:
            return "another session (it has just released it)"
        pid, app, user, addr, age, state, since = row
        source = addr or "local socket"
        described = f"pid {pid} ({app or 'unknown application'}, user {user}, from {source}, connected {age}s"
        if state == "idle":  # a run's session is mostly busy; a long-idle holder may be a pooled one that kept it
            return f"{described}, idle for {since}s; if no run is going on, end it: SELECT pg_terminate_backend({pid}))"
        return f"{described})"


def _millis(seconds: float | None) -> int:
    return 0 if seconds is None else max(1, int(seconds * 1000))
