"""Opening the one connection a run uses, and turning driver failures into messages a user can act on."""

from __future__ import annotations

import contextlib
import os
import re
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
    try:
        engine = sqlalchemy.create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            poolclass=sqlalchemy.NullPool,
            connect_args=_connect_args(dialect.name),
        )
    except (TypeError, ValueError) as exc:  # an option value of the URL the dialect cannot convert
        raise _refused_option(url, str(exc)) from None
    try:
        try:
            conn = engine.connect()
        except sqlalchemy.exc.DBAPIError as exc:
            raise connection_error(url, exc) from None
        except (TypeError, ValueError) as exc:  # PyMySQL takes the URL's options as keyword arguments
            raise _refused_option(url, str(exc)) from None
        except OSError as exc:  # raised by ssl (a file named by ssl_ca, ssl_cert or ssl_key), not a socket
            raise _tls_error(url, str(exc)) from None
        with conn:
            yield conn, dialect
    finally:
        engine.dispose()


def _refused_option(url: URL, message: str) -> errors.UsageError:
    return errors.UsageError(
        f"the database URL has an option that {url.get_backend_name()} refused: {_redacted(url, message)}",
        hint="check the URL's query string (?name=value): option names and values as the driver documents them",
    )


def _tls_error(url: URL, message: str) -> errors.ConnectionFailedError:
    return errors.ConnectionFailedError(
        f"cannot set up TLS with {_target(url)}: {_redacted(url, message)}",
        hint="check the URL's TLS options (PostgreSQL: sslmode, sslrootcert; MySQL/MariaDB: ssl_ca, ssl_cert, "
        "ssl_key): the files must exist (in Kubernetes: be mounted), the CA must be the one that signed the "
        "server's certificate, and the server must offer TLS when the URL requires it",
    )


def _redacted(url: URL, text: str) -> str:
    """``text`` without the URL's secrets, should a driver's message quote them."""
    for secret in dburl.secrets(url):
        text = text.replace(secret, "***")
    return text


def _target(url: URL) -> str:
    return f"{url.get_backend_name()} at {url.host or 'local'}:{url.port or 'default port'}"


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


def connection_error(url: URL, exc: BaseException) -> errors.DbmigrateError:
    """A clear connection error: which server, and whether it was unreachable, refused the credentials, or was
    reached but lacks the database or the user's access to it (each needs a different fix); an option of the URL
    the driver or server refused is a usage error."""
    message = _redacted(url, driver_message(exc))
    target = _target(url)
    lowered = message.lower()
    code = _mysql_code(exc)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or "").resolve().parent
        return errors.ConnectionFailedError(
            f"cannot open SQLite database {url.database}: {message}",
            hint=None if os.access(folder, os.W_OK) else f"the directory {folder} must exist and be writable",
        )
    # Connection failures carry no SQLSTATE in psycopg; the server's (English) wording is what there is.
    if _INVALID_OPTION.search(lowered):  # libpq's and the server's words for a bad option in the URL
        return _refused_option(url, message)
    if code == _MYSQL_UNKNOWN_DATABASE or ('database "' in lowered and "does not exist" in lowered):
        return errors.ConnectionFailedError(
            f"{target} has no database {url.database!r}: {message}",
            hint="create the database first (dbmigrate creates tables, not databases), or fix its name in the URL",
        )
    if code == _MYSQL_NO_DATABASE_ACCESS or "permission denied for database" in lowered:
        return errors.ConnectionFailedError(
            f"{target} accepted user {url.username!r} but not on database {url.database!r}: {message}",
            hint="grant the user access to the database (PostgreSQL: GRANT CONNECT; MySQL/MariaDB: GRANT … ON db.*)",
        )
    if "no pg_hba.conf entry" in lowered:
        return errors.ConnectionFailedError(
            f"{target} does not let user {url.username!r} connect from here: {message}",
            hint="the server's pg_hba.conf needs an entry for this client; if it only admits TLS connections, "
            "add sslmode=require to the URL",
        )
    if "ssl" in lowered or "certificate" in lowered:
        return _tls_error(url, message)
    if any(words in lowered for words in ("password", "access denied", "authentication", 'role "')):
        return errors.ConnectionFailedError(
            f"{target} refused the credentials for user {url.username!r}: {message}",
            hint="check the user and password in --database / DATABASE_URL (the password is never printed)",
        )
    return errors.ConnectionFailedError(
        f"cannot reach {target}: {message}",
        hint="check the host and port, that the server is running, and that this machine may connect to it",
    )


#: 'invalid connection option "x"', 'invalid sslmode value: "x"', 'invalid integer value "x" for connection option
#: "port"', and the server's 'invalid value for parameter "x"' (an ``options=-c …``).
_INVALID_OPTION = re.compile(r"\binvalid (?:connection option|[a-z_ ]*value)")

#: PyMySQL error codes: ER_BAD_DB_ERROR and ER_DBACCESS_DENIED_ERROR.
_MYSQL_UNKNOWN_DATABASE = 1049
_MYSQL_NO_DATABASE_ACCESS = 1044


def _mysql_code(exc: BaseException) -> int | None:
    """The error code of a PyMySQL error (its args are ``(code, message)``), or None for any other."""
    args: tuple[object, ...] = getattr(getattr(exc, "orig", None) or exc, "args", ())
    return args[0] if len(args) == 2 and isinstance(args[0], int) else None
