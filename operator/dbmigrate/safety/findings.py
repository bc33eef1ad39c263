"""What the safety analysis reports: findings with a severity, and the catalogue of rules that produce them."""

from __future__ import annotations

import dataclasses
import enum


class Severity(enum.StrEnum):
    """How bad a finding is: destructive findings block a run unless allowed; the others are reported."""

    DESTRUCTIVE = "destructive"
    RISKY = "risky"
    INFO = "info"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem in one statement of a migration file."""

    rule: str
    severity: Severity
    file: str
    line: int
    statement: str
    reason: str
    allowed: bool = False

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (severity as its string value), for ``--output json`` and the operator's status."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "statement": self.statement,
            "reason": self.reason,
            "allowed": self.allowed,
        }


_D, _R, _I = Severity.DESTRUCTIVE, Severity.RISKY, Severity.INFO

#: Every rule and its severity; the names are what ``-- dbmigrate:allow RULE`` comments refer to.
RULES: dict[str, Severity] = {
    "drop_table": _D,
    "drop_schema": _D,
    "drop_database": _D,
    "drop_column": _D,
    "drop_partition": _D,
    "drop_cascade": _D,
    "drop_unknown": _D,
    "truncate": _D,
    "delete_without_where": _D,
    "update_without_where": _D,
    "narrow_column_type": _D,
    "alter_ignore": _D,
    "rewrite_column_values": _D,
    "change_column_type": _R,
    "rename_table": _R,
    "rename_column": _R,
    "add_column_not_null": _R,
    "set_not_null": _R,
    "create_index_not_concurrently": _R,
    "drop_index_not_concurrently": _R,
    "add_foreign_key": _R,
    "add_check": _R,
    "add_unique_constraint": _R,
    "unparseable": _R,
    "dynamic_sql": _R,
    "drop_view": _I,
    "drop_object": _I,
    "drop_constraint": _I,
    "unanalyzed": _I,
    "unknown_allow_rule": _I,
    "empty_migration": _I,
}


@dataclasses.dataclass(frozen=True)
class Hit:
    """A rule that fired on a statement, before it is tied to a file, line and allow comments."""

    rule: str
    reason: str

    @property
    def severity(self) -> Severity:
        return RULES[self.rule]
