"""Taking a snapshot of the schema a connection sees."""

from __future__ import annotations

from collections.abc import Callable, Collection

import sqlalchemy

from dbmigrate.schema.catalog import Parts, assemble, mysql, postgresql, sqlite
from dbmigrate.schema.model import Schema

_READERS: dict[str, Callable[[sqlalchemy.Connection], Parts]] = {
    "postgresql": postgresql.read,
    "mysql": mysql.read,
    "sqlite": sqlite.read,
}


def read_schema(conn: sqlalchemy.Connection, *, dialect: str, exclude_tables: Collection[str] = ()) -> Schema:
    """The schema of the database ``conn`` is connected to, read from its catalogs.

    ``exclude_tables`` (named as :attr:`Table.qualified_name` spells them) are left out with all they own, so
    dbmigrate's own bookkeeping tables do not count as schema. Run it in a transaction (REPEATABLE READ on
    PostgreSQL/MySQL) to get one consistent view while other sessions change the schema.
    """
    return assemble(_READERS[dialect](conn), exclude_tables=exclude_tables)
