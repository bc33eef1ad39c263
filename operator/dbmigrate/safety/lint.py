"""Finding destructive and risky changes in migration SQL, statement by statement, with a real SQL parser.

Each statement is tokenized and parsed once by sqlglot for the target dialect and its syntax tree is checked by
the rules in :mod:`dbmigrate.safety.rules`; statements sqlglot keeps as raw text or cannot parse are read from
their tokens (:mod:`dbmigrate.safety.commands`) so an unmodelled DROP still counts, and anything left unread is
reported (``unanalyzed``, ``unparseable``), never passed as safe. SQL text is never pattern-matched: only the
opt-out comments are, and only comment tokens are searched.

Opt-out: ``-- dbmigrate:allow drop_column`` (several rules separated by commas or spaces, or ``all``) in a comment
just before the statement, inside it, or after its semicolon on the same line marks that statement's findings of
those rules ``allowed``: still reported, no longer blocking. The comment must start with the directive and list
nothing but rules up to the end of its line or a ``--`` (a reason may follow that); see :func:`_allowed_rules`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
from collections.abc import Iterable, Iterator

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokenizer_core import Token, TokenType

from dbmigrate.safety.commands import read_action_text, read_tokens
from dbmigrate.safety.findings import RULES, Finding, Hit, Severity
from dbmigrate.safety.rules import Context, check_tree
from dbmigrate.safety.state import SchemaState
from dbmigrate.sqltext import (
    EXECUTABLE,
    Statement,
    open_executable_comments,
    split_statements,
    sqlglot_dialect,
    tokenize,
)

__all__ = ["RULES", "Finding", "Severity", "blocking", "lint_sql"]

STATEMENT_DISPLAY_CHARS = 200

_ALLOW = "dbmigrate:allow"
#: Token types of literals and quoted names, never keywords.
_LITERALS = frozenset({TokenType.STRING, TokenType.HEREDOC_STRING, TokenType.IDENTIFIER})
_LINTING = contextvars.ContextVar("dbmigrate_linting", default=False)


class _QuietWhileLinting(logging.Filter):
    """Drops sqlglot's "falling back to a Command" warnings while we parse: we report those statements ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _LINTING.get()


logging.getLogger("sqlglot").addFilter(_QuietWhileLinting())


@dataclasses.dataclass(frozen=True)
class _Unit:
    """A statement to analyse; ``trailing`` holds the comments after its semicolon on the same line (their text)."""

    text: str
    line: int
    trailing: tuple[str, ...]


def lint_sql(
    sql: str,
    *,
    dialect: str,
    file: str,
    first_line: int = 1,
    state: SchemaState | None = None,
) -> list[Finding]:
    """Every finding in ``sql`` (a migration file or a section of one starting at ``first_line``), in order.

    ``state`` is what is known of the schema (column types, objects created earlier in the plan), and is updated
    with what ``sql`` does, so a plan passes one state through its scripts in the order they run. Without it the
    text is judged alone: every type change may narrow, every table existed before.
    """
    ctx = Context(state or SchemaState(dialect), read_action=read_action_text)
    parser = Dialect.get_or_raise(sqlglot_dialect(dialect)).parser()
    statements = split_statements(sql, dialect=dialect, first_line=first_line)
    findings: list[Finding] = []
    for unit in _units(sql, statements, dialect):
        findings.extend(_lint_unit(unit, parser=parser, ctx=ctx, file=file))
    return findings


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that must stop a run: destructive ones no allow comment covers."""
    return [finding for finding in findings if finding.severity is Severity.DESTRUCTIVE and not finding.allowed]


def _units(sql: str, statements: Iterable[Statement], dialect: str) -> Iterator[_Unit]:
    """Statements with their own trailing comments: ``DROP TABLE a; -- dbmigrate:allow drop_table`` belongs to
    the DROP, although :func:`split_statements` puts the comment at the start of the next statement's text."""
    cursor, carried_until = 0, -1
    for statement in statements:
        start = sql.find(statement.text, cursor)
        end = start + len(statement.text)
        text = statement.text
        if 0 <= start < carried_until:
            text = sql[carried_until:end].lstrip()
        trailing, carried_until = _trailing_comments(sql, end, dialect) if start >= 0 else ((), -1)
        cursor = max(end, cursor)
        yield _Unit(text=text, line=statement.line, trailing=trailing)


def _trailing_comments(sql: str, end: int, dialect: str) -> tuple[tuple[str, ...], int]:
    """The text of the comments after the semicolon that follows ``end`` when they start on its line and end a
    line, and where they end. Only whitespace and comment delimiters are scanned here: the tokenizer already placed
    the semicolon, and anything else after it (another statement, a string) means there is no trailing comment."""
    semicolon = _skip_blanks(sql, end, newlines=True)
    if not sql.startswith(";", semicolon):
        return (), -1
    pos = start = _skip_blanks(sql, semicolon + 1, newlines=False)
    comments: list[str] = []
    while sql.startswith("/*", pos):
        close = sql.find("*/", pos + 2)
        close = len(sql) if close < 0 else close
        comments.append(sql[pos + 2 : close])
        pos = _skip_blanks(sql, close + 2, newlines=False)
    line_comment = 2 if sql.startswith("--", pos) else 1 if dialect == "mysql" and sql.startswith("#", pos) else 0
    if line_comment:
        newline = sql.find("\n", pos)
        newline = len(sql) if newline < 0 else newline
        comments.append(sql[pos + line_comment : newline])
        pos = newline
    if pos == start or not (pos >= len(sql) or sql[pos] in "\r\n"):
        return (), -1
    return tuple(comments), pos


def _skip_blanks(sql: str, pos: int, *, newlines: bool) -> int:
    blanks = " \t\r\n\f" if newlines else " \t\f"
    while pos < len(sql) and sql[pos] in blanks:
        pos += 1
    return pos


def _lint_unit(unit: _Unit, *, parser: Parser, ctx: Context, file: str) -> list[Finding]:
    try:
        tokens = tokenize(unit.text, ctx.dialect)
        comments = [comment for token in tokens for comment in token.comments]
        code, code_tokens = unit.text, tokens
        if ctx.dialect == "mysql" and any(comment.startswith(EXECUTABLE) for comment in comments):
            code = open_executable_comments(unit.text, tokens)
            code_tokens = tokenize(code, ctx.dialect)
    except TokenError:
        hits, comments, shown = [_unreadable("its text could not be tokenized")], [], unit.text
    else:
        if not tokens:
            return []
        hits = _analyze(code_tokens, code, parser=parser, ctx=ctx)
        shown = unit.text[tokens[0].start :]
    allowed, unknown = _allowed_rules([*comments, *unit.trailing])
    hits += [_unknown_allow(word) for word in unknown]
    statement = _display(shown)
    return [
        Finding(
            rule=hit.rule,
            severity=hit.severity,
            file=file,
            line=unit.line,
            statement=statement,
            reason=hit.reason,
            allowed="all" in allowed or hit.rule in allowed,
        )
        for hit in hits
    ]


def _analyze(tokens: list[Token], text: str, *, parser: Parser, ctx: Context) -> list[Hit]:
    try:
        return _analyze_parsed(tokens, text, parser=parser, ctx=ctx)
    except Exception as error:  # a tree shape the rules did not expect must not let the statement pass as safe
        return [_unreadable(f"the analysis failed on it with {type(error).__name__}")]


def _analyze_parsed(tokens: list[Token], text: str, *, parser: Parser, ctx: Context) -> list[Hit]:
    linting = _LINTING.set(True)
    try:
        roots = [root for root in parser.parse(tokens, text) if root is not None]
    except ParseError as error:
        reading = read_tokens(tokens, text, ctx)
        return reading.hits if reading.understood else [*reading.hits, _unreadable(_describe(error))]
    finally:
        _LINTING.reset(linting)
    return [hit for root in roots for hit in _analyze_root(root, tokens, text, ctx)]


def _analyze_root(root: exp.Expr, tokens: list[Token], text: str, ctx: Context) -> list[Hit]:
    if isinstance(root, exp.Command):
        return _analyze_command(root, tokens, text, ctx)
    if isinstance(root, (exp.Condition, exp.Alias)) and not isinstance(root, exp.Query):
        return [_unreadable("it is an expression, not a statement")]
    return check_tree(root, ctx)


def _analyze_command(root: exp.Command, tokens: list[Token], text: str, ctx: Context) -> list[Hit]:
    """A statement sqlglot keeps as raw text: read it from its tokens, and say so when that is not enough."""
    head = str(root.this).upper()
    if head == "DO":
        reason = "The body of a DO block is opaque to the analysis (it is a string); review what it does by hand."
        return [Hit("unanalyzed", reason), *_dynamic_sql(tokens, ctx)]
    if head == "PREPARE":
        return [_dynamic("PREPARE builds a statement from text at run time")]
    reading = read_tokens(tokens, text, ctx)
    if reading.understood:
        return reading.hits
    reason = f"sqlglot does not model this {head} statement, so it is not analyzed; review it by hand."
    return [*reading.hits, Hit("unanalyzed", reason)]


def _dynamic_sql(tokens: list[Token], ctx: Context) -> list[Hit]:
    """A dynamic-SQL hit when a DO block's body runs an EXECUTE (PL/pgSQL's statement built from a string). The
    tokenizer hands the body over as a string holding the ``$$ ... $$`` literal, so it is opened twice."""
    strings = [token.text for token in tokens if token.token_type in _LITERALS]
    for _ in range(2):
        words: list[Token] = []
        for text in strings:
            try:
                words += tokenize(text, ctx.dialect)
            except TokenError:
                continue
        if any(word.token_type not in _LITERALS and word.text.upper() == "EXECUTE" for word in words):
            return [_dynamic("its body EXECUTEs a statement built from a string at run time")]
        strings = [word.text for word in words if word.token_type in _LITERALS]
    return []


def _dynamic(what: str) -> Hit:
    return Hit(
        "dynamic_sql",
        f"This statement runs SQL the analysis cannot see ({what}): a DROP or DELETE in it would not be reported; "
        "review what it runs by hand, and allow it.",
    )


def _unreadable(why: str) -> Hit:
    return Hit(
        "unparseable",
        f"The analysis could not read this statement ({why}), so it cannot be called safe; check the SQL, or "
        "review it by hand and allow it.",
    )


def _describe(error: ParseError) -> str:
    """sqlglot's first error description, without its highlighted excerpt."""
    details = error.errors[0] if error.errors else {}
    return str(details.get("description") or "syntax error").rstrip(".")


def _allowed_rules(comments: Iterable[str]) -> tuple[set[str], list[str]]:
    """The rules (or ``all``) the statement's allow directives name, and the words that voided a directive.

    A directive is a comment that starts with ``dbmigrate:allow``; its list runs to the end of that line or to
    ``--`` (after which a reason may follow) and must hold only rule names or ``all``, separated by commas or
    spaces. Anything else in it voids the whole directive, so prose never allows more than it seems to (``allow
    drop_column all readers were removed`` allows nothing, and says so); a mention of ``dbmigrate:allow`` inside
    other text is not a directive.
    """
    allowed: set[str] = set()
    unknown: list[str] = []
    for comment in comments:
        text = comment.lstrip()
        rest = text[len(_ALLOW) :]
        if text[: len(_ALLOW)].lower() != _ALLOW or rest[:1] not in ("", " ", "\t", "\n", "\r", ","):
            continue
        words = rest.split("\n", 1)[0].split("--", 1)[0].replace(",", " ").lower().split()
        strangers = [word for word in words if word != "all" and word not in RULES]
        if strangers or not words:
            unknown.append(strangers[0][:40] if strangers else "(nothing)")
        else:
            allowed.update(words)
    return allowed, unknown


def _unknown_allow(word: str) -> Hit:
    return Hit(
        "unknown_allow_rule",
        f"The dbmigrate:allow comment names {word!r}, which is not a rule, so the comment allows nothing; list only "
        "the rule names shown in the findings (or 'all'), and put a reason after ' -- ' or on another line.",
    )


def _display(text: str) -> str:
    collapsed = " ".join(text.split())
    if len(collapsed) <= STATEMENT_DISPLAY_CHARS:
        return collapsed
    return collapsed[: STATEMENT_DISPLAY_CHARS - 1] + "…"
