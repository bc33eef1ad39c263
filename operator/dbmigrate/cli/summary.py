"""The compact run summary written to ``--termination-log`` (Kubernetes caps termination messages at 4 KiB).

The operator reads this from the pod status; the full JSON document is in the Job's log. A summary over the limit
is not cut by the kubelet but lost (it keeps the last 4096 bytes, which are no JSON), and the run would read as
failed; so lists are trimmed until it fits, each trimmed list saying how many entries it lost in
``<list>_truncated`` (docs/json-output.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbmigrate import outcome

LIMIT_BYTES = 4000
_AFTER_RUN = {"run_lock"}


def build(result: outcome.Outcome) -> dict[str, Any]:
    plan: dict[str, Any] = result.details.get("plan") or {}
    verify: dict[str, Any] = result.details.get("verify") or {}
    status: dict[str, Any] = result.details.get("status") or {}
    summary: dict[str, Any] = {
        "action": result.action,
        "ok": result.error is None,
        "exit_code": result.exit_code,
        "plan_hash": plan.get("hash"),
        "current_version": result.details.get("current_version", status.get("current_version")),
        "pending": [item["version"] for item in plan.get("pending", [])],
        "irreversible": list(plan.get("irreversible", [])),  # copies: _fit trims in place
        "findings": [
            {key: finding[key] for key in ("rule", "severity", "file", "line", "allowed")}
            for finding in plan.get("findings", [])
        ],
        "blocking": plan.get("blocking", 0),
        "applied": [m.version for m in result.migrations if m.status == "applied" and m.direction == "up"],
        "reverted": [m.version for m in result.migrations if m.status == "reverted" and m.direction == "down"],
        "rolled_back": list(result.details.get("rolled_back", [])),
        "fingerprint": verify.get("fingerprint"),
        "integrity_ok": verify.get("ok"),
        "problems": [problem[:200] for problem in verify.get("problems", [])][:5],
        # What the run reported after the fact (the run lock gone by its end): the operator posts them as Events.
        "warnings": [{"name": c.name, "message": c.message[:300]} for c in result.checks if c.name in _AFTER_RUN],
        "error": None
        if result.error is None
        else {
            "type": type(result.error).__name__,
            "message": result.error.message[:1500],
            "left_dirty": result.left_dirty,
        },
    }
    return _fit(summary)


#: Lists trimmed, in this order, until the summary fits. Findings, problems and warnings lose their last entries;
#: the version lists their first (oldest) ones, so the newest stay: a plan's last pending version is its target.
_TRIMMED: tuple[tuple[str, bool], ...] = (
    ("findings", False),
    ("problems", False),
    ("irreversible", True),
    ("rolled_back", True),
    ("pending", True),
    ("reverted", True),
    ("applied", True),
    ("warnings", False),
)


def _fit(summary: dict[str, Any]) -> dict[str, Any]:
    """Trim ``summary`` (in place) to LIMIT_BYTES. The outcome, exit code, plan hash, versions, counts and the
    error's type and dirty mark are always kept; the error message is shortened last. With every list empty and no
    message left, what remains is a few hundred bytes plus one version (a file name's prefix), so it always fits."""
    for key, oldest_first in _TRIMMED:
        _trim(summary, key, oldest_first=oldest_first)
    error = summary["error"]
    if error is not None:
        message, excess = error["message"], _size(summary) - LIMIT_BYTES
        while message and excess > 0:
            excess -= len(json.dumps(message[-1])) - 2  # a character's JSON: 1 byte, or an escape of up to 12
            message = message[:-1]
        error["message"] = message
    return summary


def _trim(summary: dict[str, Any], key: str, *, oldest_first: bool) -> None:
    items: list[Any] = summary[key]
    dropped = 0
    while items and (excess := _size(summary) - LIMIT_BYTES) > 0:
        while items and excess > 0:  # drop what covers the excess, then measure again (the marker costs bytes)
            excess -= len(json.dumps(items.pop(0 if oldest_first else -1), separators=(",", ":")).encode()) + 1
            dropped += 1
        summary[f"{key}_truncated"] = dropped


def _size(summary: dict[str, Any]) -> int:
    return len(json.dumps(summary, separators=(",", ":")).encode())


def write(result: outcome.Outcome, path: str) -> None:
    Path(path).write_text(json.dumps(build(result), separators=(",", ":")))
