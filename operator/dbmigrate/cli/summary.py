"""The compact run summary written to ``--termination-log`` (Kubernetes caps termination messages at 4 KiB).

The operator reads this from the pod status; the full JSON document is in the Job's log. Findings are dropped from
the end until the summary fits, and ``findings_truncated`` says how many were left out.
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
        "irreversible": plan.get("irreversible", []),
        "findings": [
            {key: finding[key] for key in ("rule", "severity", "file", "line", "allowed")}
            for finding in plan.get("findings", [])
        ],
        "blocking": plan.get("blocking", 0),
        "applied": [m.version for m in result.migrations if m.status == "applied" and m.direction == "up"],
        "reverted": [m.version for m in result.migrations if m.status == "reverted" and m.direction == "down"],
        "rolled_back": result.details.get("rolled_back", []),
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


def _fit(summary: dict[str, Any]) -> dict[str, Any]:
    findings = summary["findings"]
    dropped = 0
    while len(json.dumps(summary, separators=(",", ":")).encode()) > LIMIT_BYTES and findings:
        findings.pop()
        dropped += 1
        summary["findings_truncated"] = dropped
    return summary


def write(result: outcome.Outcome, path: str) -> None:
    Path(path).write_text(json.dumps(build(result), separators=(",", ":")))
