"""A database schema as plain, frozen values: what a snapshot holds, compared and fingerprinted.

Objects in the connection's own schema (PostgreSQL's current schema, MySQL's current database, SQLite's
``main``) carry ``schema=None`` and unqualified names, so that the same DDL applied to two databases gives
equal snapshots whatever the databases are called. Every collection is kept sorted by name (columns by
position), so snapshots do not depend on the order the catalog returned rows in or objects were created in.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Literal, TypeVar

ConstraintKind = Literal["primary key", "unique", "foreign key", "check", "exclude"]


_BY_NAME = operator.attrgetter("name")
_BY_ORDINAL = operator.attrgetter("ordinal")


#: Field metadata of a state the snapshot keeps for the integrity check but the fingerprint leaves out: following
#: the check's own remedy (VALIDATE CONSTRAINT, rebuilding an invalid index) must not read as drift.
NOT_FINGERPRINTED = {"fingerprint": False}


def qualify(schema: str | None, name: str) -> str:
    """``name`` in the connection's own schema, ``schema.name`` elsewhere."""
    return f"{schema}.{name}" if schema else name


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column; ``ordinal`` is its 1-based position among live columns (dropped ones leave no gap)."""

    name: str
    type: str
    nullable: bool
    default: str | None
    ordinal: int
    #: How the database numbers the column itself: ``always``/``by default`` (PostgreSQL identity),
    #: ``auto_increment`` (MySQL), ``autoincrement`` (SQLite).
    identity: str | None = None
    #: A computed column's expression followed by ``stored`` or ``virtual`` (SQLite: only the kind).
    generated: str | None = None


@dataclasses.dataclass(frozen=True)
class Index:
    """An index that does not merely implement a primary key or unique constraint (those are constraints).

    ``columns`` holds the key columns or expressions, with operator class and ``DESC``/``NULLS FIRST`` when
    not the default; ``valid`` is PostgreSQL's ``indisvalid`` (None elsewhere).
    """

    name: str
    columns: tuple[str, ...]
    unique: bool
    method: str | None = None
    predicate: str | None = None
    include: tuple[str, ...] = ()
    valid: bool | None = dataclasses.field(default=None, metadata=NOT_FINGERPRINTED)


@dataclasses.dataclass(frozen=True)
class Constraint:
    """A table constraint; the fields that do not apply to its ``kind`` stay empty.

    ``validated`` is PostgreSQL's ``convalidated`` (False for a constraint added ``NOT VALID``; None elsewhere), not
    fingerprinted.
    """

    name: str
    kind: ConstraintKind
    columns: tuple[str, ...] = ()
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str | None = None
    on_update: str | None = None
    expression: str | None = None
    validated: bool | None = dataclasses.field(default=None, metadata=NOT_FINGERPRINTED)


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    schema: str | None
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    #: How the table is stored, where the database says: MySQL's ``engine InnoDB``, ``collation …`` and
    #: MariaDB's ``system versioning``; PostgreSQL's ``unlogged``.
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(sorted(self.columns, key=_BY_ORDINAL)))
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=_BY_NAME)))
        object.__setattr__(self, "constraints", tuple(sorted(self.constraints, key=_BY_NAME)))

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)

    def column(self, name: str) -> Column:
        return _named(self.columns, name, what=f"column of {self.qualified_name}")

    def index(self, name: str) -> Index:
        return _named(self.indexes, name, what=f"index of {self.qualified_name}")

    def constraint(self, name: str) -> Constraint:
        return _named(self.constraints, name, what=f"constraint of {self.qualified_name}")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.schema,
            "columns": [_plain(c) for c in self.columns],
            "indexes": [_plain(i) for i in self.indexes],
            "constraints": [_plain(c) for c in self.constraints],
            "options": list(self.options),
        }


@dataclasses.dataclass(frozen=True)
class View:
    """A view (or PostgreSQL materialized view) with its definition as the database prints it back."""

    name: str
    schema: str | None
    definition: str
    materialized: bool = False

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


@dataclasses.dataclass(frozen=True)
class Sequence:
    """A PostgreSQL or MariaDB sequence's definition; its current value is data, not schema, so it is left out."""

    name: str
    schema: str | None
    data_type: str
    start: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    #: ``table.column`` of the serial or identity column the sequence belongs to.
    owned_by: str | None = None

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


@dataclasses.dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...] = ()
    views: tuple[View, ...] = ()
    sequences: tuple[Sequence, ...] = ()

    def __post_init__(self) -> None:
        for field in ("tables", "views", "sequences"):
            items: tuple[Table | View | Sequence, ...] = getattr(self, field)
            object.__setattr__(self, field, tuple(sorted(items, key=lambda o: (o.schema or "", o.name))))

    def table(self, qualified_name: str) -> Table:
        return _qualified(self.tables, qualified_name, what="table")

    def view(self, qualified_name: str) -> View:
        return _qualified(self.views, qualified_name, what="view")

    def sequence(self, qualified_name: str) -> Sequence:
        return _qualified(self.sequences, qualified_name, what="sequence")

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, in the snapshot's canonical order (by hand: ``asdict`` is 10× slower)."""
        return {
            "tables": [t.to_json() for t in self.tables],
            "views": [_plain(v) for v in self.views],
            "sequences": [_plain(s) for s in self.sequences],
        }


def _plain(item: Column | Index | Constraint | View | Sequence) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in vars(item).items()}


_Member = TypeVar("_Member", Column, Index, Constraint)
_Top = TypeVar("_Top", Table, View, Sequence)


def _named(items: tuple[_Member, ...], name: str, *, what: str) -> _Member:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no {what} named {name!r}")


def _qualified(items: tuple[_Top, ...], qualified_name: str, *, what: str) -> _Top:
    for item in items:
        if item.qualified_name == qualified_name:
            return item
    raise KeyError(f"no {what} named {qualified_name!r}")
