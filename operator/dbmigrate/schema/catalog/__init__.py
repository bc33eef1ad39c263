"""Reading a schema straight from each database's catalogs, one set-based query per kind of object.

SQLAlchemy's ``inspect()`` asks per table, which takes minutes on schemas with thousands of tables; each
dialect module here instead fetches all columns (all indexes, ...) of the schema at once into :class:`Parts`,
and :func:`assemble` groups them by table, so the per-dialect code only knows its catalog.
"""

from __future__ import annotations

import collections.abc
import dataclasses
from typing import Any

import sqlalchemy

from dbmigrate.schema.model import Column, Constraint, Index, Routine, Schema, Sequence, Table, Trigger, Type, View

#: A catalog query's row, read by position.
Row = sqlalchemy.Row[*tuple[Any, ...]]
#: A table as ``(schema or None for the connection's own, name)``.
TableKey = tuple[str | None, str]


@dataclasses.dataclass
class Parts:
    """What a dialect module read, each column/index/constraint tagged with its table."""

    #: The connection's own schema (PostgreSQL's current schema, MySQL's database, SQLite's ``main``), whose
    #: objects have ``schema`` None.
    own_schema: str | None = None
    tables: list[TableKey] = dataclasses.field(default_factory=list)
    #: :attr:`Table.options` of the tables that have any.
    options: dict[TableKey, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    columns: list[tuple[TableKey, Column]] = dataclasses.field(default_factory=list)
    indexes: list[tuple[TableKey, Index]] = dataclasses.field(default_factory=list)
    constraints: list[tuple[TableKey, Constraint]] = dataclasses.field(default_factory=list)
    triggers: list[tuple[TableKey, Trigger]] = dataclasses.field(default_factory=list)
    #: Views without their indexes: those are in :attr:`indexes`, under the view's key.
    views: list[View] = dataclasses.field(default_factory=list)
    #: Each sequence with the table of the column that owns it, if any.
    sequences: list[tuple[TableKey | None, Sequence]] = dataclasses.field(default_factory=list)
    routines: list[Routine] = dataclasses.field(default_factory=list)
    types: list[Type] = dataclasses.field(default_factory=list)


def assemble(parts: Parts, *, exclude_tables: collections.abc.Collection[str] = ()) -> Schema:
    """The schema of ``parts`` without the ``exclude_tables``, their indexes, constraints and the sequences they
    own; parts of tables not in ``parts.tables`` (views' columns, say) are ignored.

    ``exclude_tables`` are ``name`` (in the own schema) or ``schema.name``, the own schema's name included, so
    a table name pinned to the schema it resolved to and a bare one exclude the same table."""
    excluded = {_key(name, own_schema=parts.own_schema) for name in exclude_tables}
    members: dict[TableKey, _Members] = {key: _Members() for key in parts.tables if key not in excluded}
    view_indexes: dict[TableKey, list[Index]] = {}
    for key, column in parts.columns:
        if key in members:
            members[key].columns.append(column)
    for key, index in parts.indexes:
        if key in members:
            members[key].indexes.append(index)
        else:
            view_indexes.setdefault(key, []).append(index)
    for key, constraint in parts.constraints:
        if key in members:
            members[key].constraints.append(constraint)
    for key, trigger in parts.triggers:
        if key in members:
            members[key].triggers.append(trigger)
    tables = [
        Table(
            name=key[1],
            schema=key[0],
            columns=tuple(m.columns),
            indexes=tuple(m.indexes),
            constraints=tuple(m.constraints),
            triggers=tuple(m.triggers),
            options=parts.options.get(key, ()),
        )
        for key, m in members.items()
    ]
    views = [
        dataclasses.replace(view, indexes=tuple(view_indexes[view.schema, view.name]))
        if (view.schema, view.name) in view_indexes
        else view
        for view in parts.views
    ]
    sequences = [sequence for owner, sequence in parts.sequences if owner not in excluded]
    return Schema(
        tables=tuple(tables),
        views=tuple(views),
        sequences=tuple(sequences),
        routines=tuple(parts.routines),
        types=tuple(parts.types),
    )


@dataclasses.dataclass
class _Members:
    columns: list[Column] = dataclasses.field(default_factory=list)
    indexes: list[Index] = dataclasses.field(default_factory=list)
    constraints: list[Constraint] = dataclasses.field(default_factory=list)
    triggers: list[Trigger] = dataclasses.field(default_factory=list)


def _key(name: str, *, own_schema: str | None) -> TableKey:
    schema, _, table = name.rpartition(".")
    return (None if schema in ("", own_schema) else schema, table)


def rows(conn: sqlalchemy.Connection, sql: str) -> collections.abc.Sequence[Row]:
    """All rows of a catalog query (read by position: catalogs differ in how they spell column labels)."""
    return conn.execute(sqlalchemy.text(sql)).all()
