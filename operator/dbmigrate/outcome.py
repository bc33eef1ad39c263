"""The result of one action: what the terminal report and the ``--output json`` document are both rendered from.

The JSON document is a contract (the operator parses it): keys are only ever added, never renamed or removed,
and ``schema_version`` changes if that promise must be broken. docs/json-output.md describes it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dbmigrate import errors

SCHEMA_VERSION = 1


@dataclasses.dataclass
class Check:
    """One line of the report's preamble: passed (True), failed (False) or not run (None)."""

    name: str
    ok: bool | None
    message: str
    #: Passed, but worth a look (risky statements, drift without --fail-on-drift): shown with ⚠.
    warning: bool = False

    def to_json(self) -> dict[str, object]:
        status = {True: "passed", False: "failed", None: "not_run"}[self.ok]
        return {"name": self.name, "status": "warning" if self.warning else status, "message": self.message}


@dataclasses.dataclass
class MigrationResult:
    version: str
    name: str
    file: str
    direction: str
    #: ``applied``, ``reverted``, ``failed`` or ``rolled_back`` (undone after a later migration of the run failed).
    status: str
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Outcome:
    action: str
    database: dict[str, object] = dataclasses.field(default_factory=dict)
    framework: dict[str, object] | None = None
    checks: list[Check] = dataclasses.field(default_factory=list)
    migrations: list[MigrationResult] = dataclasses.field(default_factory=list)
    #: Action-specific data (status listing, history rows, created files, plan).
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    history_updated: bool = False
    error: errors.DbmigrateError | None = None

    @property
    def exit_code(self) -> int:
        return int(self.error.exit_code if self.error else errors.ExitCode.OK)

    @property
    def left_dirty(self) -> bool:
        """Whether the failure left a half-applied migration behind, marked dirty until someone repairs it."""
        return isinstance(self.error, errors.MigrationError) and self.error.left_dirty

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, object]:
        return {
            "schema_version": SCHEMA_VERSION,
            "action": self.action,
            "ok": self.error is None,
            "exit_code": self.exit_code,
            "database": self.database,
            "framework": self.framework,
            "checks": [c.to_json() for c in self.checks],
            "migrations": [m.to_json() for m in self.migrations],
            "history_updated": self.history_updated,
            **self.details,
            "error": None
            if self.error is None
            else {
                "type": type(self.error).__name__,
                "message": self.error.message,
                "hint": self.error.hint,
                "exit_code": self.exit_code,
                "left_dirty": self.left_dirty,
            },
        }
