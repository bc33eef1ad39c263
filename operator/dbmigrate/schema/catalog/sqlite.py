"""The schema of an SQLite database's ``main`` schema, from sqlite_master and the table-valued pragmas.

Joining ``sqlite_master`` with ``pragma_table_xinfo(name)`` (and the index and foreign-key pragmas) reads
every table in one query per kind. SQLite keeps no names for most constraints, so they get PostgreSQL-like
ones (``users_pkey``, ``users_email_key``, ``orders_user_id_fkey``, ``users_check1``), and no catalog entry
for CHECK constraints, AUTOINCREMENT, index expressions, a column's declared COLLATE or a generated column's
expression: those are read from the stored ``CREATE`` statements.
"""

from __future__ import annotations

import itertools
import operator
import re

import sqlalchemy
from sqlglot import Token, TokenType
from sqlglot.dialects.dialect import Dialect

from dbmigrate.schema.catalog import Parts, Row, TableKey, rows
from dbmigrate.schema.model import Column, Constraint, Index, Trigger, View

_USER_TABLES = "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"

_TABLES = f"SELECT m.name, m.sql FROM sqlite_master m WHERE {_USER_TABLES}"

# Each query below is formatted with ``skipped``: the condition leaving out the virtual tables whose module is not
# loaded, since asking about one fails the whole query ("no such module").
_COLUMNS = f"""
SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden
FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p
WHERE {_USER_TABLES}{{skipped}}
"""

# Index columns in order; origin 'pk' is the primary key's own index (reported as the constraint), cid -2 an
# expression, which only the index's CREATE statement spells.
_INDEXES = f"""
SELECT m.name, il.name, il."unique", il.origin, x.cid, x.name, x."desc", s.sql, il.partial, upper(x.coll)
FROM sqlite_master m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_xinfo(il.name) x
LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = il.name
WHERE {_USER_TABLES}{{skipped}} AND il.origin <> 'pk' AND x.key = 1
ORDER BY m.name, il.name, x.seqno
"""

_FOREIGN_KEYS = f"""
SELECT m.name, fk.id, fk."table", fk."from", fk."to", fk.on_delete, fk.on_update
FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk
WHERE {_USER_TABLES}{{skipped}}
ORDER BY m.name, fk.id, fk.seq
"""

_VIEWS = "SELECT name, sql FROM sqlite_master WHERE type = 'view'"

_TRIGGERS = "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"

_GENERATED = {2: "virtual", 3: "stored"}

_BY_ID = operator.itemgetter(0, 1)
#: What may follow a CREATE TABLE's closing parenthesis.
_TABLE_OPTIONS = re.compile(r"\b(WITHOUT\s+ROWID|STRICT)\b", re.IGNORECASE)
_MODULES = "SELECT name FROM pragma_module_list"
_VIRTUAL_TABLE = re.compile(r"\s*CREATE\s+VIRTUAL\s+TABLE\s.*?\sUSING\s+[\"'`\[]?(\w+)", re.IGNORECASE | re.DOTALL)


def unreadable_virtual_tables(conn: sqlalchemy.Connection) -> dict[str, str]:
    """Virtual tables whose module this connection has not loaded (an extension such as SpatiaLite's), by name,
    with the module: SQLite cannot even list their columns, so they are left out of the snapshot."""
    virtual = {}
    for name, sql in rows(conn, _TABLES):
        match = _VIRTUAL_TABLE.match(sql or "")
        if match:
            virtual[name] = match.group(1)
    if not virtual:
        return {}
    loaded = {str(r[0]).lower() for r in rows(conn, _MODULES)}
    return {name: module for name, module in virtual.items() if module.lower() not in loaded}


def read(conn: sqlalchemy.Connection) -> Parts:
    """All tables, columns, indexes, constraints, views and triggers of ``main``, in six queries."""
    unreadable = unreadable_virtual_tables(conn)
    skipped = f" AND m.name NOT IN ({', '.join(map(_literal, unreadable))})" if unreadable else ""
    tables = {r[0]: r[1] for r in rows(conn, _TABLES) if r[0] not in unreadable}
    parts = Parts(own_schema="main", tables=[(None, name) for name in tables])
    for table, sql in tables.items():
        options = _TABLE_OPTIONS.findall(sql[sql.rfind(")") :])
        if options:
            parts.options[None, table] = tuple(" ".join(o.lower().split()) for o in options)
    primary_keys: dict[str, list[tuple[int, str]]] = {}
    found = rows(conn, _COLUMNS.format(skipped=skipped))
    with_generated = {r[0] for r in found if r[7] in _GENERATED}
    clauses = {
        table: _column_clauses(sql)
        for table, sql in tables.items()
        if table in with_generated or "collate" in sql.lower()
    }
    for r in found:
        autoincrement = r[6] == 1 and _autoincrement(tables[r[0]])
        collation, expression = clauses.get(r[0], {}).get(r[2].casefold(), (None, None))
        column = Column(
            name=r[2],
            type=r[3],
            nullable=not r[4],
            default=r[5],
            ordinal=r[1] + 1,
            identity="autoincrement" if autoincrement else None,
            generated=f"{expression} {_GENERATED[r[7]]}" if r[7] in _GENERATED else None,
            collation=collation,
        )
        parts.columns.append(((None, r[0]), column))
        if r[6]:
            primary_keys.setdefault(r[0], []).append((r[6], r[2]))
    pk_columns = {table: tuple(name for _, name in sorted(pk)) for table, pk in primary_keys.items()}
    for table, columns in pk_columns.items():
        parts.constraints.append(((None, table), Constraint(f"{table}_pkey", "primary key", columns)))
    names = _Names()
    _read_indexes(conn, parts, skipped=skipped, names=names)
    for (table, _), group in itertools.groupby(rows(conn, _FOREIGN_KEYS.format(skipped=skipped)), key=_BY_ID):
        parts.constraints.append(((None, table), _foreign_key(table, list(group), pk_columns, names=names)))
    for table, sql in tables.items():
        unnamed = itertools.count(1)
        for name, expression in _checks(sql):
            name = name or f"{table}_check{next(unnamed)}"
            parts.constraints.append(((None, table), Constraint(name, "check", expression=expression)))
    parts.views = [View(name=r[0], schema=None, definition=r[1]) for r in rows(conn, _VIEWS)]
    parts.triggers = [((None, r[0]), Trigger(name=r[1], definition=r[2])) for r in rows(conn, _TRIGGERS)]
    return parts


class _Names:
    """Names made up for unnamed constraints, PostgreSQL's way: a second one on the same columns of a table gets
    a number (``c_a_fkey``, ``c_a_fkey1``), in the order SQLite lists them."""

    def __init__(self) -> None:
        self._taken: set[tuple[str, str]] = set()

    def make(self, table: str, columns: tuple[str, ...], suffix: str) -> str:
        base = f"{table}_{'_'.join(columns)}_{suffix}"
        name, number = base, 0
        while (table, name) in self._taken:
            number += 1
            name = f"{base}{number}"
        self._taken.add((table, name))
        return name


def _read_indexes(conn: sqlalchemy.Connection, parts: Parts, *, skipped: str, names: _Names) -> None:
    """CREATE INDEX indexes into ``parts.indexes``, UNIQUE constraints' automatic indexes as constraints."""
    for (table, name), group in itertools.groupby(rows(conn, _INDEXES.format(skipped=skipped)), key=_BY_ID):
        keys = list(group)
        key: TableKey = (None, table)
        unique, origin, sql = bool(keys[0][2]), keys[0][3], keys[0][7]
        if origin == "u":
            columns = tuple(k[5] for k in keys)
            parts.constraints.append((key, Constraint(names.make(table, columns, "key"), "unique", columns)))
            continue
        needs_sql = keys[0][8] or any(k[4] == -2 for k in keys)
        written, predicate = _index_parts(sql) if needs_sql else ([], None)
        items = tuple(
            f"{written[i] if k[4] == -2 else k[5]}{_collate(k[9])}{' DESC' if k[6] else ''}" for i, k in enumerate(keys)
        )
        parts.indexes.append((key, Index(name=name, columns=items, unique=unique, predicate=predicate)))


def _collate(collation: str | None) -> str:
    """A key's collation, the column's own included, unless it is the default."""
    return f" COLLATE {collation}" if collation and collation != "BINARY" else ""


def _literal(text: str) -> str:
    """An SQL string in a query run through ``text()``, which would take ``:word`` for a parameter."""
    return "'" + text.replace("'", "''").replace(":", "\\:") + "'"


def _foreign_key(table: str, keys: list[Row], pk_columns: dict[str, tuple[str, ...]], *, names: _Names) -> Constraint:
    columns = tuple(k[3] for k in keys)
    ref_table = keys[0][2]
    # A reference without columns means the referenced table's primary key.
    ref_columns = tuple(k[4] for k in keys) if keys[0][4] is not None else pk_columns.get(ref_table, ())
    return Constraint(
        name=names.make(table, columns, "fkey"),
        kind="foreign key",
        columns=columns,
        ref_table=ref_table,
        ref_columns=ref_columns,
        on_delete=keys[0][5].lower(),
        on_update=keys[0][6].lower(),
    )


def _tokens(sql: str) -> list[Token]:
    return Dialect.get_or_raise("sqlite").tokenize(sql)


def _autoincrement(create_table: str) -> bool:
    return "autoincrement" in create_table.lower() and any(
        t.token_type == TokenType.AUTO_INCREMENT for t in _tokens(create_table)
    )


def _checks(create_table: str) -> list[tuple[str | None, str]]:
    """``(name or None, expression)`` of each CHECK constraint of a CREATE TABLE statement, in order."""
    if "check" not in create_table.lower():
        return []
    tokens = _tokens(create_table)
    checks = []
    for i, token in enumerate(tokens[:-1]):
        is_check = token.token_type == TokenType.VAR and token.text.upper() == "CHECK"
        if is_check and tokens[i + 1].token_type == TokenType.L_PAREN:
            end = _closing_paren(tokens, i + 1)
            named = i >= 2 and tokens[i - 2].token_type == TokenType.CONSTRAINT
            expression = create_table[tokens[i + 1].end + 1 : tokens[end].start].strip()
            checks.append((tokens[i - 1].text if named else None, expression))
    return checks


def _column_clauses(create_table: str) -> dict[str, tuple[str | None, str | None]]:
    """Each column's (by casefolded name) declared collation and generated expression, of a CREATE TABLE."""
    tokens = _tokens(create_table)
    start = next((i for i, t in enumerate(tokens) if t.token_type == TokenType.L_PAREN), None)
    if start is None or any(t.token_type == TokenType.ALIAS for t in tokens[:start]):  # CREATE TABLE … AS SELECT
        return {}
    clauses = {}
    for definition in _top_level_items(tokens, start):
        if not definition or _starts_table_constraint(definition[0]):
            continue
        collation = expression = None
        for i, token in enumerate(definition[:-1]):
            if token.token_type == TokenType.COLLATE:
                collation = definition[i + 1].text.upper()
            elif token.token_type == TokenType.ALIAS and definition[i + 1].token_type == TokenType.L_PAREN:
                end = i + 1 + _closing_paren(definition[i + 1 :], 0)
                expression = create_table[definition[i + 1].end + 1 : definition[end].start].strip()
        clauses[definition[0].text.casefold()] = (collation, expression)
    return clauses


def _starts_table_constraint(token: Token) -> bool:
    """CHECK is a plain word to the tokenizer (a column named so would be quoted: an identifier)."""
    if token.token_type == TokenType.VAR:
        return token.text.upper() == "CHECK"
    return token.token_type in (TokenType.CONSTRAINT, TokenType.PRIMARY_KEY, TokenType.UNIQUE, TokenType.FOREIGN_KEY)


def _top_level_items(tokens: list[Token], open_at: int) -> list[list[Token]]:
    """The comma-separated items inside the parentheses opened at ``open_at``, as token lists."""
    end = _closing_paren(tokens, open_at)
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[open_at + 1 : end]:
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth == 0 and token.token_type == TokenType.COMMA:
            items.append([])
        else:
            items[-1].append(token)
    return items


def _index_parts(create_index: str) -> tuple[list[str], str | None]:
    """The key items as written and the WHERE predicate of a CREATE INDEX statement."""
    tokens = _tokens(create_index)
    start = next(i for i, t in enumerate(tokens) if t.token_type == TokenType.L_PAREN)
    end = _closing_paren(tokens, start)
    items, item_start, depth = [], tokens[start].end + 1, 0
    for token in tokens[start + 1 : end]:
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth == 0 and token.token_type == TokenType.COMMA:
            items.append(create_index[item_start : token.start].strip())
            item_start = token.end + 1
    items.append(create_index[item_start : tokens[end].start].strip())
    where = next((t for t in tokens[end:] if t.token_type == TokenType.WHERE), None)
    return items, create_index[where.end + 1 :].strip() if where else None


def _closing_paren(tokens: list[Token], open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(tokens)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[i].token_type, 0)
        if depth == 0:
            return i
    raise ValueError("unbalanced parentheses in a statement SQLite stored")
