"""Splitting migration SQL into statements, with the line each one starts on.

Statements are split on the semicolons that sqlglot's tokenizer sees for the target dialect, so semicolons inside
strings, quoted identifiers, comments and PostgreSQL dollar-quoted bodies (``DO $$ ... $$``) never split a
statement. Each statement keeps the comments written just before it: that is where per-statement directives such as
``-- dbmigrate:allow drop_column`` live.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dbmigrate import errors

if TYPE_CHECKING:
    from sqlglot.tokenizer_core import Token
    from sqlglot.tokens import Tokenizer

_PIECE_END = re.compile(r";[ \t]*\r?\n")

#: Our dialect names mapped to sqlglot's.
SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


@dataclasses.dataclass(frozen=True)
class Statement:
    """One SQL statement of a migration file.

    ``line`` is the 1-based line of the statement's first token in the file (comments before it do not count), so
    error messages point at the statement itself; ``text`` still includes those leading comments.
    """

    text: str
    line: int
    #: Its first words, upper-cased, from the tokens it was split by: what it does, read without tokenizing again.
    head: tuple[str, ...] = ()


def sqlglot_dialect(dialect: str) -> str:
    """The sqlglot name of one of our dialect names (``postgresql``, ``mysql``, ``sqlite``)."""
    return SQLGLOT_DIALECTS[dialect]


@functools.lru_cache(maxsize=4096)
def split_statements(sql: str, *, dialect: str, first_line: int = 1) -> tuple[Statement, ...]:
    """Split ``sql`` into statements; ``first_line`` is the file line ``sql`` starts at (for sections of a file).

    The text is tokenized piece by piece, each piece ending at a line that ends with ``;``: sqlglot's tokenizer
    slows down badly on one very large text, and a piece is only accepted when its last token is a real semicolon
    (not one inside a string, comment or ``$$`` body), which is exactly where a whole-text tokenizer would be too.
    Text the tokenizer cannot read (an unterminated string, say) is returned as one statement, so that the database
    reports the error in its own words instead of us guessing where statements end. Cached: a run splits each
    script twice (analysis, then execution).
    """
    from sqlglot import TokenType
    from sqlglot.errors import TokenError

    statements: list[Statement] = []
    start = 0
    line = first_line
    for boundary in _PIECE_END.finditer(sql):
        piece = sql[start : boundary.end()]
        try:
            tokens = _code_tokens(piece, dialect)
        except TokenError:
            continue  # the line end is inside a string or a body: take more text
        if not tokens or tokens[-1].token_type != TokenType.SEMICOLON:
            continue  # only comments so far, or a semicolon inside a comment: they belong to what follows
        split, closed = _split_tokens(piece, tokens, first_line=line)
        if not closed:
            continue  # inside a trigger's or routine's BEGIN … END body: take more text
        statements += split
        start = boundary.end()
        line += piece.count("\n")
    rest = sql[start:]
    if not rest.strip():
        return tuple(statements)
    try:
        statements += _split_tokens(rest, _code_tokens(rest, dialect), first_line=line)[0]
    except TokenError:
        stripped = rest.strip()
        if stripped:
            leading_lines = rest[: len(rest) - len(rest.lstrip())].count("\n")
            statements.append(Statement(text=stripped, line=line + leading_lines))
    return tuple(statements)


#: How MySQL's executable comments start once their ``/*`` is stripped: ``/*!50000 ...`` and MariaDB's ``/*M!...``.
EXECUTABLE = ("!", "M!")


def open_executable_comments(text: str, tokens: list[Token]) -> str:
    """``text`` with MySQL's executable comments (``/*! ... */``, ``/*!50000 ... */``, MariaDB's ``/*M! ... */``)
    opened up: the server runs what they hold, so the analysis reads it as SQL (whatever the version number).

    Between two tokens there is only whitespace and comments, so only those gaps are scanned, and only for comment
    delimiters: strings and quoted names, where ``/*!`` is text, are tokens and never scanned.
    """
    bounds = [(0, 0), *((token.start, token.end + 1) for token in tokens), (len(text), len(text))]
    pieces: list[str] = []
    for (_, gap_start), (gap_end, token_end) in itertools.pairwise(bounds):
        pieces.append(_open_gap(text[gap_start:gap_end]))
        pieces.append(text[gap_end:token_end])
    return "".join(pieces)


def _open_gap(gap: str) -> str:
    """A run of whitespace and comments with the executable comments' delimiters blanked out (lines kept)."""
    pieces: list[str] = []
    pos = 0
    while pos < len(gap):
        if gap.startswith(("--", "#"), pos):
            end = gap.find("\n", pos)
            end = len(gap) if end < 0 else end
        elif gap.startswith("/*", pos):
            close = gap.find("*/", pos + 2)
            end = len(gap) if close < 0 else close + 2
            body = gap[pos + 2 : end - 2]
            if body.startswith(EXECUTABLE):
                opened = body[body.index("!") + 1 :].lstrip("0123456789")
                pieces.append(" " * (len(body) - len(opened) + 2) + opened + "  ")
                pos = end
                continue
        else:
            end = pos + 1
        pieces.append(gap[pos:end])
        pos = end
    return "".join(pieces)


def _code_tokens(text: str, dialect: str) -> list[Token]:
    """The tokens of the SQL the server runs: on MySQL/MariaDB with executable comments opened up (their delimiters
    blanked, so offsets still point into ``text``), else a statement held in one is skipped as a comment."""
    tokens = tokenize(text, dialect)
    if dialect == "mysql" and any(comment.startswith(EXECUTABLE) for token in tokens for comment in token.comments):
        return tokenize(open_executable_comments(text, tokens), dialect)
    return tokens


def copies_with_client(statement: Statement, *, dialect: str) -> bool:
    """Whether ``statement`` is PostgreSQL's ``COPY … FROM STDIN`` or ``TO STDOUT``, whose data would have to come
    from (or go to) the client: a migration file cannot carry it, and the protocol would wait for it."""
    if dialect != "postgresql" or "copy" not in statement.text.lower():
        return False
    from sqlglot import TokenType
    from sqlglot.errors import TokenError

    try:
        tokens = tokenize(statement.text, dialect)
    except TokenError:
        return False
    words = [token.text.upper() for token in tokens if token.token_type not in (TokenType.STRING, TokenType.IDENTIFIER)]
    return bool(words) and words[0] == "COPY" and ("STDIN" in words or "STDOUT" in words)


def _split_tokens(sql: str, tokens: list[Token], *, first_line: int) -> tuple[list[Statement], bool]:
    """The statements of ``tokens``, and whether the last one is closed: a ``CREATE`` whose body is a ``BEGIN …
    END`` block (a trigger or routine on SQLite and MySQL/MariaDB, ``BEGIN ATOMIC`` on PostgreSQL) holds
    semicolons that do not end it."""
    from sqlglot import TokenType

    statements: list[Statement] = []
    chunk_start = first_index = 0
    first_token_line: int | None = None
    creating = False
    depth = 0
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON and depth == 0:
            if first_token_line is not None:
                head = _head(tokens[first_index:index])
                statements.append(_statement(sql[chunk_start : token.start], first_token_line, first_line, head))
            chunk_start = token.end + 1
            first_token_line = None
            continue
        if first_token_line is None:
            first_token_line, first_index = token.line, index
            creating = token.token_type == TokenType.CREATE
        elif creating:
            depth = max(0, depth + _block_step(tokens, index))
    if first_token_line is not None:
        statements.append(_statement(sql[chunk_start:], first_token_line, first_line, _head(tokens[first_index:])))
    return statements, depth == 0


_HEAD_WORDS = 6


def _head(tokens: list[Token]) -> tuple[str, ...]:
    """The first words of a statement; word by word, since sqlglot keeps the rest of a statement it reads as a
    command (``REINDEX …``) as one token."""
    words = (word for token in tokens[:_HEAD_WORDS] for word in token.text.upper().split())
    return tuple(itertools.islice(words, _HEAD_WORDS))


#: Words after END that close a block which did not count as opened (MySQL's IF, LOOP, WHILE and REPEAT).
_UNCOUNTED_ENDS = frozenset({"IF", "LOOP", "WHILE", "REPEAT"})


def _block_step(tokens: list[Token], index: int) -> int:
    """+1 for a token that opens a block ended by END (BEGIN, CASE), -1 for an END that closes one, else 0."""
    from sqlglot import TokenType

    kind = tokens[index].token_type
    if kind == TokenType.BEGIN:  # MySQL's tokenizer reads START (of START WITH, START TRANSACTION) as BEGIN too
        return 1 if tokens[index].text.upper() == "BEGIN" else 0
    if kind == TokenType.CASE:  # a CASE expression or statement; not the CASE of END CASE
        return 0 if index and tokens[index - 1].token_type == TokenType.END else 1
    if kind == TokenType.END:
        following = tokens[index + 1].text.upper() if index + 1 < len(tokens) else ""
        return 0 if following in _UNCOUNTED_ENDS else -1
    return 0


def transaction_body(statements: Sequence[Statement], *, dialect: str, filename: str) -> Sequence[Statement]:
    """The statements of a migration that runs in dbmigrate's own transaction.

    A ``BEGIN`` … ``COMMIT`` around the whole file (written for tools that run files as they are: psql,
    golang-migrate) is dropped, ours takes its place. Refused, before anything runs: any other statement that ends
    or starts a transaction (it would commit part of the migration, run the rest outside any transaction, and keep a
    dry run's changes), and one the database cannot run inside a transaction (it would fail there for certain)."""
    kinds = [_classify(statement.head, dialect) for statement in statements]
    if len(statements) >= 2 and kinds[0] == "begin" and kinds[-1] == "commit":
        statements, kinds = statements[1:-1], kinds[1:-1]
    for statement, kind in zip(statements, kinds, strict=True):
        if kind is None:
            continue
        where = f"{filename}:{statement.line}: `{' '.join(statement.text.split())[:80]}`"
        if kind == "outside":
            raise errors.UsageError(
                f"{where} cannot run inside a transaction, and this migration runs in one",
                hint=NO_TRANSACTION_HINT,
            )
        raise errors.UsageError(
            f"{where} starts or ends a transaction inside the migration, which would commit part of it (even in a "
            "dry run)",
            hint="dbmigrate runs each migration in one transaction: remove the statement (a BEGIN … COMMIT "
            "around the whole file is fine), split the migration, or mark the file `-- dbmigrate:no-transaction`",
        )
    return statements


#: What to do with a statement that cannot run inside a transaction.
NO_TRANSACTION_HINT = "give the statement a file of its own that starts with the comment `-- dbmigrate:no-transaction`"


def _classify(words: tuple[str, ...], dialect: str) -> str | None:
    """``begin``, ``commit``, ``rollback`` or ``other`` (two-phase commit) for a statement, by its first ``words``,
    that starts or ends a transaction (a savepoint's ROLLBACK TO does not), ``outside`` for one the database refuses
    inside a transaction; None for any other."""
    if not words:  # text the tokenizer could not read: the database will judge it
        return None
    first, second = words[0], words[1] if len(words) > 1 else ""
    if first == "BEGIN" or (first, second) == ("START", "TRANSACTION"):
        return "begin"
    if (first in ("COMMIT", "ROLLBACK") and second == "PREPARED") or (first, second) == ("PREPARE", "TRANSACTION"):
        return "other"
    if first in ("COMMIT", "END"):
        return "commit"
    if first in ("ROLLBACK", "ABORT"):
        return None if "TO" in words[1:4] else "rollback"
    return "outside" if _outside_only(words, dialect) else None


def _outside_only(words: tuple[str, ...], dialect: str) -> bool:
    """Whether a statement, by its first words, is one the database will not run inside a transaction block."""
    first, second = words[0], words[1] if len(words) > 1 else ""
    if first == "VACUUM":
        return True
    if dialect != "postgresql":
        return False
    return (
        (first in ("CREATE", "DROP") and second in ("DATABASE", "TABLESPACE"))
        or (first, second) == ("ALTER", "SYSTEM")
        or (first in ("CREATE", "DROP", "REINDEX") and "CONCURRENTLY" in words)
    )


def tokenize(sql: str, dialect: str) -> list[Token]:
    """sqlglot's tokens of ``sql`` for one of our dialects, from one tokenizer per dialect: a run tokenizes every
    statement twice (splitting, analysis), and building a tokenizer costs as much as using it on a short statement.
    sqlglot is imported here, not at module level: it costs ~0.1 s and `status` never splits SQL."""
    return _tokenizer(dialect).tokenize(sql)


@functools.cache
def _tokenizer(dialect: str) -> Tokenizer:
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(sqlglot_dialect(dialect)).tokenizer()


def _statement(text: str, token_line: int, first_line: int, head: tuple[str, ...]) -> Statement:
    return Statement(text=text.strip(), line=first_line + token_line - 1, head=head)
