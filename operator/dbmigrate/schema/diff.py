"""What changed between two schema snapshots, object by object, in words to check a migration against.

Objects are matched by (qualified) name, so a rename shows as a drop and an add. A column counts as moved only
when its order relative to the other surviving columns changed (dropping a column moves none of the others).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from dbmigrate.schema.model import Column, Constraint, Index, Schema, Sequence, Table, View

ChangeKind = Literal["added", "changed", "dropped"]
ObjectType = Literal["table", "column", "index", "constraint", "view", "sequence"]

_Object = TypeVar("_Object", Column, Index, Constraint, View, Sequence)


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
    """The changes that turn ``before`` into ``after``: tables (each followed by its columns, indexes and
    constraints), then views, then sequences, each in name order."""
    changes: list[SchemaChange] = []
    old_tables = {t.qualified_name: t for t in before.tables}
    new_tables = {t.qualified_name: t for t in after.tables}
    for name in sorted(old_tables.keys() | new_tables.keys()):
        old, new = old_tables.get(name), new_tables.get(name)
        if old and new:
            changes += _table_members(old, new)
        elif new:
            changes.append(SchemaChange("added", "table", name, _describe_table(new)))
        elif old:
            changes.append(SchemaChange("dropped", "table", name, _describe_table(old)))
    changes += _objects(
        "view",
        {v.qualified_name: v for v in before.views},
        {v.qualified_name: v for v in after.views},
        _describe_view,
    )
    changes += _objects(
        "sequence",
        {s.qualified_name: s for s in before.sequences},
        {s.qualified_name: s for s in after.sequences},
        _describe_sequence,
    )
    return changes


def summarize(changes: list[SchemaChange]) -> str:
    """One line per change, e.g. ``changed column users.age: type integer → bigint``."""
    return "\n".join(f"{c.kind} {c.object_type} {c.name}: {c.detail}" for c in changes)


def _table_members(old: Table, new: Table) -> list[SchemaChange]:
    prefix = f"{old.qualified_name}."
    old_columns = {prefix + c.name: c for c in old.columns}
    new_columns = {prefix + c.name: c for c in new.columns}
    moved = _moved(
        [n for n in old_columns if n in new_columns],
        sorted((n for n in new_columns if n in old_columns), key=lambda n: new_columns[n].ordinal),
    )
    return [
        *_objects("column", old_columns, new_columns, _describe_column, moved=moved),
        *_objects(
            "index",
            {prefix + i.name: i for i in old.indexes},
            {prefix + i.name: i for i in new.indexes},
            _describe_index,
        ),
        *_objects(
            "constraint",
            {prefix + c.name: c for c in old.constraints},
            {prefix + c.name: c for c in new.constraints},
            _describe_constraint,
        ),
    ]


def _objects(
    object_type: ObjectType,
    before: Mapping[str, _Object],
    after: Mapping[str, _Object],
    describe: Callable[[_Object], str],
    *,
    moved: frozenset[str] = frozenset(),
) -> list[SchemaChange]:
    """Changes among objects of one type keyed by qualified name; columns in ``moved`` report position too."""
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is None and new is not None:
            changes.append(SchemaChange("added", object_type, name, describe(new)))
        elif new is None and old is not None:
            changes.append(SchemaChange("dropped", object_type, name, describe(old)))
        elif old is not None and new is not None:
            detail = _field_changes(old, new, with_position=name in moved)
            if detail:
                changes.append(SchemaChange("changed", object_type, name, detail))
    return changes


def _field_changes(old: _Object, new: _Object, *, with_position: bool) -> str:
    changed = [
        "{} {} → {}".format(f.name.replace("_", " "), *_show_change(getattr(old, f.name), getattr(new, f.name)))
        for f in dataclasses.fields(old)
        if f.name not in ("name", "ordinal") and getattr(old, f.name) != getattr(new, f.name)
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


def _describe_column(column: Column) -> str:
    words = [column.type, "null" if column.nullable else "not null"]
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
