"""Opening the one connection a run uses, and turning driver failures into messages a user can act on."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import URL

from dbmigrate import dburl, dialects, errors
from dbmigrate.dialects import base

CONNECT_TIMEOUT_SECONDS = 10


def runner_identity() -> str:
    """Who is running: recorded as ``applied_by`` and shown to a second runner waiting for the lock."""
    return f"dbmigrate@{socket.gethostname()} pid {os.getpid()}"


@contextlib.contextmanager
def connect(url: URL) -> Iterator[tuple[sqlalchemy.Connection, base.Dialect]]:
    """An autocommit connection to ``url`` and the dialect that drives it; the engine is disposed on exit."""
    dialect = dialects.for_name(dburl.dialect_of(url))
    engine = sqlalchemy.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=sqlalchemy.NullPool,
        connect_args=_connect_args(dialect.name),
    )
    try:
        try:
            conn = engine.connect()
        except sqlalchemy.exc.DBAPIError as exc:
            raise connection_error(url, exc) from None
        with conn:
            yield conn, dialect
    finally:
        engine.dispose()


def _connect_args(dialect_name: str) -> dict[str, object]:
    if dialect_name == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": runner_identity()[:63]}
    if dialect_name == "mysql":
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


def driver_message(exc: BaseException) -> str:
    """The database's own message for a failed statement, without SQLAlchemy's wrapping and links."""
    orig = getattr(exc, "orig", None) or exc
    code = _mysql_code(exc)
    return str(orig).strip() if code is None else f"({code}) {orig.args[1]}"


def connection_error(url: URL, exc: BaseException) -> errors.ConnectionFailedError:
    """A clear connection error: which server, and whether it was unreachable, refused the credentials, or was
    reached but lacks the database or the user's access to it (each needs a different fix)."""
    message = driver_message(exc)
    target = f"{url.get_backend_name()} at {url.host or 'local'}:{url.port or 'default port'}"
    lowered = message.lower()
    code = _mysql_code(exc)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or "").resolve().parent
        return errors.ConnectionFailedError(
            f"cannot open SQLite database {url.database}: {message}",
            hint=None if os.access(folder, os.W_OK) else f"the directory {folder} must exist and be writable",
        )
    # Connection failures carry no SQLSTATE in psycopg; the server's (English) wording is what there is.
    if code == _MYSQL_UNKNOWN_DATABASE or ("database" in lowered and "does not exist" in lowered):
        return errors.ConnectionFailedError(
            f"{target} has no database {url.database!r}: {message}",
            hint="create the database first (dbmigrate creates tables, not databases), or fix its name in the URL",
        )
    if code == _MYSQL_NO_DATABASE_ACCESS or "permission denied for database" in lowered:
        return errors.ConnectionFailedError(
            f"{target} accepted user {url.username!r} but not on database {url.database!r}: {message}",
            hint="grant the user access to the database (PostgreSQL: GRANT CONNECT; MySQL/MariaDB: GRANT … ON db.*)",
        )
    if "password" in lowered or "access denied" in lowered or "authentication" in lowered:
        return errors.ConnectionFailedError(
            f"{target} refused the credentials for user {url.username!r}: {message}",
            hint="check the user and password in --database / DATABASE_URL (the password is never printed)",
        )
    return errors.ConnectionFailedError(
        f"cannot reach {target}: {message}",
        hint="check the host and port, that the server is running, and that this machine may connect to it",
    )


#: PyMySQL error codes: ER_BAD_DB_ERROR and ER_DBACCESS_DENIED_ERROR.
_MYSQL_UNKNOWN_DATABASE = 1049
_MYSQL_NO_DATABASE_ACCESS = 1044


def _mysql_code(exc: BaseException) -> int | None:
    """The error code of a PyMySQL error (its args are ``(code, message)``), or None for any other."""
    args: tuple[object, ...] = getattr(getattr(exc, "orig", None) or exc, "args", ())
    return args[0] if len(args) == 2 and isinstance(args[0], int) else None
