"""What the safety analysis knows about the schema while it walks one SQL text: column types and new tables."""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import ParseError

from dbmigrate.sqltext import sqlglot_dialect


class SchemaState:
    """What the analysis knows about the schema while it walks one SQL text.

    Column types come from the caller (``column_types``, keyed by table — bare or schema-qualified — and column, as
    the database stores the names) and from CREATE TABLE / ADD COLUMN / type changes earlier in the same text.
    Tables created earlier in the text (plain CREATE TABLE, not IF NOT EXISTS or AS SELECT) are known to be empty
    and unseen by running app versions, so lock and rewrite risks on them do not matter.
    """

    def __init__(self, dialect: str, column_types: Mapping[tuple[str, str], str] | None) -> None:
        self.dialect = dialect
        self._sqlglot = sqlglot_dialect(dialect)
        self._given = {(self._fold(t), self._fold(c)): ty for (t, c), ty in (column_types or {}).items()}
        self._given_unqualified = _unqualified(self._given)
        self._declared: dict[str, dict[str, exp.DataType]] = {}
        self._new: set[str] = set()

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

    def is_new(self, table: exp.Table) -> bool:
        return self.table_key(table) in self._new

    def created(self, create: exp.Create) -> None:
        """Record a CREATE TABLE: a new empty table (unless IF NOT EXISTS or AS SELECT) and its column types."""
        schema = create.this
        table = schema.this if isinstance(schema, exp.Schema) else schema
        if not isinstance(table, exp.Table) or create.args.get("exists") or create.expression is not None:
            return
        key = self.table_key(table)
        self._new.add(key)
        columns = schema.expressions if isinstance(schema, exp.Schema) else []
        self._declared[key] = {
            self.ident(col.this): col.args["kind"]
            for col in columns
            if isinstance(col, exp.ColumnDef) and isinstance(col.args.get("kind"), exp.DataType)
        }

    def column_type(self, table: exp.Table, column: exp.Expr) -> exp.DataType | None:
        """The column's current type: declared earlier in this text, else given by the caller, else unknown."""
        key, name = self.table_key(table), self.ident(column)
        declared = self._declared.get(key, {}).get(name)
        if declared is not None:
            return declared
        given = self._given.get((key, name))
        if given is None and not table.db:  # ALTER TABLE users: the caller may key it users or public.users
            bare = (self.ident(table.this), name)
            given = self._given.get(bare) or self._given_unqualified.get(bare)
        if given is None:
            return None
        try:
            return exp.DataType.build(given, dialect=self._sqlglot)
        except (ParseError, ValueError):
            return None

    def set_type(self, table: exp.Table, column: exp.Expr, dtype: exp.DataType) -> None:
        self._declared.setdefault(self.table_key(table), {})[self.ident(column)] = dtype

    def rename_column(self, table: exp.Table, old: exp.Expr, new: exp.Expr) -> None:
        columns = self._declared.get(self.table_key(table), {})
        if self.ident(old) in columns:
            columns[self.ident(new)] = columns.pop(self.ident(old))

    def rename_table(self, old: exp.Table, new: exp.Table) -> None:
        old_key, new_key = self.table_key(old), self.table_key(new)
        if old_key in self._declared:
            self._declared[new_key] = self._declared.pop(old_key)
        if old_key in self._new:
            self._new.discard(old_key)
            self._new.add(new_key)


def _unqualified(types: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Schema-qualified entries by bare table name, so ``ALTER TABLE users`` finds ``public.users``; a name found
    in several schemas is left out rather than guessed."""
    found: dict[tuple[str, str], str | None] = {}
    for (table, column), dtype in types.items():
        if "." in table:
            key = (table.rsplit(".", 1)[1], column)
            found[key] = dtype if key not in found else None
    return {key: dtype for key, dtype in found.items() if dtype is not None}
