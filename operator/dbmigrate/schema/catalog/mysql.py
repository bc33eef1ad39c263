"""The schema of the current MySQL/MariaDB database, from information_schema.

MySQL has one namespace per database, so every name is unqualified; the database's own name, which the
server writes into view definitions, is taken out of them. A ``UNIQUE`` key is an index in MySQL (``CREATE
UNIQUE INDEX`` and ``UNIQUE KEY`` are the same thing) and is reported as a unique index; the primary key,
foreign keys and checks are constraints.
"""

from __future__ import annotations

import itertools

import sqlalchemy

from dbmigrate.schema.catalog import Parts, Row, rows
from dbmigrate.schema.model import Column, Constraint, Index, View, qualify

_TABLES = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
"""

_COLUMNS = """
SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, c.ORDINAL_POSITION,
       c.EXTRA, c.GENERATION_EXPRESSION
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
"""

_INDEXES = """
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

_KEYS = """
SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA,
       k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE, rc.UPDATE_RULE
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
     AND tc.TABLE_NAME = k.TABLE_NAME AND tc.CONSTRAINT_NAME = k.CONSTRAINT_NAME
LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
     AND rc.TABLE_NAME = k.TABLE_NAME AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'FOREIGN KEY')
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

# MySQL names checks per database, MariaDB per table (and only MariaDB's CHECK_CONSTRAINTS has TABLE_NAME).
_CHECKS = """
SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME {same_table}
WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'
"""

_VIEWS = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"


def read(conn: sqlalchemy.Connection) -> Parts:
    """All tables, columns, indexes, constraints and views of the current database, in seven queries."""
    database = conn.execute(sqlalchemy.text("SELECT DATABASE()")).scalar_one()
    parts = Parts(own_schema=database, tables=[(None, r[0]) for r in rows(conn, _TABLES)])
    parts.columns = [((None, r[0]), _column(r)) for r in rows(conn, _COLUMNS)]
    for (table, name), group in itertools.groupby(rows(conn, _INDEXES), key=lambda r: (r[0], r[1])):
        keys = list(group)
        items = tuple(f"{k[3]}{f'({k[4]})' if k[4] else ''}{' DESC' if k[5] == 'D' else ''}" for k in keys)
        index = Index(name=name, columns=items, unique=not int(keys[0][2]), method=keys[0][6].lower())
        parts.indexes.append(((None, table), index))
    for (table, name), group in itertools.groupby(rows(conn, _KEYS), key=lambda r: (r[0], r[1])):
        parts.constraints.append(((None, table), _key(name, list(group), database=database)))
    same_table = "AND cc.TABLE_NAME = tc.TABLE_NAME" if getattr(conn.dialect, "is_mariadb", False) else ""
    for r in rows(conn, _CHECKS.format(same_table=same_table)):
        parts.constraints.append(((None, r[0]), Constraint(name=r[1], kind="check", expression=r[2])))
    own_prefix = f"`{database.replace('`', '``')}`."
    parts.views = [View(name=r[0], schema=None, definition=r[1].replace(own_prefix, "")) for r in rows(conn, _VIEWS)]
    return parts


def _column(r: Row) -> Column:
    extra: str = r[6] or ""
    default = None if r[4] in (None, "NULL") else r[4]
    if extra.lower().startswith("on update "):
        # Part of how the column gets its value, so kept with the default.
        default = f"{default} {extra.lower()}"
    generated = None
    if r[7]:
        generated = f"{r[7]} {'stored' if 'STORED' in extra.upper() else 'virtual'}"
    return Column(
        name=r[1],
        type=r[2],
        nullable=r[3] == "YES",
        default=default,
        ordinal=int(r[5]),
        identity="auto_increment" if "auto_increment" in extra.lower() else None,
        generated=generated,
    )


def _key(name: str, keys: list[Row], *, database: str) -> Constraint:
    columns = tuple(k[3] for k in keys)
    if keys[0][2] == "PRIMARY KEY":
        return Constraint(name=name, kind="primary key", columns=columns)
    ref_schema = None if keys[0][4] == database else keys[0][4]
    return Constraint(
        name=name,
        kind="foreign key",
        columns=columns,
        ref_table=qualify(ref_schema, keys[0][5]),
        ref_columns=tuple(k[6] for k in keys),
        on_delete=keys[0][7].lower(),
        on_update=keys[0][8].lower(),
    )
