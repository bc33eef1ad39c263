"""What the safety analysis knows about the schema while it walks a plan: column types and new objects."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import ParseError

from dbmigrate.sqltext import sqlglot_dialect

#: The kinds of object whose newness is tracked; MySQL's DATABASE is its SCHEMA.
_KINDS = {"TABLE": "TABLE", "SCHEMA": "SCHEMA", "DATABASE": "SCHEMA"}


class SchemaState:
    """What the analysis knows about the schema while it walks the scripts of one plan, in the order they run.

    Column types come from the caller (``column_types``, keyed by table — bare or schema-qualified — and column, as
    the database stores the names) and from CREATE TABLE / ADD COLUMN / type changes earlier in the plan. Tables,
    schemas and columns created earlier in the plan (plain CREATE, not IF NOT EXISTS or AS SELECT) held no data
    before it and are unseen by running app versions, so dropping or emptying them destroys nothing that existed,
    and lock and rewrite risks on them do not matter. One state is carried across the plan's scripts: a table
    created by one migration is new for the next.
    """

    def __init__(
        self,
        dialect: str,
        column_types: Mapping[tuple[str, str], str] | None = None,
        *,
        own_schema: str | None = None,
    ) -> None:
        """``own_schema`` names the schema whose tables ``column_types`` keys bare (MySQL: the connection's database,
        SQLite: ``main``); None when it is not known, which is right only when ``column_types`` covers every other
        schema (PostgreSQL's snapshot does): a qualified name none of its keys has is then taken to be in it."""
        self.dialect = dialect
        self._sqlglot = sqlglot_dialect(dialect)
        self._given = {(self._fold(t), self._fold(c)): ty for (t, c), ty in (column_types or {}).items()}
        self._given_unqualified = _unqualified(self._given)
        self._given_schemas = {table.rsplit(".", 1)[0] for table, _ in self._given if "." in table}
        self._own_schema = None if own_schema is None else self._fold(own_schema)
        self._declared: dict[str, dict[str, exp.DataType]] = {}
        self._new: set[tuple[str, str]] = set()  # (kind, key)
        self._new_columns: set[tuple[str, str]] = set()  # (table key, column)
        self._before_run = False  # judge type changes against the types before the run (see for_rollback)

    def _fold(self, name: str) -> str:
        """PostgreSQL names are exact (unquoted ones were folded when written); MySQL/SQLite ignore case."""
        return name if self.dialect == "postgresql" else name.lower()

    def ident(self, node: exp.Expr) -> str:
        """The name an identifier (or a column reference) denotes in the database."""
        ident = node.this if isinstance(node, exp.Column) else node
        if self.dialect == "postgresql" and isinstance(ident, exp.Identifier) and ident.quoted:
            return ident.name
        return ident.name.lower()

    def table_key(self, table: exp.Table) -> str:
        return ".".join(self.ident(part) for part in table.parts)

    def is_new(self, table: exp.Table, kind: str = "TABLE") -> bool:
        """Whether the table (or schema/database, by ``kind``) was created earlier in the plan."""
        return (_KINDS.get(kind, kind), self.table_key(table)) in self._new

    def is_new_column(self, table: exp.Table, column: exp.Expr) -> bool:
        """Whether the column was added earlier in the plan, or belongs to a table that was."""
        return self.is_new(table) or (self.table_key(table), self.ident(column)) in self._new_columns

    def created(self, create: exp.Create) -> None:
        """Record a CREATE TABLE / SCHEMA / DATABASE: a new empty object (unless IF NOT EXISTS or AS SELECT) and the
        table's column types."""
        kind = str(create.args.get("kind") or "").upper()
        schema = create.this
        table = schema.this if isinstance(schema, exp.Schema) else schema
        if kind not in _KINDS or not isinstance(table, exp.Table):
            return
        if create.args.get("exists") or create.expression is not None:
            return
        key = self.table_key(table)
        self._new.add((_KINDS[kind], key))
        columns = schema.expressions if isinstance(schema, exp.Schema) else []
        self._declared[key] = {
            self.ident(col.this): col.args["kind"]
            for col in columns
            if isinstance(col, exp.ColumnDef) and isinstance(col.args.get("kind"), exp.DataType)
        }

    def added_column(self, table: exp.Table, column: exp.Expr, dtype: exp.DataType | None) -> None:
        """Record an ADD COLUMN: a new column (empty, or filled by its default) of the given type."""
        self._new_columns.add((self.table_key(table), self.ident(column)))
        if dtype is not None:
            self.set_type(table, column, dtype)

    def for_rollback(self) -> SchemaState:
        """A copy to judge a down part with, as an up plan's rollback would run it after the up parts so far.

        What the down part does is not seen by the next up part. Its type changes are judged against the types the
        columns had before the run: a rollback restoring a column's type loses nothing that existed before. The
        copy is shallow (the per-table dicts are never changed in place), so it costs little on a long plan.
        """
        fork = copy.copy(self)
        fork._declared, fork._new, fork._new_columns = dict(self._declared), set(self._new), set(self._new_columns)
        fork._before_run = True
        return fork

    def column_type(self, table: exp.Table, column: exp.Expr) -> exp.DataType | None:
        """The column's current type: declared earlier in the plan, else given by the caller, else unknown."""
        key, name = self.table_key(table), self.ident(column)
        declared = self._declared.get(key, {}).get(name)
        given = self._given.get((key, name))
        bare = (self.ident(table.this), name)
        if given is None and not table.db:  # ALTER TABLE users: the caller may key it users or public.users
            given = self._given.get(bare) or self._given_unqualified.get(bare)
        elif given is None and not table.catalog and self._in_own_schema(self.ident(table.args["db"])):
            given = self._given.get(bare)  # ALTER TABLE public.users, keyed users as the connection's own
        if declared is not None and (given is None or not self._before_run):
            return declared
        if given is None:
            return None
        try:
            return exp.DataType.build(given, dialect=self._sqlglot)
        except (ParseError, ValueError):
            return None

    def _in_own_schema(self, schema: str) -> bool:
        if self._own_schema is not None:
            return schema == self._own_schema
        return schema not in self._given_schemas

    def set_type(self, table: exp.Table, column: exp.Expr, dtype: exp.DataType) -> None:
        key = self.table_key(table)
        self._declared[key] = {**self._declared.get(key, {}), self.ident(column): dtype}  # copied: see for_rollback

    def rename_column(self, table: exp.Table, old: exp.Expr, new: exp.Expr) -> None:
        """Move the column's type (declared, or the live one) and newness to its new name."""
        key, old_name, new_name = self.table_key(table), self.ident(old), self.ident(new)
        live = self.column_type(table, old)
        columns = {name: dtype for name, dtype in self._declared.get(key, {}).items() if name != old_name}
        if live is not None:
            self._declared[key] = {**columns, new_name: live}
        if (key, old_name) in self._new_columns:
            self._new_columns.discard((key, old_name))
            self._new_columns.add((key, new_name))

    def rename_table(self, old: exp.Table, new: exp.Table) -> None:
        """Move the table's column types (declared, or the live ones) and newness to its new name."""
        old_key, new_key = self.table_key(old), self.table_key(new)
        bare = self.ident(old.this)
        live = {
            column: self.column_type(old, exp.to_identifier(column, quoted=True))
            for table, column in self._given
            if table.rsplit(".", 1)[-1] == bare
        }
        declared = self._declared.pop(old_key, {})
        self._declared[new_key] = {**{c: t for c, t in live.items() if t is not None}, **declared}
        if ("TABLE", old_key) in self._new:
            self._new.discard(("TABLE", old_key))
            self._new.add(("TABLE", new_key))
        moved = {(table, column) for table, column in self._new_columns if table == old_key}
        self._new_columns -= moved
        self._new_columns |= {(new_key, column) for _, column in moved}


def _unqualified(types: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Schema-qualified entries by bare table name, so ``ALTER TABLE users`` finds ``public.users``; a name found
    in several schemas is left out rather than guessed."""
    found: dict[tuple[str, str], str | None] = {}
    for (table, column), dtype in types.items():
        if "." in table:
            key = (table.rsplit(".", 1)[1], column)
            found[key] = dtype if key not in found else None
    return {key: dtype for key, dtype in found.items() if dtype is not None}
