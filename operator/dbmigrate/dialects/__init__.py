"""Per-database behaviour, one module per database; :func:`for_name` picks the right one."""

from __future__ import annotations

from dbmigrate.dialects import base, mysql, postgresql, sqlite


def for_name(name: str) -> base.Dialect:
    """A fresh dialect object for our dialect name (``postgresql``, ``mysql``, ``sqlite``)."""
    classes: dict[str, type[base.Dialect]] = {
        "postgresql": postgresql.PostgreSQL,
        "mysql": mysql.MySQL,
        "sqlite": sqlite.SQLite,
    }
    return classes[name]()
