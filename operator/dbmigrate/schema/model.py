"""A database schema as plain, frozen values: what a snapshot holds, compared, fingerprinted and stored.

Objects in the connection's own schema (PostgreSQL's current schema, MySQL's current database, SQLite's
``main``) carry ``schema=None`` and unqualified names, so that the same DDL applied to two databases gives
equal snapshots whatever the databases are called. Every collection is kept sorted by name (columns by
position, routines by name then signature), so snapshots do not depend on the order the catalog returned rows
in or objects were created in. docs/safety.md lists what a snapshot covers and what it leaves out.
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
    #: A computed column's expression followed by ``stored`` or ``virtual``.
    generated: str | None = None
    #: The column's collation when it is not its type's default (PostgreSQL), declared (SQLite ``COLLATE``), or
    #: any (MySQL: every text column has one, from the table's or database's default if not its own).
    collation: str | None = None


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
    #: PostgreSQL's ``nulls not distinct`` (15+).
    options: tuple[str, ...] = ()


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
    #: PostgreSQL's ``deferrable``, ``initially deferred``, ``match full`` and ``nulls not distinct``.
    options: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Trigger:
    """A trigger of a table: ``definition`` as the database prints it back (SQLite, PostgreSQL) or as its
    timing, event and body (MySQL); ``enabled`` is PostgreSQL's ``enabled``, ``disabled``, ``replica`` or
    ``always`` (None elsewhere: their triggers cannot be disabled)."""

    name: str
    definition: str
    enabled: str | None = None


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    schema: str | None
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    #: How the table is stored, where the database says: MySQL's ``engine InnoDB``, ``collation …`` and
    #: MariaDB's ``system versioning``; PostgreSQL's ``unlogged``.
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(sorted(self.columns, key=_BY_ORDINAL)))
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=_BY_NAME)))
        object.__setattr__(self, "constraints", tuple(sorted(self.constraints, key=_BY_NAME)))
        object.__setattr__(self, "triggers", tuple(sorted(self.triggers, key=_BY_NAME)))

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)

    def column(self, name: str) -> Column:
        return _named(self.columns, name, what=f"column of {self.qualified_name}")

    def index(self, name: str) -> Index:
        return _named(self.indexes, name, what=f"index of {self.qualified_name}")

    def constraint(self, name: str) -> Constraint:
        return _named(self.constraints, name, what=f"constraint of {self.qualified_name}")

    def trigger(self, name: str) -> Trigger:
        return _named(self.triggers, name, what=f"trigger of {self.qualified_name}")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.schema,
            "columns": [_plain(c) for c in self.columns],
            "indexes": [_plain(i) for i in self.indexes],
            "constraints": [_plain(c) for c in self.constraints],
            "triggers": [_plain(t) for t in self.triggers],
            "options": list(self.options),
        }


@dataclasses.dataclass(frozen=True)
class View:
    """A view (or PostgreSQL materialized view, with its indexes) with its definition as the database prints it
    back."""

    name: str
    schema: str | None
    definition: str
    materialized: bool = False
    indexes: tuple[Index, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=_BY_NAME)))

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)

    def to_json(self) -> dict[str, Any]:
        return {**_plain(self), "indexes": [_plain(i) for i in self.indexes]}


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
class Routine:
    """A function or procedure (PostgreSQL, MySQL), told from its overloads by ``signature`` (its arguments);
    ``definition`` is the whole ``CREATE`` statement the database prints back (PostgreSQL; for an aggregate,
    None) or the body with its characteristics (MySQL)."""

    name: str
    schema: str | None
    kind: str
    signature: str
    definition: str | None

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, f"{self.name}({self.signature})")


@dataclasses.dataclass(frozen=True)
class Type:
    """A PostgreSQL enum (``definition``: its values in their order) or domain (its base type, ``not null``,
    ``default …`` and each constraint as ``name CHECK (…)``)."""

    name: str
    schema: str | None
    kind: Literal["enum", "domain"]
    definition: tuple[str, ...]

    @property
    def qualified_name(self) -> str:
        return qualify(self.schema, self.name)


@dataclasses.dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...] = ()
    views: tuple[View, ...] = ()
    sequences: tuple[Sequence, ...] = ()
    routines: tuple[Routine, ...] = ()
    types: tuple[Type, ...] = ()

    def __post_init__(self) -> None:
        for field in ("tables", "views", "sequences", "routines", "types"):
            items: tuple[Table | View | Sequence | Routine | Type, ...] = getattr(self, field)
            object.__setattr__(self, field, tuple(sorted(items, key=_top_level_key)))

    def table(self, qualified_name: str) -> Table:
        return _qualified(self.tables, qualified_name, what="table")

    def view(self, qualified_name: str) -> View:
        return _qualified(self.views, qualified_name, what="view")

    def sequence(self, qualified_name: str) -> Sequence:
        return _qualified(self.sequences, qualified_name, what="sequence")

    def routine(self, qualified_name: str) -> Routine:
        """``name(signature)``, schema-qualified outside the own schema."""
        return _qualified(self.routines, qualified_name, what="routine")

    def type(self, qualified_name: str) -> Type:
        return _qualified(self.types, qualified_name, what="type")

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, in the snapshot's canonical order (by hand: ``asdict`` is 10× slower)."""
        return {
            "tables": [t.to_json() for t in self.tables],
            "views": [v.to_json() for v in self.views],
            "sequences": [_plain(s) for s in self.sequences],
            "routines": [_plain(r) for r in self.routines],
            "types": [_plain(t) for t in self.types],
        }


def from_json(data: dict[str, Any]) -> Schema:
    """The snapshot :meth:`Schema.to_json` wrote, back as a :class:`Schema`; keys it does not know (written by
    another dbmigrate version) are ignored, and missing ones take their default. Raises ``KeyError``,
    ``TypeError`` or ``ValueError`` for what no version wrote."""
    return Schema(
        tables=tuple(
            _built(
                Table,
                t,
                columns=tuple(_built(Column, c) for c in t["columns"]),
                indexes=tuple(_built(Index, i) for i in t.get("indexes", ())),
                constraints=tuple(_built(Constraint, c) for c in t.get("constraints", ())),
                triggers=tuple(_built(Trigger, g) for g in t.get("triggers", ())),
            )
            for t in data["tables"]
        ),
        views=tuple(
            _built(View, v, indexes=tuple(_built(Index, i) for i in v.get("indexes", ()))) for v in data["views"]
        ),
        sequences=tuple(_built(Sequence, s) for s in data.get("sequences", ())),
        routines=tuple(_built(Routine, r) for r in data.get("routines", ())),
        types=tuple(_built(Type, t) for t in data.get("types", ())),
    )


_Built = TypeVar("_Built", Table, Column, Index, Constraint, Trigger, View, Sequence, Routine, Type)


def _built(cls: type[_Built], data: dict[str, Any], **members: Any) -> _Built:
    values: dict[str, Any] = {
        f.name: tuple(data[f.name]) if isinstance(data[f.name], list) else data[f.name]
        for f in dataclasses.fields(cls)
        if f.name in data and f.name not in members
    }
    return cls(**values, **members)


def _top_level_key(item: Table | View | Sequence | Routine | Type) -> tuple[str, ...]:
    signature = item.signature if isinstance(item, Routine) else ""
    return (item.schema or "", item.name, signature)


def _plain(item: Column | Index | Constraint | Trigger | View | Sequence | Routine | Type) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in vars(item).items()}


_Member = TypeVar("_Member", Column, Index, Constraint, Trigger)
_Top = TypeVar("_Top", Table, View, Sequence, Routine, Type)


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
