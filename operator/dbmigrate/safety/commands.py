"""Reading statements sqlglot could not turn into a tree, from their tokens.

sqlglot keeps statements it does not model as ``exp.Command`` (raw text) and rejects some valid ones; a DROP or
an ALTER ... DROP among them must still be caught. We read only the kinds that can destroy data or take heavy
locks (DROP, TRUNCATE, DELETE, UPDATE, ALTER, RENAME, CREATE INDEX), from keyword tokens: quoted identifiers,
strings and comments are separate token types, so ``"drop"`` or ``'DROP TABLE x'`` never match a keyword.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from dbmigrate.safety.findings import Hit
from dbmigrate.safety.rules import (
    ROUTINES,
    Context,
    constraint_hits,
    create_index_hits,
    drop_hits,
    rename_column_hits,
    rename_table_reason,
    routine_hits,
    truncate_reason,
)
from dbmigrate.sqltext import tokenize

#: Token types that are never keywords: quoted identifiers, numbers and every kind of string literal.
_NOT_WORDS = frozenset(
    {
        TokenType.IDENTIFIER, TokenType.NUMBER, TokenType.STRING, TokenType.BIT_STRING, TokenType.HEX_STRING,
        TokenType.BYTE_STRING, TokenType.NATIONAL_STRING, TokenType.NATIONAL_RAW_STRING, TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING,
    }
)  # fmt: skip
_DROP_KEEPS_DATA = frozenset({"DEFAULT", "NOT", "IDENTITY", "EXPRESSION"})
_DROP_CONSTRAINT_WORDS = frozenset({"CONSTRAINT", "INDEX", "KEY", "FOREIGN", "PRIMARY", "CHECK", "UNIQUE"})
_VALUE_WORDS = frozenset({"DEFAULT", "GENERATED", "IDENTITY", "AUTO_INCREMENT", "SERIAL", "BIGSERIAL", "SMALLSERIAL"})


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the tokens told us: the hits, and whether every part of the statement was understood."""

    hits: list[Hit]
    understood: bool


class _Words:
    """A cursor over a statement's tokens that matches keywords by token type, never inside literals.

    sqlglot makes one token of some keyword pairs (``FOREIGN KEY``, ``PRIMARY KEY``); they are split into one
    item per word so matching never depends on how the tokenizer grouped them.
    """

    def __init__(self, tokens: list[Token], text: str) -> None:
        self.text, self.pos = text, 0
        self.items: list[tuple[str | None, Token]] = [
            (word, token)
            for token in tokens
            for word in (token.text.upper().split() if token.token_type not in _NOT_WORDS else [None])
        ]

    def word(self, offset: int = 0) -> str | None:
        """The keyword or bare word ``offset`` items ahead, upper-cased; None for literals, quoted names, the end."""
        index = self.pos + offset
        return self.items[index][0] if index < len(self.items) else None

    def take(self, *words: str) -> bool:
        """Consume ``words`` if the next tokens are exactly those keywords."""
        if all(self.word(i) == word for i, word in enumerate(words)):
            self.pos += len(words)
            return True
        return False

    def next_word(self) -> str:
        word = self.word() or ""
        self.pos += 1
        return word

    def has(self, *words: str) -> bool:
        """Whether the keywords appear, in sequence, anywhere from the cursor on."""
        return any(
            all(self.word(start + i) == word for i, word in enumerate(words))
            for start in range(len(self.items) - self.pos)
        )

    def has_outside_parens(self, word: str) -> bool:
        """Whether the keyword appears from the cursor on, outside any parentheses."""
        depth = 0
        for item, token in self.items[self.pos :]:
            depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
            if depth == 0 and item == word:
                return True
        return False

    def take_name(self) -> exp.Table | None:
        """Consume a possibly qualified name (``a``, ``s.a``, ``"A"``) as a table reference."""
        parts: list[exp.Identifier] = []
        while self.pos < len(self.items) and _is_name(self.items[self.pos][1]):
            token = self.items[self.pos][1]
            parts.append(exp.Identifier(this=token.text, quoted=token.token_type == TokenType.IDENTIFIER))
            self.pos += 1
            if not self.take_type(TokenType.DOT):
                break
        if not parts:
            return None
        qualifiers = dict(zip(("db", "catalog"), reversed(parts[:-1]), strict=False))
        return exp.Table(this=parts[-1], **qualifiers)

    def take_type(self, token_type: TokenType) -> bool:
        if self.pos < len(self.items) and self.items[self.pos][1].token_type == token_type:
            self.pos += 1
            return True
        return False

    def rest(self) -> str:
        """The statement text from the cursor on (for messages)."""
        if self.pos >= len(self.items):
            return ""
        return self.text[self.items[self.pos][1].start : self.items[-1][1].end + 1]

    def split_actions(self) -> list[_Words]:
        """The comma-separated parts from the cursor on (commas inside parentheses do not split)."""
        parts: list[list[Token]] = [[]]
        depth = 0
        for _, token in self.items[self.pos :]:
            depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
            if token.token_type == TokenType.COMMA and depth == 0:
                parts.append([])
            elif not parts[-1] or parts[-1][-1] is not token:  # a split keyword pair is one token again
                parts[-1].append(token)
        return [_Words(part, self.text) for part in parts if part]


def _is_name(token: Token) -> bool:
    """Whether a token can be (part of) an object name: a quoted identifier or a word, not punctuation."""
    if token.token_type in _NOT_WORDS:
        return token.token_type == TokenType.IDENTIFIER
    return token.text[:1].isalpha() or token.text[:1] == "_"


def read_tokens(tokens: list[Token], text: str, ctx: Context) -> Reading:
    """Read an unparsed statement from its tokens; statements of other kinds are not understood."""
    words = _Words(tokens, text)
    reader = _READERS.get(words.next_word())
    return reader(words, ctx) if reader else Reading([], understood=False)


def _read_drop(words: _Words, ctx: Context) -> Reading:
    if words.take("TEMPORARY") or words.take("TEMP"):
        return Reading([], understood=True)
    words.take("MATERIALIZED")
    kind = words.next_word()
    concurrently = words.take("CONCURRENTLY")
    words.take("IF", "EXISTS")
    cascade = words.has("CASCADE")
    hits = drop_hits(kind, names=words.rest(), cascade=cascade, concurrently=concurrently, ctx=ctx)
    return Reading(hits, understood=True)  # unknown kinds already count as destructive


def _read_truncate(words: _Words, ctx: Context) -> Reading:
    words.take("TABLE")
    return Reading([Hit("truncate", truncate_reason(words.rest()))], understood=True)


def _read_delete(words: _Words, ctx: Context) -> Reading:
    """A DELETE sqlglot could not parse (MariaDB's ``DELETE IGNORE FROM t``, ``DELETE t.* FROM t``)."""
    while words.take("LOW_PRIORITY") or words.take("QUICK") or words.take("IGNORE"):
        pass
    words.take("FROM")
    return _unless_filtered(words, "delete_without_where", "deletes", ctx)


def _read_update(words: _Words, ctx: Context) -> Reading:
    """An UPDATE sqlglot could not parse (MariaDB's ``UPDATE IGNORE t``, SQLite's ``UPDATE OR REPLACE t``)."""
    while words.take("LOW_PRIORITY") or words.take("IGNORE"):
        pass
    if words.take("OR"):
        words.next_word()  # SQLite's conflict clause: REPLACE, IGNORE, ABORT, ROLLBACK, FAIL
    return _unless_filtered(words, "update_without_where", "overwrites", ctx)


def _unless_filtered(words: _Words, rule: str, verb: str, ctx: Context) -> Reading:
    """A DELETE/UPDATE read from its tokens is filtered only by a WHERE outside parentheses (one in a subquery
    filters the subquery); a join condition is not looked at, so a join alone does not count as a filter."""
    target = words.take_name()
    if words.has_outside_parens("WHERE"):
        return Reading([], understood=True)
    label = ctx.sql(target) if target is not None else "its table"
    reason = (
        f"This statement {verb} every row of {label} (it has no WHERE clause); add a WHERE clause, or allow it if "
        "that is intended."
    )
    return Reading(ctx.unless_new(target, rule, reason), understood=True)


def _read_rename(words: _Words, ctx: Context) -> Reading:
    """MySQL ``RENAME TABLE a TO b[, c TO d]``: the tokenizer hands RENAME's arguments over as one string."""
    if words.take_type(TokenType.STRING):
        remainder = words.items[words.pos - 1][1].text
        words = _Words(tokenize(remainder, ctx.dialect), remainder)
    if not words.take("TABLE"):
        return Reading([], understood=False)
    hits: list[Hit] = []
    for pair in words.split_actions():
        old = pair.take_name()
        pair.take("TO")
        new = pair.take_name()
        if old is None or new is None:
            return Reading(hits, understood=False)
        hits += ctx.unless_new(old, "rename_table", rename_table_reason(ctx.sql(old), ctx.sql(new)))
        ctx.schema.rename_table(old, new)
    return Reading(hits, understood=True)


def _read_create(words: _Words, ctx: Context) -> Reading:
    routine = _routine_kind(words)
    if routine is not None:
        return Reading(routine_hits(routine), understood=True)
    words.take("UNIQUE")
    if not words.take("INDEX"):
        return Reading([], understood=False)
    if ctx.dialect != "postgresql" or words.take("CONCURRENTLY"):
        return Reading([], understood=True)
    while words.pos < len(words.items) and words.word() != "ON":
        words.pos += 1
    words.take("ON")
    words.take("ONLY")
    table = words.take_name()
    return Reading(create_index_hits(table, ctx), understood=True)


def _routine_kind(words: _Words) -> str | None:
    """The kind of a CREATE [OR REPLACE] [DEFINER = ...] PROCEDURE / FUNCTION / TRIGGER / EVENT, read up to its
    first parenthesis or BEGIN (MySQL's definer and SQLite's TEMP come before the kind)."""
    for offset in range(len(words.items) - words.pos):
        word, token = words.items[words.pos + offset]
        if word in ROUTINES:
            return word
        if word in ("BEGIN", "AS", "ON") or token.token_type == TokenType.L_PAREN:
            return None
    return None


def _read_alter(words: _Words, ctx: Context) -> Reading:
    words.take("ONLINE")  # MariaDB: ALTER [ONLINE] [IGNORE] TABLE
    ignore = words.take("IGNORE")
    kind = words.next_word()
    words.take("IF", "EXISTS")
    words.take("ONLY")
    table = words.take_name()
    words.take_type(TokenType.STAR)
    if table is None:
        return Reading([], understood=False)
    readings = [_read_action(action, table, ctx) for action in words.split_actions()]
    hits = [hit for reading in readings for hit in reading.hits]
    if ignore:
        reason = (
            f"ALTER IGNORE TABLE {ctx.sql(table)} silently deletes the rows that would duplicate a new unique key "
            "(and keeps values that do not fit a new type cut, with a warning only); delete duplicates with a "
            "reviewed statement first and drop IGNORE."
        )
        hits += ctx.unless_new(table, "alter_ignore", reason)
    return Reading(hits, understood=kind == "TABLE" and all(reading.understood for reading in readings))


def read_action_text(text: str, table: exp.Table, ctx: Context) -> list[Hit] | None:
    """The hits of one ALTER TABLE action a parsed statement kept as raw text; None when it is not understood."""
    reading = _read_action(_Words(tokenize(text, ctx.dialect), text), table, ctx)
    return reading.hits if reading.understood else None


def _read_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    reader = _ACTION_READERS.get(action.next_word())
    return reader(action, table, ctx) if reader else Reading([], understood=False)


def _read_drop_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    what = action.word()
    label = ctx.sql(table)
    if what in _DROP_KEEPS_DATA:
        return Reading([], understood=True)
    if what in _DROP_CONSTRAINT_WORDS:
        reason = f"Dropping {action.rest()} of {label} removes a guarantee or index the app may rely on."
        return Reading([Hit("drop_constraint", reason)], understood=True)
    if what == "PARTITION":
        reason = f"Dropping {action.rest()} of {label} deletes every row in it; detach and archive it first."
        return Reading([Hit("drop_partition", reason)], understood=True)
    _ = action.take("COLUMN") or action.take("ATTRIBUTE")
    action.take("IF", "EXISTS")
    reason = (
        f"Dropping column {action.rest()} of {label} deletes its data and breaks app versions that still use it; "
        "stop using it in the app and deploy first, then drop it in a later migration (expand/contract)."
    )
    return Reading([Hit("drop_column", reason)], understood=True)


def _read_rename_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    if action.word() in ("CONSTRAINT", "INDEX", "KEY"):
        return Reading([], understood=True)
    if action.take("TO") or action.take("AS"):
        new = action.take_name()
        if new is None:
            return Reading([], understood=False)
        hits = ctx.unless_new(table, "rename_table", rename_table_reason(ctx.sql(table), ctx.sql(new)))
        ctx.schema.rename_table(table, new)
        return Reading(hits, understood=True)
    action.take("COLUMN")
    old = action.take_name()
    action.take("TO")
    new = action.take_name()
    if old is None or new is None:
        return Reading([], understood=False)
    return Reading(rename_column_hits(table, old.this, new.this, ctx=ctx), understood=True)


def _read_truncate_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    return Reading([Hit("truncate", truncate_reason(f"{action.rest()} of {ctx.sql(table)}"))], understood=True)


def _read_validate_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    return Reading([], understood=True)


def _read_set_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    """``SET SCHEMA s`` moves the table: for clients that is a rename."""
    if not action.take("SCHEMA"):
        return Reading([], understood=False)
    reason = rename_table_reason(ctx.sql(table), f"schema {action.rest()}")
    return Reading(ctx.unless_new(table, "rename_table", reason), understood=True)


def _read_alter_column_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    action.take("COLUMN")
    column = action.take_name()
    label = f"{ctx.sql(table)}.{ctx.sql(column) if column else '?'}"
    if action.has("TYPE"):
        reason = (
            f"Changing the type of {label} may narrow it (the statement could not be fully read) and usually "
            "rewrites the table under a lock; add a new column and backfill it instead."
        )
        return Reading(ctx.unless_new(table, "change_column_type", reason), understood=True)
    if action.has("SET", "NOT", "NULL"):
        reason = (
            f"SET NOT NULL on {label} scans the whole table under an ACCESS EXCLUSIVE lock; add a CHECK (... IS NOT "
            "NULL) NOT VALID, VALIDATE it, then SET NOT NULL."
        )
        return Reading(ctx.unless_new(table, "set_not_null", reason), understood=True)
    return Reading([], understood=False)


def _read_modify_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    """MySQL ``MODIFY``/``CHANGE`` redefine the column's type; unparsed, we cannot tell how."""
    reason = (
        f"Redefining a column of {ctx.sql(table)} ({action.rest()}) may narrow its type (the statement could not "
        "be fully read) and copies the table; add a new column and backfill it instead."
    )
    return Reading(ctx.unless_new(table, "change_column_type", reason), understood=True)


def _read_add_action(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    if action.take("CONSTRAINT"):
        action.take_name()
    kind = action.word()
    if kind in ("FOREIGN", "CHECK", "UNIQUE", "PRIMARY"):
        if ctx.dialect != "postgresql" or action.has("USING", "INDEX"):
            return Reading([], understood=True)
        kind = "UNIQUE" if kind == "PRIMARY" else kind
        not_valid = action.has("NOT", "VALID")
        return Reading(constraint_hits(kind, table=table, label=ctx.sql(table), not_valid=not_valid, ctx=ctx), True)
    if kind in ("EXCLUDE", "INDEX", "KEY", "PARTITION"):
        return Reading([], understood=False)
    return _read_add_column(action, table, ctx)


def _read_add_column(action: _Words, table: exp.Table, ctx: Context) -> Reading:
    action.take("COLUMN")
    action.take("IF", "NOT", "EXISTS")
    column = action.take_name()
    label = f"{ctx.sql(table)}.{ctx.sql(column) if column else '?'}"
    hits: list[Hit] = []
    required = action.has("NOT", "NULL") or action.has("PRIMARY", "KEY")
    if required and not any(action.has(word) for word in _VALUE_WORDS):
        reason = (
            f"Adding NOT NULL column {label} without a DEFAULT fails on a table with rows (MySQL fills in 0 or '') "
            "and breaks inserts from app versions that do not set it; add it with a DEFAULT, or nullable and "
            "backfill, then set NOT NULL."
        )
        hits += ctx.unless_new(table, "add_column_not_null", reason)
    if ctx.dialect == "postgresql" and action.has("REFERENCES"):
        hits += constraint_hits("FOREIGN", table=table, label=ctx.sql(table), not_valid=False, ctx=ctx)
    return Reading(hits, understood=True)


_READERS: dict[str, Callable[[_Words, Context], Reading]] = {
    "DROP": _read_drop,
    "TRUNCATE": _read_truncate,
    "RENAME": _read_rename,
    "CREATE": _read_create,
    "ALTER": _read_alter,
    "DELETE": _read_delete,
    "UPDATE": _read_update,
}
_ACTION_READERS: dict[str, Callable[[_Words, exp.Table, Context], Reading]] = {
    "DROP": _read_drop_action,
    "RENAME": _read_rename_action,
    "TRUNCATE": _read_truncate_action,
    "VALIDATE": _read_validate_action,
    "SET": _read_set_action,
    "ALTER": _read_alter_column_action,
    "MODIFY": _read_modify_action,
    "CHANGE": _read_modify_action,
    "ADD": _read_add_action,
}
