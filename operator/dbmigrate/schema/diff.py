"""What changed between two schema snapshots, object by object, in words to check a migration against.

Objects are matched by name, so a rename shows as a drop and an add; by name as a tuple (schema, table, member),
never as a dotted string, so that table ``b`` of schema ``a`` and a table named ``a.b`` stay two objects. A
column counts as moved only when its order relative to the other surviving columns changed (dropping a column
moves none of the others).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from dbmigrate.schema.model import Column, Constraint, Index, Routine, Schema, Sequence, Table, Trigger, Type, View

ChangeKind = Literal["added", "changed", "dropped"]
ObjectType = Literal["table", "column", "index", "constraint", "trigger", "view", "sequence", "routine", "type"]

_Object = TypeVar("_Object", Table, Column, Index, Constraint, Trigger, View, Sequence, Routine, Type)
_Top = TypeVar("_Top", Table, View, Sequence, Routine, Type)
#: An object's name as a tuple: (schema or "", name[, member]); "" sorts the own schema's objects first.
_Key = tuple[str, ...]
#: Fields that name an object (its key) or place it (a column's position is reported apart), or that hold its
#: members (compared as objects of their own): never reported as changed fields.
_NOT_FIELDS = frozenset({"name", "schema", "ordinal", "signature", "indexes", "triggers"})


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    """One object added, changed or dropped; ``detail`` describes the object, or for a change what changed."""

    kind: ChangeKind
    object_type: ObjectType
    name: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def diff(before: Schema, after: Schema) -> list[SchemaChange]:
    """The changes that turn ``before`` into ``after``: tables (each followed by its columns, indexes,
    constraints and triggers), then views (with their indexes), sequences, routines and types, each kind in the
    snapshot's order (the own schema first, then by schema and name)."""
    changes: list[SchemaChange] = []
    old_tables, new_tables = _by_key(before.tables), _by_key(after.tables)
    for key in sorted(old_tables.keys() | new_tables.keys()):
        old, new = old_tables.get(key), new_tables.get(key)
        if old and new:
            changes += _objects("table", {key: old}, {key: new}, _describe_table, fields=("options",))
            changes += _table_members(old, new)
        elif new:
            changes.append(SchemaChange("added", "table", new.qualified_name, _describe_table(new)))
        elif old:
            changes.append(SchemaChange("dropped", "table", old.qualified_name, _describe_table(old)))
    old_views, new_views = _by_key(before.views), _by_key(after.views)
    changes += _objects("view", old_views, new_views, _describe_view)
    for key in sorted(old_views.keys() & new_views.keys()):
        changes += _members("index", old_views[key], new_views[key], "indexes", _describe_index)
    changes += _objects("sequence", _by_key(before.sequences), _by_key(after.sequences), _describe_sequence)
    changes += _objects("routine", _by_key(before.routines), _by_key(after.routines), _describe_routine)
    changes += _objects("type", _by_key(before.types), _by_key(after.types), _describe_type)
    return changes


def summarize(changes: list[SchemaChange]) -> str:
    """One line per change, e.g. ``changed column users.age: type integer → bigint``."""
    return "\n".join(f"{c.kind} {c.object_type} {c.name}: {c.detail}" for c in changes)


def _by_key(items: tuple[_Top, ...]) -> dict[_Key, _Top]:
    return {_key(item): item for item in items}


def _key(item: Table | View | Sequence | Routine | Type) -> _Key:
    signature = (item.signature,) if isinstance(item, Routine) else ()
    return (item.schema or "", item.name, *signature)


def _table_members(old: Table, new: Table) -> list[SchemaChange]:
    old_columns = {c.name: c for c in old.columns}
    new_columns = {c.name: c for c in new.columns}
    moved = _moved(
        [n for n in old_columns if n in new_columns],
        sorted((n for n in new_columns if n in old_columns), key=lambda n: new_columns[n].ordinal),
    )
    return [
        *_members("column", old, new, "columns", _describe_column, moved=moved),
        *_members("index", old, new, "indexes", _describe_index),
        *_members("constraint", old, new, "constraints", _describe_constraint),
        *_members("trigger", old, new, "triggers", _describe_trigger),
    ]


def _members(
    object_type: ObjectType,
    old: Table | View,
    new: Table | View,
    field: str,
    describe: Callable[[_Object], str],
    *,
    moved: frozenset[str] = frozenset(),
) -> list[SchemaChange]:
    """Changes among the members ``field`` of one table or view, named ``table.member``."""
    owner: _Key = _key(old)
    before: dict[_Key, _Object] = {(*owner, m.name): m for m in getattr(old, field)}
    after: dict[_Key, _Object] = {(*owner, m.name): m for m in getattr(new, field)}
    return _objects(
        object_type,
        before,
        after,
        describe,
        moved=frozenset((*owner, name) for name in moved),
        name=lambda member_key: f"{old.qualified_name}.{member_key[-1]}",
    )


def _objects(
    object_type: ObjectType,
    before: Mapping[_Key, _Object],
    after: Mapping[_Key, _Object],
    describe: Callable[[_Object], str],
    *,
    moved: frozenset[_Key] = frozenset(),
    fields: tuple[str, ...] | None = None,
    name: Callable[[_Key], str] | None = None,
) -> list[SchemaChange]:
    """Changes among objects of one type by key; columns in ``moved`` report position too; ``fields`` limits
    what a change compares (a table's own fields, its members compared apart)."""
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        shown = name(key) if name else _qualified_name(old or new)
        if old is None and new is not None:
            changes.append(SchemaChange("added", object_type, shown, describe(new)))
        elif new is None and old is not None:
            changes.append(SchemaChange("dropped", object_type, shown, describe(old)))
        elif old is not None and new is not None:
            detail = _field_changes(old, new, with_position=key in moved, fields=fields)
            if detail:
                changes.append(SchemaChange("changed", object_type, shown, detail))
    return changes


def _qualified_name(item: object) -> str:
    return str(getattr(item, "qualified_name", getattr(item, "name", "")))


def _field_changes(old: _Object, new: _Object, *, with_position: bool, fields: tuple[str, ...] | None) -> str:
    names = fields or [f.name for f in dataclasses.fields(old) if f.name not in _NOT_FIELDS]
    changed = [
        "{} {} → {}".format(field.replace("_", " "), *_show_change(getattr(old, field), getattr(new, field)))
        for field in names
        if getattr(old, field) != getattr(new, field)
    ]
    if with_position and isinstance(old, Column) and isinstance(new, Column):
        changed.append(f"position {old.ordinal} → {new.ordinal}")
    return "; ".join(changed)


def _moved(old_order: list[str], new_order: list[str]) -> frozenset[str]:
    """The names outside a longest run kept in the same relative order: the fewest that moved."""
    rank = {name: i for i, name in enumerate(old_order)}
    tail_ranks: list[int] = []  # tail_ranks[k]: smallest last rank of an increasing run of length k + 1 ...
    tail_at: list[int] = []  # ... and where in new_order that run ends
    previous: list[int | None] = []
    for i, name in enumerate(new_order):
        k = bisect.bisect_left(tail_ranks, rank[name])
        previous.append(tail_at[k - 1] if k else None)
        if k == len(tail_ranks):
            tail_ranks.append(rank[name])
            tail_at.append(i)
        else:
            tail_ranks[k], tail_at[k] = rank[name], i
    kept = set()
    at = tail_at[-1] if tail_at else None
    while at is not None:
        kept.add(new_order[at])
        at = previous[at]
    return frozenset(new_order) - kept


def _show_change(old: object, new: object) -> tuple[str, str]:
    """Both values; long texts (view definitions) from a little before where they start to differ."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return _show(old), _show(new)
    old, new = _squashed(old), _squashed(new)
    start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    if max(len(old), len(new)) <= _WIDTH or start < _WIDTH // 4:
        return _show(old), _show(new)
    return _show("…" + old[start - _WIDTH // 4 :]), _show("…" + new[start - _WIDTH // 4 :])


_WIDTH = 80


def _squashed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return f"({', '.join(map(str, value))})"
    text = _squashed(str(value))
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _describe_table(table: Table) -> str:
    return f"columns ({', '.join(c.name for c in table.columns)})"


def _describe_trigger(trigger: Trigger) -> str:
    state = f" ({trigger.enabled})" if trigger.enabled not in (None, "enabled") else ""
    return f"{_show(trigger.definition)}{state}"


def _describe_routine(routine: Routine) -> str:
    return f"{routine.kind}: {_show(routine.definition)}" if routine.definition else routine.kind


def _describe_type(item: Type) -> str:
    return f"{item.kind} {_show(item.definition)}"


def _describe_column(column: Column) -> str:
    words = [column.type, "null" if column.nullable else "not null"]
    if column.collation:
        words.append(f"collate {column.collation}")
    if column.default is not None:
        words.append(f"default {_show(column.default)}")
    if column.identity:
        words.append(f"identity {column.identity}")
    if column.generated:
        words.append(f"generated {_show(column.generated)}")
    return " ".join(words)


def _describe_index(index: Index) -> str:
    words = ["unique" if index.unique else "", index.method or "", _show(index.columns)]
    if index.include:
        words.append(f"include {_show(index.include)}")
    if index.predicate:
        words.append(f"where {_show(index.predicate)}")
    words += index.options
    if index.valid is False:
        words.append("(invalid)")
    return " ".join(w for w in words if w)


def _describe_constraint(constraint: Constraint) -> str:
    words: list[str] = [constraint.kind]
    if constraint.columns:
        words.append(_show(constraint.columns))
    if constraint.ref_table:
        words += [f"references {constraint.ref_table} {_show(constraint.ref_columns)}"]
        words += [f"on delete {constraint.on_delete}", f"on update {constraint.on_update}"]
    if constraint.expression:
        words.append(f"({_show(constraint.expression)})")
    words += constraint.options
    if constraint.validated is False:
        words.append("not valid")
    return " ".join(words)


def _describe_view(view: View) -> str:
    return f"{'materialized ' if view.materialized else ''}view: {_show(view.definition)}"


def _describe_sequence(sequence: Sequence) -> str:
    text = (
        f"{sequence.data_type} start {sequence.start} increment {sequence.increment} "
        f"min {sequence.min_value} max {sequence.max_value} cache {sequence.cache}"
        f"{' cycle' if sequence.cycle else ''}"
    )
    return f"{text} owned by {sequence.owned_by}" if sequence.owned_by else text
