"""Taking a snapshot of the schema a connection sees."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Collection, Iterator

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
    with _collector_paused():
        return assemble(_READERS[dialect](conn), exclude_tables=exclude_tables)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Building a snapshot allocates ~10 objects per column and none of them form cycles, yet on thousands of
    tables the allocations set off repeated full garbage collections that cost a third of the CPU time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
