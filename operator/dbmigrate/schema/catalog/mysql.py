"""The schema of the current MySQL/MariaDB database, from information_schema.

MySQL has one namespace per database, so every name is unqualified; the database's own name, which the
server writes into view definitions, is taken out of them. A ``UNIQUE`` key is an index in MySQL (``CREATE
UNIQUE INDEX`` and ``UNIQUE KEY`` are the same thing) and is reported as a unique index; the primary key,
foreign keys and checks are constraints.

information_schema compares names case-insensitively (``utf8_general_ci``), yet tables ``T`` and ``t`` are two
tables on a case-sensitive file system: joins compare names with ``BINARY`` and rows are grouped here, in Python,
never by an ``ORDER BY`` under that collation.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy

from dbmigrate.schema.catalog import Parts, Row, rows
from dbmigrate.schema.model import Column, Constraint, Index, Routine, Trigger, View, qualify
from dbmigrate.schema.model import Sequence as SequenceModel

# MariaDB lists a system-versioned table as such, and a sequence as a table of its own kind.
_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE')
"""

# Columns of views and sequences come too, and are ignored (they belong to no table read).
_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, ORDINAL_POSITION, EXTRA,
       GENERATION_EXPRESSION, COLLATION_NAME
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE()
"""

_INDEXES = """
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE, SEQ_IN_INDEX
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'
"""

# The primary key is always named PRIMARY; a foreign key's columns reference a table; UNIQUE keys are indexes.
_KEYS = """
SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME,
       k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, k.ORDINAL_POSITION
FROM information_schema.KEY_COLUMN_USAGE k
LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
     AND BINARY rc.TABLE_NAME = BINARY k.TABLE_NAME AND BINARY rc.CONSTRAINT_NAME = BINARY k.CONSTRAINT_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND (k.CONSTRAINT_NAME = 'PRIMARY' OR k.REFERENCED_TABLE_NAME IS NOT NULL)
"""

# MySQL names checks per database, MariaDB per table (and only MariaDB's CHECK_CONSTRAINTS has TABLE_NAME).
_CHECKS = """
SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND BINARY cc.CONSTRAINT_NAME = BINARY tc.CONSTRAINT_NAME {same_table}
WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'
"""

_VIEWS = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"

_TRIGGERS = """
SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORIENTATION, ACTION_STATEMENT
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
"""

_ROUTINES = """
SELECT SPECIFIC_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE,
       ROUTINE_DEFINITION
FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
"""

# Position 0 is a function's return value, which ROUTINES has.
_PARAMETERS = """
SELECT SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER, ORDINAL_POSITION
FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0
"""

# A sequence's definition is only in the sequence itself (information_schema.SEQUENCES: MariaDB 11.5 on).
_SEQUENCE = (
    "SELECT {number}, start_value, increment, minimum_value, maximum_value, cache_size, cycle_option FROM {table}"
)

_BY_POSITION = operator.itemgetter(-1)


def read(conn: sqlalchemy.Connection) -> Parts:
    """All tables, columns, indexes, constraints, triggers, views, routines and sequences of the current
    database, in eleven queries (twelve with sequences)."""
    database = conn.execute(sqlalchemy.text("SELECT DATABASE()")).scalar_one()
    parts = Parts(own_schema=database)
    sequences = []
    for name, kind, engine, collation in rows(conn, _TABLES):
        if kind == "SEQUENCE":
            sequences.append(name)
            continue
        parts.tables.append((None, name))
        versioning = ("system versioning",) if kind == "SYSTEM VERSIONED" else ()
        parts.options[None, name] = (f"engine {engine}", f"collation {collation}", *versioning)
    parts.columns = [((None, r[0]), _column(r)) for r in rows(conn, _COLUMNS)]
    for (table, name), keys in _grouped(rows(conn, _INDEXES)):
        items = tuple(f"{k[3]}{f'({k[4]})' if k[4] else ''}{' DESC' if k[5] == 'D' else ''}" for k in keys)
        index = Index(name=name, columns=items, unique=not int(keys[0][2]), method=keys[0][6].lower())
        parts.indexes.append(((None, table), index))
    for (table, name), keys in _grouped(rows(conn, _KEYS)):
        parts.constraints.append(((None, table), _key(name, keys, database=database)))
    same_table = "AND BINARY cc.TABLE_NAME = BINARY tc.TABLE_NAME" if getattr(conn.dialect, "is_mariadb", False) else ""
    for r in rows(conn, _CHECKS.format(same_table=same_table)):
        parts.constraints.append(((None, r[0]), Constraint(name=r[1], kind="check", expression=r[2])))
    for r in rows(conn, _TRIGGERS):
        parts.triggers.append(((None, r[0]), Trigger(name=r[1], definition=f"{r[2]} {r[3]} FOR EACH {r[4]} {r[5]}")))
    own_prefix = f"`{database.replace('`', '``')}`."
    parts.views = [View(name=r[0], schema=None, definition=r[1].replace(own_prefix, "")) for r in rows(conn, _VIEWS)]
    parts.sequences = [(None, _sequence(r)) for r in _sequence_rows(conn, sequences)]
    parts.routines = _routines(conn)
    return parts


def _routines(conn: sqlalchemy.Connection) -> list[Routine]:
    """Functions and procedures (one namespace each), their parameters read in a second query."""
    parameters: dict[tuple[str, str], list[Row]] = {}
    for p in rows(conn, _PARAMETERS):
        parameters.setdefault((p[0], p[1]), []).append(p)
    routines = []
    for name, kind, returns, deterministic, access, security, body in rows(conn, _ROUTINES):
        listed = sorted(parameters.get((name, kind), []), key=_BY_POSITION)
        # Only a procedure's parameters have a mode (IN, OUT, INOUT).
        signature = ", ".join(" ".join(p[2:5] if kind == "PROCEDURE" else p[3:5]) for p in listed)
        characteristics = [
            f"RETURNS {returns}" if kind == "FUNCTION" else "",
            "DETERMINISTIC" if deterministic == "YES" else "NOT DETERMINISTIC",
            access,
            f"SQL SECURITY {security}",
        ]
        definition = " ".join([*(c for c in characteristics if c), body or ""])
        routines.append(Routine(name=name, schema=None, kind=kind.lower(), signature=signature, definition=definition))
    return routines


def _grouped(found: Iterable[Row]) -> list[tuple[tuple[str, str], list[Row]]]:
    """Rows by (table, object) name, exactly as spelled, each group in the order of its last column (position)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in found:
        groups.setdefault((r[0], r[1]), []).append(r)
    return [(key, sorted(group, key=_BY_POSITION)) for key, group in groups.items()]


def _sequence_rows(conn: sqlalchemy.Connection, names: Sequence[str]) -> list[tuple[Any, ...]]:
    """One query for all of them: each sequence is a one-row table of its own."""
    if not names:
        return []
    quote = conn.dialect.identifier_preparer.quote_identifier
    union = " UNION ALL ".join(_SEQUENCE.format(number=i, table=quote(name)) for i, name in enumerate(names))
    return [(names[r[0]], *r[1:]) for r in conn.exec_driver_sql(union)]  # not text(): a name may hold a colon


def _sequence(r: tuple[Any, ...]) -> SequenceModel:
    """MariaDB's sequences are BIGINT until 11.5."""
    return SequenceModel(
        name=r[0],
        schema=None,
        data_type="bigint",
        start=int(r[1]),
        increment=int(r[2]),
        min_value=int(r[3]),
        max_value=int(r[4]),
        cache=int(r[5]),
        cycle=bool(r[6]),
    )


def _column(r: Row) -> Column:
    extra: str = r[6] or ""
    default = None if r[4] in (None, "NULL") else r[4]
    if extra.lower().startswith("on update "):
        # Part of how the column gets its value, so kept with the default (if any).
        default = f"{default} {extra.lower()}" if default else extra.lower()
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
        collation=r[8],
    )


def _key(name: str, keys: list[Row], *, database: str) -> Constraint:
    columns = tuple(k[2] for k in keys)
    if name == "PRIMARY":
        return Constraint(name=name, kind="primary key", columns=columns)
    ref_schema = None if keys[0][3] == database else keys[0][3]
    return Constraint(
        name=name,
        kind="foreign key",
        columns=columns,
        ref_table=qualify(ref_schema, keys[0][4]),
        ref_columns=tuple(k[5] for k in keys),
        on_delete=keys[0][6].lower(),
        on_update=keys[0][7].lower(),
    )
