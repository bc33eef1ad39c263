"""The rule checkers that run on parsed statements, one per sqlglot node type, and the context they share.

Each checker looks at one node of a statement's syntax tree (a DROP, an ALTER action, a DELETE...) and returns the
rules it breaks. A statement is walked once, in source order, so schema facts learnt from earlier statements and
actions (tables created in this file, declared column types) are known when later ones are judged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from dbmigrate.safety.coltypes import Change, compare, rewrites_table
from dbmigrate.safety.findings import Hit
from dbmigrate.safety.state import SchemaState
from dbmigrate.sqltext import sqlglot_dialect

_DESTRUCTIVE_DROPS = {"TABLE": "drop_table", "SCHEMA": "drop_schema", "DATABASE": "drop_database"}
#: Kinds whose DROP removes definitions, not rows (CASCADE aside): reported for information.
_DEFINITION_DROPS = frozenset(
    {
        "FUNCTION", "PROCEDURE", "TRIGGER", "SEQUENCE", "TYPE", "DOMAIN", "POLICY", "RULE", "EXTENSION", "ROLE",
        "USER", "GROUP", "PUBLICATION", "SUBSCRIPTION", "COLLATION", "AGGREGATE", "CAST", "EVENT", "OPERATOR",
        "STATISTICS", "SERVER", "TABLESPACE", "CONVERSION", "LANGUAGE", "TRANSFORM", "ACCESS", "TEXT", "FOREIGN",
    }
)  # fmt: skip
#: DROP kinds inside ALTER TABLE that remove a constraint or index, not data.
_CONSTRAINT_DROPS = frozenset({"CONSTRAINT", "FOREIGN KEY", "INDEX", "KEY", "CHECK", "PRIMARY KEY"})


@dataclasses.dataclass(frozen=True)
class Context:
    """What every checker gets besides its node: the dialect and the schema state of this SQL text."""

    schema: SchemaState
    #: Reads an ALTER TABLE action sqlglot kept as raw text from its tokens, None when it cannot; the token reader
    #: builds on these rules, so it is handed in rather than imported.
    read_action: Callable[[str, exp.Table, Context], list[Hit] | None] | None = None

    @property
    def dialect(self) -> str:
        return self.schema.dialect

    def sql(self, node: exp.Expr) -> str:
        """``node`` as SQL text for messages (a table without its MySQL-style joins)."""
        if isinstance(node, exp.Table):
            return ".".join(part.sql(dialect=sqlglot_dialect(self.dialect)) for part in node.parts)
        return node.sql(dialect=sqlglot_dialect(self.dialect))

    def unless_new(self, tables: exp.Table | Sequence[exp.Table] | None, rule: str, reason: str) -> list[Hit]:
        """A hit, unless every table it is about was created earlier in the plan (it held nothing before the plan
        and no running app version uses it)."""
        targets = [tables] if isinstance(tables, exp.Table) else tables or []
        if targets and all(self.schema.is_new(table) for table in targets):
            return []
        return [Hit(rule, reason)]


def check_tree(root: exp.Expr, ctx: Context) -> list[Hit]:
    """Run the checker of every node of a parsed statement, in source order; VALUES lists are not descended."""
    hits: list[Hit] = []
    for node in root.dfs(prune=lambda node: isinstance(node, exp.Values) or _is_routine(node)):
        checker = _CHECKERS.get(type(node))
        if checker is not None:
            hits.extend(checker(node, ctx))
    return hits


def _is_routine(node: exp.Expr) -> bool:
    return isinstance(node, exp.Create) and str(node.args.get("kind") or "").upper() in ROUTINES


#: What CREATE defines with a body that runs only when called or fired, never by the migration itself.
ROUTINES = frozenset({"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})


def routine_hits(kind: str) -> list[Hit]:
    """A routine's body is not this migration's change: it runs when called (or fired), so it is not analyzed."""
    reason = (
        f"The body of this {kind.lower()} runs only when it is called or fires, not in this migration, and is not "
        "analyzed; review what it does by hand (and any statement here that calls it)."
    )
    return [Hit("unanalyzed", reason)]


def drop_hits(kind: str, *, names: str, cascade: bool, concurrently: bool, ctx: Context) -> list[Hit]:
    """The hits of a top-level ``DROP <kind> <names>``; shared with the token-level reading of unparsed DROPs."""
    hits = _drop_kind_hits(kind, names=names, concurrently=concurrently, ctx=ctx)
    if cascade and kind not in _DESTRUCTIVE_DROPS:
        reason = (
            f"DROP {kind} {names} CASCADE also drops everything that depends on it, which can include columns, "
            "constraints and views; drop the dependent objects explicitly instead."
        )
        hits.append(Hit("drop_cascade", reason))
    return hits


def _drop_kind_hits(kind: str, *, names: str, concurrently: bool, ctx: Context) -> list[Hit]:
    if kind in _DESTRUCTIVE_DROPS:
        reason = (
            f"DROP {kind} {names} deletes the data for good and breaks app versions still using it; drop only once "
            "no deployed version uses it, with a tested backup."
        )
        return [Hit(_DESTRUCTIVE_DROPS[kind], reason)]
    if kind == "INDEX":
        if ctx.dialect != "postgresql":  # as ALTER TABLE ... DROP INDEX reports it
            return [Hit("drop_constraint", f"Dropping index {names} removes a guarantee or index the app may rely on.")]
        if concurrently:
            return []
        reason = (
            f"DROP INDEX {names} without CONCURRENTLY locks its table against reads and writes until it is done; "
            "use DROP INDEX CONCURRENTLY (outside a transaction)."
        )
        return [Hit("drop_index_not_concurrently", reason)]
    if kind == "VIEW":
        return [Hit("drop_view", f"Dropping view {names} breaks queries that still use it.")]
    if kind in _DEFINITION_DROPS:
        return [Hit("drop_object", f"DROP {kind} {names} removes an object that code or other objects may use.")]
    reason = (
        f"The analysis does not know what DROP {kind} removes, so it counts as destructive; "
        "check it and allow it explicitly if intended."
    )
    return [Hit("drop_unknown", reason)]


def _check_drop(node: exp.Drop, ctx: Context) -> list[Hit]:
    kind = str(node.args.get("kind") or "").upper()
    names = ", ".join(ctx.sql(target) for target in node.args.get("tables") or [])
    if isinstance(node.parent, exp.Alter):
        return _alter_drop_hits(node, kind=kind, names=names, ctx=ctx)
    if node.args.get("temporary"):
        return []  # a temporary table lives only as long as the session that made it
    targets = node.args.get("tables") or []
    if kind in _DESTRUCTIVE_DROPS and targets and all(ctx.schema.is_new(target, kind) for target in targets):
        return []  # created earlier in the plan: it holds nothing that existed before
    cascade, concurrently = bool(node.args.get("cascade")), bool(node.args.get("concurrently"))
    return drop_hits(kind, names=names, cascade=cascade, concurrently=concurrently, ctx=ctx)


def _alter_drop_hits(node: exp.Drop, *, kind: str, names: str, ctx: Context) -> list[Hit]:
    target = _alter_table(node)
    table = ctx.sql(target)
    if kind == "COLUMN":
        columns = node.args.get("tables") or []
        if columns and all(ctx.schema.is_new_column(target, column) for column in columns):
            return []  # added earlier in the plan
        reason = (
            f"Dropping column {names} of {table} deletes its data and breaks app versions that still use it; "
            "stop using it in the app and deploy first, then drop it in a later migration (expand/contract)."
        )
        return [Hit("drop_column", reason)]
    if kind in _CONSTRAINT_DROPS:
        reason = f"Dropping {kind.lower()} {names} of {table} removes a guarantee or index the app may rely on."
        return [Hit("drop_constraint", reason)]
    reason = f"The analysis does not know what DROP {kind} removes from {table}, so it counts as destructive."
    return [Hit("drop_unknown", reason)]


def _check_drop_primary_key(node: exp.DropPrimaryKey, ctx: Context) -> list[Hit]:
    table = ctx.sql(node.parent.this) if isinstance(node.parent, exp.Alter) else "the table"
    return [Hit("drop_constraint", f"Dropping the primary key of {table} removes its uniqueness guarantee.")]


def _check_truncate(node: exp.TruncateTable, ctx: Context) -> list[Hit]:
    names = ", ".join(ctx.sql(table) for table in node.expressions)
    return ctx.unless_new(node.expressions, "truncate", truncate_reason(names))


def truncate_reason(names: str) -> str:
    return (
        f"TRUNCATE {names} deletes every row (MySQL cannot roll it back); if emptying it is really intended, "
        "allow it explicitly."
    )


def _check_delete(node: exp.Delete, ctx: Context) -> list[Hit]:
    if isinstance(node.parent, exp.When) or not _unfiltered(node, ctx):  # MERGE's actions: see _check_merge
        return []
    reason = (
        f"DELETE from {_label(node, ctx)} has no WHERE clause, so it deletes every row; add a WHERE clause, "
        "or allow it if emptying the table is intended."
    )
    return ctx.unless_new(_targets(node), "delete_without_where", reason)


def _check_update(node: exp.Update, ctx: Context) -> list[Hit]:
    if isinstance(node.parent, exp.When) or not _unfiltered(node, ctx):  # MERGE's actions: see _check_merge
        return []
    reason = (
        f"UPDATE of {_label(node, ctx)} has no WHERE clause, so it overwrites every row; add a WHERE clause, "
        "or allow it if changing every row is intended."
    )
    return ctx.unless_new(_targets(node), "update_without_where", reason)


def _check_merge(node: exp.Merge, ctx: Context) -> list[Hit]:
    """MERGE's DELETE and UPDATE actions change the target rows their WHEN clause reaches: every row when the ON
    condition is always true (WHEN MATCHED) or when no condition limits WHEN NOT MATCHED BY SOURCE (every target
    row missing from the source); a keyed ON filters like DELETE ... USING ... WHERE does."""
    whens = node.args.get("whens")
    hits: list[Hit] = []
    for when in whens.expressions if isinstance(whens, exp.Whens) else []:
        action = _merge_action(when.args.get("then"))
        if action is None or when.args.get("condition") is not None:
            continue
        if when.args.get("source"):
            reach = "every target row the source does not have"
        elif when.args.get("matched") and always_true(node.args.get("on") or exp.true(), ctx):
            reach = "every target row, since its ON condition is always true"
        else:
            continue
        rule, verb = action
        reason = (
            f"MERGE into {ctx.sql(node.this)} {verb} {reach}; add a condition to the WHEN clause or a key to ON, "
            "or allow it if that is intended."
        )
        hits += ctx.unless_new(node.this if isinstance(node.this, exp.Table) else None, rule, reason)
    return hits


def _merge_action(then: object) -> tuple[str, str] | None:
    """The rule and verb of a WHEN clause's action that changes existing rows (PostgreSQL's DELETE is a keyword)."""
    if isinstance(then, exp.Delete) or (isinstance(then, exp.Var) and then.name.upper() == "DELETE"):
        return "delete_without_where", "deletes"
    if isinstance(then, exp.Update):
        return "update_without_where", "overwrites"
    return None


def _unfiltered(node: exp.Delete | exp.Update, ctx: Context) -> bool:
    """No WHERE and no target inner-joined with a condition (MySQL multi-table form): every row is affected.

    PostgreSQL's ``USING``/``FROM`` without WHERE is a cross join, so it filters nothing; MySQL's ``USING`` lists the
    joined target itself, so its join condition does filter. An outer (LEFT/RIGHT/FULL) join keeps every row of its
    preserved side whatever the condition, so it filters nothing either.
    """
    where = node.args.get("where")
    if where is not None:
        return always_true(where.this, ctx)
    sources = [node.this, *(node.args.get("using") or [] if ctx.dialect == "mysql" else [])]
    joins = [join for source in sources if isinstance(source, exp.Expr) for join in source.args.get("joins") or []]
    return not any(
        (join.args.get("on") is not None or join.args.get("using")) and not join.args.get("side") for join in joins
    )


def always_true(condition: exp.Expr, ctx: Context) -> bool:
    """Whether a condition holds for every row (``1=1``, ``true``, MySQL's ``1``, ``x > 0 OR 1=1``): it filters
    nothing. Only a condition without column references (or an OR with such an operand) is simplified, so ordinary
    keyed conditions cost a walk of their tree and nothing more."""
    if isinstance(condition, exp.Paren):
        return always_true(condition.this, ctx)
    if isinstance(condition, exp.Or):
        return always_true(condition.this, ctx) or always_true(condition.expression, ctx)
    if condition.find(exp.Column, exp.Query) is not None:
        return False
    value = simplify(condition.copy(), dialect=sqlglot_dialect(ctx.dialect))
    if isinstance(value, exp.Boolean):
        return bool(value.this)
    return isinstance(value, exp.Literal) and value.is_number and float(value.name) != 0


def _targets(node: exp.Delete | exp.Update) -> list[exp.Table]:
    """The tables a DELETE/UPDATE writes to (MySQL's ``DELETE t FROM ...`` names them in ``tables``)."""
    targets = node.args.get("tables") or [node.this]
    return [target for target in targets if isinstance(target, exp.Table)]


def _label(node: exp.Delete | exp.Update, ctx: Context) -> str:
    return ", ".join(ctx.sql(target) for target in _targets(node)) or "the table"


def _check_create(node: exp.Create, ctx: Context) -> list[Hit]:
    kind = str(node.args.get("kind") or "").upper()
    if kind in ROUTINES:
        return routine_hits(kind)
    replaced = _replace_hits(node, kind, ctx) if node.args.get("replace") else []
    ctx.schema.created(node)
    if replaced:
        return replaced
    if kind != "INDEX" or ctx.dialect != "postgresql" or node.args.get("concurrently"):
        return []
    table = node.this.args.get("table") if isinstance(node.this, exp.Index) else None
    return create_index_hits(table, ctx)


def _replace_hits(node: exp.Create, kind: str, ctx: Context) -> list[Hit]:
    """MariaDB's CREATE OR REPLACE TABLE / DATABASE drops the existing one first; MySQL's OR REPLACE VIEW swaps
    the whole definition (PostgreSQL's may only add columns)."""
    target = node.this.this if isinstance(node.this, exp.Schema) else node.this
    if not isinstance(target, exp.Table):
        return []
    if kind in _DESTRUCTIVE_DROPS and not ctx.schema.is_new(target, kind):
        reason = (
            f"CREATE OR REPLACE {kind} {ctx.sql(target)} drops the existing one with all its data first; create it "
            "under a new name, or drop the old one explicitly once no deployed version uses it."
        )
        return [Hit(_DESTRUCTIVE_DROPS[kind], reason)]
    if kind == "VIEW" and ctx.dialect == "mysql":
        return [
            Hit(
                "drop_view",
                f"CREATE OR REPLACE VIEW {ctx.sql(target)} replaces the view: queries using "
                "columns it no longer has break.",
            )
        ]
    return []


def create_index_hits(table: exp.Table | None, ctx: Context) -> list[Hit]:
    """A PostgreSQL CREATE INDEX without CONCURRENTLY (shared with the token-level reading)."""
    label = ctx.sql(table) if table is not None else "its table"
    reason = (
        f"CREATE INDEX on {label} without CONCURRENTLY blocks writes to the table until the index is built; "
        "use CREATE INDEX CONCURRENTLY (outside a transaction)."
    )
    return ctx.unless_new(table, "create_index_not_concurrently", reason)


def _alter_table(node: exp.Expr) -> exp.Table:
    """The table an ALTER action belongs to; an unnamed placeholder if sqlglot ever builds another shape."""
    target = node.parent.this if isinstance(node.parent, exp.Alter) else None
    return target if isinstance(target, exp.Table) else exp.Table(this=exp.Identifier(this="?"))


def _check_add_column(node: exp.ColumnDef, ctx: Context) -> list[Hit]:
    """ADD COLUMN (a ColumnDef directly under an Alter; CREATE TABLE and MODIFY columns are handled elsewhere)."""
    if not isinstance(node.parent, exp.Alter):
        return []
    table = _alter_table(node)
    column = f"{ctx.sql(table)}.{ctx.sql(node.this)}"
    kinds = [
        constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
        for constraint in node.constraints
    ]
    hits: list[Hit] = []
    if _needs_value(node, kinds):
        reason = (
            f"Adding NOT NULL column {column} without a DEFAULT fails on a table with rows (MySQL fills in 0 or '') "
            "and breaks inserts from app versions that do not set it; add it with a DEFAULT, or nullable and "
            "backfill, then set NOT NULL."
        )
        hits += ctx.unless_new(table, "add_column_not_null", reason)
    if ctx.dialect == "postgresql" and any(isinstance(kind, exp.Reference) for kind in kinds):
        hits += ctx.unless_new(table, "add_foreign_key", foreign_key_reason(ctx.sql(table)))
    dtype = node.args.get("kind")
    ctx.schema.added_column(table, node.this, dtype if isinstance(dtype, exp.DataType) else None)
    return hits


_VALUE_SOURCES = (
    exp.DefaultColumnConstraint,
    exp.ComputedColumnConstraint,
    exp.GeneratedAsIdentityColumnConstraint,
    exp.AutoIncrementColumnConstraint,
)
_SERIALS = {exp.DataType.Type.SMALLSERIAL, exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL}


def _needs_value(node: exp.ColumnDef, kinds: Sequence[object]) -> bool:
    """NOT NULL (or PRIMARY KEY) and nothing that fills existing rows: no DEFAULT, identity, serial or generation."""
    required = any(
        (isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"))
        or isinstance(kind, exp.PrimaryKeyColumnConstraint)
        for kind in kinds
    )
    dtype = node.args.get("kind")
    filled = any(isinstance(kind, _VALUE_SOURCES) for kind in kinds) or (
        isinstance(dtype, exp.DataType) and dtype.this in _SERIALS
    )
    return required and not filled


def _check_alter_column(node: exp.AlterColumn, ctx: Context) -> list[Hit]:
    table = _alter_table(node)
    dtype = node.args.get("dtype")
    if isinstance(dtype, exp.DataType):
        return _using_hits(node, table, ctx) + type_change_hits(table, node.this, dtype, ctx=ctx)
    if node.args.get("allow_null") is False and not node.args.get("drop"):
        column = f"{ctx.sql(table)}.{ctx.sql(node.this)}"
        reason = (
            f"SET NOT NULL on {column} scans the whole table under an ACCESS EXCLUSIVE lock; add CHECK "
            f"({ctx.sql(node.this)} IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips "
            "the scan)."
        )
        return ctx.unless_new(table, "set_not_null", reason)
    return []


def _using_hits(node: exp.AlterColumn, table: exp.Table, ctx: Context) -> list[Hit]:
    """PostgreSQL's ``TYPE ... USING expr`` stores ``expr`` in place of every value: anything but a cast of the
    column itself (``USING x::int``) rewrites them (``USING left(x, 2)``, ``USING 0``)."""
    using = node.args.get("using")
    if not isinstance(using, exp.Expr) or ctx.schema.is_new_column(table, node.this):
        return []
    value = using
    while isinstance(value, (exp.Cast, exp.Paren)):
        value = value.this
    if isinstance(value, exp.Column) and ctx.schema.ident(value) == ctx.schema.ident(node.this):
        return []
    reason = (
        f"USING {ctx.sql(using)} replaces every value of {ctx.sql(table)}.{ctx.sql(node.this)} with what it computes, "
        "and the old values are gone; check it on a copy of the data, add a new column and backfill it instead, or "
        "allow it once the expression is reviewed."
    )
    return [Hit("rewrite_column_values", reason)]


def type_change_hits(table: exp.Table, column: exp.Expr, new: exp.DataType, *, ctx: Context) -> list[Hit]:
    """Judge a column type change against the column's known type, then remember the new type."""
    old = ctx.schema.column_type(table, column)
    ctx.schema.set_type(table, column, new)
    label, new_sql = f"{ctx.sql(table)}.{ctx.sql(column)}", ctx.sql(new)
    if old is None:
        reason = (
            f"Changing {label} to {new_sql} may narrow it (its current type is unknown) and usually rewrites the "
            "table under a lock; check the current type, or add a new column and backfill it instead."
        )
        return ctx.unless_new(table, "change_column_type", reason)
    change, old_sql = compare(old, new, dialect=ctx.dialect), ctx.sql(old)
    if change is Change.NARROWER and not ctx.schema.is_new_column(table, column):
        reason = (
            f"Changing {label} from {old_sql} to {new_sql} narrows it: existing values that do not fit are rejected "
            "or silently cut; add a new column, backfill and check it, then switch over."
        )
        return [Hit("narrow_column_type", reason)]
    if change is Change.UNKNOWN:
        reason = (
            f"Cannot tell whether every {old_sql} value of {label} converts to {new_sql}; the conversion may fail or "
            "change values, so add a new column and backfill it instead."
        )
        return ctx.unless_new(table, "change_column_type", reason)
    if change is Change.WIDER and rewrites_table(old, new, dialect=ctx.dialect):
        reason = (
            f"Changing {label} from {old_sql} to {new_sql} rewrites the whole table while blocking writes; on a "
            "big table add a new column and backfill it in batches instead."
        )
        return ctx.unless_new(table, "change_column_type", reason)
    return []


def _check_modify_column(node: exp.ModifyColumn, ctx: Context) -> list[Hit]:
    """MySQL MODIFY / CHANGE [COLUMN]: a full new definition, possibly under a new name."""
    table, definition = _alter_table(node), node.this
    old_name = node.args.get("rename_from") or definition.this
    hits: list[Hit] = []
    if isinstance(definition.args.get("kind"), exp.DataType):
        hits += type_change_hits(table, old_name, definition.args["kind"], ctx=ctx)
    if ctx.schema.ident(old_name) != ctx.schema.ident(definition.this):
        hits += rename_column_hits(table, old_name, definition.this, ctx=ctx)
    return hits


def _check_rename_column(node: exp.RenameColumn, ctx: Context) -> list[Hit]:
    return rename_column_hits(_alter_table(node), node.this, node.args["to"], ctx=ctx)


def rename_column_hits(table: exp.Table, old: exp.Expr, new: exp.Expr, *, ctx: Context) -> list[Hit]:
    reason = (
        f"Renaming column {ctx.sql(table)}.{ctx.sql(old)} to {ctx.sql(new)} breaks app versions still running "
        "against the old name; use expand/contract: add the new column, write both, backfill, move reads, then "
        "drop the old one."
    )
    hits = ctx.unless_new(table, "rename_column", reason)
    ctx.schema.rename_column(table, old, new)
    return hits


def _check_alter_rename(node: exp.AlterRename, ctx: Context) -> list[Hit]:
    alter = node.parent
    if not isinstance(alter, exp.Alter) or str(alter.args.get("kind")).upper() not in ("TABLE", "VIEW"):
        return []  # renaming an index or sequence breaks no query
    renamed_to = [option.this for option in alter.args.get("options") or [] if isinstance(option, exp.ToTableProperty)]
    if renamed_to and isinstance(alter.this, exp.Table) and isinstance(renamed_to[0], exp.Table):
        # PostgreSQL's ALTER TABLE a RENAME c TO d (COLUMN is optional), which sqlglot reads as RENAME c + TO d
        return rename_column_hits(alter.this, node.this.this, renamed_to[0].this, ctx=ctx)
    old, new = alter.this, node.this
    hits = ctx.unless_new(old, "rename_table", rename_table_reason(ctx.sql(old), ctx.sql(new)))
    ctx.schema.rename_table(old, new)
    return hits


def rename_table_reason(old: str, new: str) -> str:
    return (
        f"Renaming {old} to {new} breaks app versions still running against the old name; use expand/contract "
        "(e.g. rename and leave a view under the old name, move the app, then drop the view)."
    )


def foreign_key_reason(table: str) -> str:
    return (
        f"Adding a foreign key to {table} without NOT VALID checks every row while blocking writes to both "
        "tables; add it NOT VALID, then VALIDATE CONSTRAINT in a later statement."
    )


def _check_add_constraint(node: exp.AddConstraint, ctx: Context) -> list[Hit]:
    """PostgreSQL ADD CONSTRAINT: FOREIGN KEY / CHECK should be NOT VALID; PK / UNIQUE should reuse an index."""
    if ctx.dialect != "postgresql":
        return []
    table = _alter_table(node)
    not_valid = bool(node.parent.args.get("not_valid")) if node.parent else False
    bodies = [
        body for item in node.expressions for body in (item.expressions if isinstance(item, exp.Constraint) else [item])
    ]
    label = ctx.sql(table)
    return [
        hit
        for body in bodies
        for hit in constraint_hits(_constraint_kind(body), table=table, label=label, not_valid=not_valid, ctx=ctx)
    ]


def _constraint_kind(body: exp.Expr) -> str:
    if isinstance(body, exp.ForeignKey):
        return "FOREIGN"
    if isinstance(body, exp.CheckColumnConstraint):
        return "CHECK"
    if isinstance(body, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)):
        return "UNIQUE"
    return ""


def constraint_hits(kind: str, *, table: exp.Table | None, label: str, not_valid: bool, ctx: Context) -> list[Hit]:
    """Hits for a PostgreSQL ADD CONSTRAINT of ``kind`` FOREIGN / CHECK / UNIQUE (PRIMARY KEY counts as UNIQUE)."""
    if kind == "FOREIGN" and not not_valid:
        return ctx.unless_new(table, "add_foreign_key", foreign_key_reason(label))
    if kind == "CHECK" and not not_valid:
        reason = (
            f"Adding a CHECK constraint to {label} without NOT VALID scans every row while blocking writes; add it "
            "NOT VALID, then VALIDATE CONSTRAINT in a later statement."
        )
        return ctx.unless_new(table, "add_check", reason)
    if kind == "UNIQUE":
        reason = (
            f"Adding a PRIMARY KEY or UNIQUE constraint to {label} builds its index while blocking reads and writes; "
            "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... USING INDEX."
        )
        return ctx.unless_new(table, "add_unique_constraint", reason)
    return []


def _check_nested_command(node: exp.Command, ctx: Context) -> list[Hit]:
    """A part of a parsed statement that sqlglot kept as raw text (an ALTER TABLE action such as SET SCHEMA, or
    SQLite's DROP without COLUMN): read from its tokens, else reported as not analyzed."""
    alter = node.find_ancestor(exp.Alter)  # an action, or an option (SET SCHEMA sits in a SetConfigProperty)
    table = alter.this if alter is not None and str(alter.args.get("kind")).upper() == "TABLE" else None
    if isinstance(table, exp.Table) and ctx.read_action is not None:
        hits = ctx.read_action(ctx.sql(node), table, ctx)
        if hits is not None:
            return hits
    return [Hit("unanalyzed", f"Part of this statement ({ctx.sql(node)}) is not analyzed; review it by hand.")]


_CHECKERS: dict[type[exp.Expr], Callable[[Any, Context], Iterable[Hit]]] = {
    exp.Drop: _check_drop,
    exp.DropPrimaryKey: _check_drop_primary_key,
    exp.TruncateTable: _check_truncate,
    exp.Delete: _check_delete,
    exp.Update: _check_update,
    exp.Merge: _check_merge,
    exp.Create: _check_create,
    exp.ColumnDef: _check_add_column,
    exp.AlterColumn: _check_alter_column,
    exp.ModifyColumn: _check_modify_column,
    exp.RenameColumn: _check_rename_column,
    exp.AlterRename: _check_alter_rename,
    exp.AddConstraint: _check_add_constraint,
    exp.Command: _check_nested_command,
}
