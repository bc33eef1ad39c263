"""Database URLs as users write them, turned into SQLAlchemy URLs with the drivers we ship.

Users paste the URLs their other tools take: ``postgres://`` (Heroku, Rails), ``postgresql://`` (libpq),
``mysql://`` / ``mariadb://`` and ``sqlite:///``; SQLAlchemy's ``dialect+driver://`` form is accepted as written.
Without a driver, SQLAlchemy would pick psycopg2 and mysqlclient, which we do not install, so the bare forms are
mapped to psycopg 3 and PyMySQL.
"""

from __future__ import annotations

import re

import sqlalchemy
from sqlalchemy.engine import URL

from dbmigrate import errors

#: URL scheme (before any ``+driver``) → (our dialect name, default SQLAlchemy drivername).
_SCHEMES = {
    "postgres": ("postgresql", "postgresql+psycopg"),
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "mysql": ("mysql", "mysql+pymysql"),
    "mariadb": ("mysql", "mariadb+pymysql"),
    "sqlite": ("sqlite", "sqlite"),
}


def parse(raw: str) -> URL:
    """The SQLAlchemy URL for ``raw``, with our default driver when none is named.

    Raises a usage error naming the accepted forms, never echoing the URL (it may hold a password).
    """
    try:
        url = sqlalchemy.make_url(raw.strip())
    except (sqlalchemy.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise errors.UsageError(
            "the database URL could not be parsed; use postgresql://user:pass@host:5432/db, "
            "mysql://user:pass@host:3306/db, sqlite:///path/to/file.db or SQLAlchemy's dialect+driver:// form, "
            "with @ : / in the user name or password percent-encoded (%40 %3A %2F)"
        ) from None
    if url.host and "@" in url.host:  # `user:p@ss@host`: the password's tail would be shown as the host
        raise errors.UsageError(
            "the database URL has more than one '@' before its host: a password (or user name) containing '@' must "
            "be percent-encoded as %40, e.g. postgresql://user:p%40ss@host/db (the URL is not shown: it holds a "
            "password)"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise errors.UsageError(f"the database URL's port {url.port} is not a TCP port (1-65535)")
    backend, _, driver = url.drivername.partition("+")
    if backend not in _SCHEMES:
        raise errors.UsageError(
            f"unsupported database {backend!r} in the database URL; dbmigrate supports PostgreSQL "
            "(postgresql://, postgres://), MySQL/MariaDB (mysql://, mariadb://) and SQLite (sqlite:///)"
        )
    if driver:
        return url.set(drivername=f"{'postgresql' if backend == 'postgres' else backend}+{driver}")
    return url.set(drivername=_SCHEMES[backend][1])


def dialect_of(url: URL) -> str:
    """Our dialect name (``postgresql``, ``mysql`` or ``sqlite``) for a URL from :func:`parse`."""
    return _SCHEMES[url.get_backend_name()][0]


def redacted(url: URL) -> str:
    """The URL as safe to print: the password, and the options that carry one, replaced by ``***``."""
    hidden = url.update_query_dict({key: "***" for key in url.query if is_secret_option(key)})
    return hidden.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def secrets(url: URL) -> list[str]:
    """What must never be printed: the password, and the values of options that carry one (libpq's
    ``?password=``, PyMySQL's ``?passwd=``), as a driver's message might quote them."""
    values = [url.password] if url.password else []
    for key, value in url.query.items():
        if is_secret_option(key):
            values += [value] if isinstance(value, str) else list(value)
    return [value for value in values if value]


#: Names of URL options whose values are secrets.
_SECRET_OPTION = re.compile(r"pass|secret|token|credential", re.IGNORECASE)


def is_secret_option(name: str) -> bool:
    return bool(_SECRET_OPTION.search(name))
