"""The CLI's JSON contract as the operator reads it from a Job pod's termination message.

``dbmigrate ... --termination-log /dev/termination-log`` writes one compact JSON document (under 4 KiB: long lists
keep only their newest entries and say how many they left out, so counts come from :meth:`Result.count`). A pod that
died before writing it (killed, image missing, crash) leaves either nothing or the tail of its log
(``FallbackToLogsOnError``): that parses to a result with ``ok=False`` and the raw text as the error message, so
a broken Job is reported, never mistaken for success.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from dbmigrate import errors

MAX_MESSAGE = 1024  # status and Event messages stay short; the full document is in the Job log


@dataclasses.dataclass(frozen=True)
class Result:
    """One CLI run: ``document`` is the parsed JSON (empty when there was none)."""

    exit_code: int
    document: dict[str, Any]
    raw: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.document.get("ok", False))

    @property
    def reason(self) -> str:
        """A condition reason for the exit code (stable, documented), e.g. ``LockTimeout``."""
        return _EXIT_REASONS.get(self.exit_code, "JobFailed")

    @property
    def error_type(self) -> str:
        """The CLI's own error class name when it reported one, else :attr:`reason`."""
        error = self.document.get("error")
        if isinstance(error, dict) and error.get("type"):
            return str(error["type"])
        return self.reason

    @property
    def left_dirty(self) -> bool:
        """The run failed part-way through a migration it could not undo: the database is marked dirty."""
        error = self.document.get("error")
        return isinstance(error, dict) and error.get("left_dirty") is True

    def warnings(self) -> list[dict[str, str]]:
        """What the run reported after the fact (``warnings`` of the summary), each with a name and a message."""
        items = self.document.get("warnings")
        if not isinstance(items, list):
            return []
        return [
            {"name": str(item.get("name", "")), "message": str(item.get("message", ""))[:MAX_MESSAGE]}
            for item in items
            if isinstance(item, dict)
        ]

    @property
    def error_message(self) -> str:
        error = self.document.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:MAX_MESSAGE]
        if not self.document and self.raw.strip():
            return self.raw.strip()[-MAX_MESSAGE:]
        return f"dbmigrate exited with code {self.exit_code}"

    def strings(self, key: str) -> list[str]:
        value = self.document.get(key) or []
        return [str(item) for item in value] if isinstance(value, list) else []

    def count(self, key: str) -> int:
        """How many entries the list ``key`` had: those kept plus those the summary left out to fit its 4 KiB."""
        return len(self.strings(key)) + self.truncated(key)

    def truncated(self, key: str) -> int:
        """How many entries of the list ``key`` the summary left out (its ``<key>_truncated``); 0 if none."""
        value = self.document.get(f"{key}_truncated")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def text(self, key: str) -> str | None:
        value = self.document.get(key)
        return None if value is None else str(value)


_EXIT_REASONS: dict[int, str] = {
    errors.ExitCode.MIGRATION_FAILED: "MigrationFailed",
    errors.ExitCode.USAGE: "InvalidArguments",
    errors.ExitCode.SAFETY_GATE: "SafetyGate",
    errors.ExitCode.LOCK_TIMEOUT: "LockTimeout",
    errors.ExitCode.DRIFT: "Drift",
    errors.ExitCode.CONNECTION: "ConnectionFailed",
    errors.ExitCode.TERMINATED: "Terminated",
}
#: exit codes that mean "try again later": the database was busy or unreachable, nothing was applied
RETRYABLE = frozenset({errors.ExitCode.LOCK_TIMEOUT, errors.ExitCode.CONNECTION})


def parse(*, exit_code: int, message: str) -> Result:
    """Parse a termination message; non-JSON text (a log tail) yields an empty document."""
    try:
        document = json.loads(message) if message.strip() else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    return Result(exit_code=exit_code, document=document, raw=message)


def plan_status(result: Result, *, direction: str) -> dict[str, Any]:
    """``status.plan`` from a plan result (findings keep only the schema's fields, nulls dropped)."""
    findings = []
    for finding in result.document.get("findings") or []:
        if isinstance(finding, dict):
            kept = {
                k: finding[k] for k in ("rule", "severity", "file", "line", "allowed") if finding.get(k) is not None
            }
            findings.append(kept)
    plan: dict[str, Any] = {
        "hash": result.text("plan_hash") or "",
        "direction": direction,
        "pending": result.strings("pending"),
        "irreversible": result.strings("irreversible"),
        "blocking": int(result.document.get("blocking") or 0),
        "findings": findings,
    }
    if result.text("current_version") is not None:
        plan["currentVersion"] = result.text("current_version")
    for key, field in (
        ("findings", "findingsTruncated"),
        ("pending", "pendingTruncated"),
        ("irreversible", "irreversibleTruncated"),
    ):
        if result.truncated(key):
            plan[field] = result.truncated(key)
    return plan


def problems(result: Result) -> list[str]:
    """Verification problems as short strings, whatever shape the CLI gives each one."""
    items = result.document.get("problems") or []
    out = []
    for item in items if isinstance(items, list) else []:
        text = item.get("message", json.dumps(item, sort_keys=True)) if isinstance(item, dict) else str(item)
        out.append(str(text)[:MAX_MESSAGE])
    return out


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Order versions like ``2`` < ``10`` < ``20240101_x``: digit runs compare as numbers."""
    key: list[tuple[int, str]] = []
    number = ""
    for char in version:
        if char.isdigit():
            number += char
            continue
        if number:
            key.append((int(number), ""))
            number = ""
        key.append((-1, char))
    if number:
        key.append((int(number), ""))
    return tuple(key)


def is_downgrade(*, target: str, current: str | None) -> bool:
    """True when ``target`` is below the applied version (``latest`` never is)."""
    if current is None or target == "latest":
        return False
    return version_key(target) < version_key(current)
