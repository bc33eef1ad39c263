"""A run's database session: connect, take the run lock, open the history table; and errors → outcomes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import sqlalchemy

from dbmigrate import config, database, dburl, errors, history, outcome
from dbmigrate.dialects import base


@contextlib.contextmanager
def capture(result: outcome.Outcome) -> Iterator[None]:
    """Turn any failure into the outcome's error, so every action ends in a report and an exit code."""
    try:
        yield
    except errors.DbmigrateError as exc:
        result.error = exc
    except sqlalchemy.exc.DBAPIError as exc:
        result.error = errors.MigrationError(f"database error: {database.driver_message(exc)}")
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: the statement was cancelled on the way out
        result.error = errors.interrupted(stop)


@contextlib.contextmanager
def open_session(
    settings: config.Settings,
    result: outcome.Outcome,
    *,
    lock: bool,
    create_history: bool = True,
    missing_file: Literal["create", "refuse", "empty"] = "create",
) -> Iterator[tuple[sqlalchemy.Connection, base.Dialect, history.History]]:
    """Connect, optionally take the run lock, and (with the lock) create the history table unless told not to:
    a dry run must leave the database exactly as it found it. A server the run could not write to is refused
    before the lock, as is a pooler that would share it: a dry run is refused alike, since the run would be.

    A SQLite file that does not exist is created (a run), refused, or read as an empty database without being
    created (``missing_file``): reading must not leave a stray file behind a mistyped path."""
    url = settings.url
    if missing_file != "create" and _missing_sqlite(url):
        if missing_file == "refuse":
            raise errors.ConnectionFailedError(
                f"no SQLite database at {url.database}",
                hint="check the path; `dbmigrate up` creates the file on its first run",
            )
        result.checks.append(
            outcome.Check("database", None, f"No SQLite database at {url.database} yet: read as empty")
        )
        url = url.set(database=":memory:")
    with database.connect(url) as (conn, dialect):
        result.database = {
            "dialect": dialect.name,
            "url": dburl.redacted(settings.url),
            "source": settings.url_source,
            "server_version": dialect.server_version(conn),
        }
        table = history.History(conn, dialect, table=dialect.pinned(conn, settings.history_table))
        if not lock:
            yield conn, dialect, table
            return
        key = f"dbmigrate:{settings.history_table}"
        dialect.check_session(conn, session_pooler=settings.session_pooler)
        dialect.check_writable(conn)
        dialect.end_with_client(conn)
        dialect.acquire_lock(conn, key=key, timeout=settings.lock_wait)
        try:
            if create_history:
                table.ensure()
            yield conn, dialect, table
        finally:
            # A lost connection (the run's own error says so) takes the session lock with it on the server.
            with contextlib.suppress(sqlalchemy.exc.DBAPIError, sqlalchemy.exc.InvalidRequestError):
                if not dialect.release_lock(conn, key=key):
                    result.checks.append(LOCK_LOST)


def _missing_sqlite(url: sqlalchemy.URL) -> bool:
    path = url.database
    return dburl.dialect_of(url) == "sqlite" and bool(path) and path != ":memory:" and not Path(str(path)).exists()


#: Reported when the run lock was gone at the end: runs may have overlapped (history rows stop a second apply of
#: one version), and a pooled server session may still hold it, blocking the next run.
LOCK_LOST = outcome.Check(
    "run_lock",
    True,
    "the run lock was no longer held by this session at the end of the run: a migration released it "
    "(pg_advisory_unlock_all, DISCARD ALL, RELEASE_ALL_LOCKS) or a connection pooler moved the run to another "
    "server session; if the next run waits for the lock, end the idle session holding it",
    warning=True,
)
