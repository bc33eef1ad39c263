"""Plain-text rendering of each action's outcome (the ``--output text`` default)."""

from __future__ import annotations

import json
import sys
from typing import Any

from dbmigrate import outcome
from dbmigrate.cli import report


def text(result: outcome.Outcome, *, header_printed: bool) -> None:
    """Print ``result``; ``header_printed`` says the live progress already printed the preamble."""
    lines: list[str] = []
    if not header_printed and result.action in _TITLED:
        lines += [report.TITLE, report.RULE]
        lines += [report.check_line(check) for check in result.checks if check.name not in _CLOSING_CHECKS]
    renderer = _RENDERERS.get(result.action)
    if renderer is not None:
        lines += renderer(result)
    elif header_printed or result.migrations:
        lines += report.closing_lines(result)
    failed_shown = header_printed and bool(result.migrations) and result.migrations[-1].status == "failed"
    if failed_shown and result.error is not None:
        lines.append("")
        lines.append(f"✗ Stopped at {result.migrations[-1].file}; nothing after it was run")
        if result.error.hint:
            lines.append(f"  hint: {result.error.hint}")
    else:
        if result.error is not None and lines:
            lines.append("")
        lines += report.error_lines(result)
    sys.stdout.write("\n".join(lines) + "\n")


def _status(result: outcome.Outcome) -> list[str]:
    status: dict[str, Any] | None = result.details.get("status")
    lines = _context(result)
    if status is None:
        return lines
    if "output" in status:  # a delegated tool's listing: it alone knows what is applied and pending
        return [*lines, "", *status["output"].splitlines()]
    applied, pending = status["applied"], status["pending"]
    lines.append(f"Current:    {status['current_version'] or 'none (nothing applied)'}")
    if status["baseline"]:
        lines.append(f"Baseline:   {status['baseline']}")
    lines.append("")
    lines.append(f"✓ {len(applied)} applied, {len(pending)} pending")
    for item in pending:
        flag = "" if item["reversible"] else "  (irreversible: no down part)"
        lines.append(f"  • {item['file']}{flag}")
    problems = [
        ("dirty (did not finish; run `dbmigrate repair` after checking)", status["dirty"]),
        ("edited after being applied (checksum differs)", [e["file"] for e in status["edited"]]),
        ("applied but the file is missing", status["missing"]),
        ("pending but older than the newest applied (needs --out-of-order)", status["out_of_order"]),
    ]
    for label, items in problems:
        if items:
            lines.append(f"✗ {label}: {', '.join(items)}")
    if status.get("ahead"):  # SQL projects only: a framework has no files-ahead notion here
        lines.append(
            f"⚠ the database is ahead of these files (applied, newer than every file): {', '.join(status['ahead'])}"
        )
    return lines


def _context(result: outcome.Outcome) -> list[str]:
    lines = []
    if result.database:
        db = result.database
        lines.append(f"Database:   {db['dialect']} {db['server_version']} ({db['url']}, from {db['source']})")
    if result.framework:
        lines.append(f"Framework:  {result.framework['framework']} ({result.framework['reason']})")
    return lines


def _history(result: outcome.Outcome) -> list[str]:
    rows: list[dict[str, Any]] = result.details.get("history", [])
    framework = (result.framework or {}).get("framework", "sql")
    if "output" in result.details:  # a delegated tool keeps the history: its listing
        return str(result.details["output"]).splitlines()
    if not rows:
        return [] if result.error else ["No migrations recorded yet"]
    if framework != "sql":
        return _framework_history(rows, framework=str(framework))
    lines = [f"{'VERSION':<16} {'NAME':<36} {'APPLIED AT (UTC)':<26} {'TIME':>8}  BY"]
    for row in rows:
        mark = " (DIRTY)" if row["dirty"] else ""
        lines.append(
            f"{row['version']:<16} {row['name'][:36]:<36} {row['applied_at'][:26]:<26} "
            f"{row['execution_ms'] / 1000:>7.2f}s  {row['applied_by']}{mark}"
        )
    return lines


def _framework_history(rows: list[dict[str, Any]], *, framework: str) -> list[str]:
    """The framework's own record: Django's has times, Alembic's only the applied revisions."""
    lines = [
        f"Applied, oldest first (from {framework.capitalize()}'s own history):",
        f"{'VERSION':<40} {'APPLIED AT':<26} NAME",
    ]
    for row in rows:
        lines.append(f"{row['version']:<40} {(row['applied_at'] or '-')[:26]:<26} {row['name']}")
    return lines


def _plan(result: outcome.Outcome) -> list[str]:
    plan: dict[str, Any] | None = result.details.get("plan")
    if plan is None:
        return []
    lines = ["", f"PLAN ({plan['direction']}, {plan['note']}):"]
    for item in plan["pending"]:
        flag = "" if item["reversible"] else "  (irreversible: no down part)"
        lines.append(f"  • {item['file']}{flag}")
    if plan["statements"]:
        lines += ["", "STATEMENTS:"]
        symbols = {"ok": "✓", "error": "✗", "skipped": "-"}
        for run in plan["statements"]:
            lines.append(
                f"  {symbols[run['status']]} {run['file']}:{run['line']} {run['statement'][:80]} "
                f"({run['seconds']:.3f}s)"
            )
            if run["error"]:
                lines.append(f"      {run['error']}")
    if plan["schema_changes"]:
        lines += ["", "SCHEMA CHANGES:"]
        signs = {"added": "+", "changed": "~", "dropped": "-"}
        lines += [f"  {signs[c['kind']]} {c['object_type']} {c['name']}: {c['detail']}" for c in plan["schema_changes"]]
    if plan["findings"]:
        lines += ["", "FINDINGS:"]
        for finding in plan["findings"]:
            allowed = " (allowed by comment)" if finding["allowed"] else ""
            lines.append(
                f"  [{finding['severity']}] {finding['file']}:{finding['line']} {finding['rule']}{allowed}: "
                f"{finding['reason']}"
            )
    lines += ["", f"Plan hash: {plan['hash']}"]
    if plan["blocking"]:
        lines.append(f"  {plan['blocking']} destructive change(s): apply with `dbmigrate up --approve {plan['hash']}`")
    return lines


def _verified(result: outcome.Outcome) -> list[str]:
    verify: dict[str, Any] | None = result.details.get("verify")
    if verify is None:
        return []
    integrity = result.check("integrity")
    lines = [f"Fingerprint: {verify['fingerprint']}"]
    if integrity is not None:
        lines.append(f"Schema integrity: {report.check_line(integrity)}")
    if "schema" in verify:  # --show-schema: the snapshot, one object a line, to compare with another database's
        lines += ["", "SCHEMA SNAPSHOT:", *_snapshot_lines(verify["schema"])]
    return lines


def _snapshot_lines(schema: dict[str, Any]) -> list[str]:
    """Each table (its columns, indexes, constraints and triggers), view, sequence, routine and type as one line
    of compact JSON, in the snapshot's order: `diff` of two databases' listings shows what differs."""
    lines = []
    for kind, items in schema.items():
        for item in items:
            if kind == "tables":
                members = ("columns", "indexes", "constraints", "triggers")
                lines.append(
                    f"table {json.dumps({k: v for k, v in item.items() if k not in members}, ensure_ascii=False)}"
                )
                lines += [
                    f"  {member[:-1]} {json.dumps(m, ensure_ascii=False)}" for member in members for m in item[member]
                ]
            else:
                lines.append(f"{kind[:-1]} {json.dumps(item, ensure_ascii=False)}")
    return lines


def _created(result: outcome.Outcome) -> list[str]:
    return [f"Created {path}" for path in result.details.get("created", [])]


def _baseline(result: outcome.Outcome) -> list[str]:
    version = result.details.get("baseline")
    return [f"✓ Baseline recorded at version {version}"] if version else []


def _repaired(result: outcome.Outcome) -> list[str]:
    if result.error:
        return []
    changes: list[str] = result.details.get("repaired", [])
    return [f"✓ {change}" for change in changes] or ["✓ Nothing to repair"]


#: Checks shown in the closing lines rather than the preamble.
_CLOSING_CHECKS = {"integrity", "rollback", "run_lock"}

#: Actions whose output is the MIGRATION STATUS report (the others print a listing or a one-line result).
_TITLED = {"up", "down", "status", "plan", "verify"}

_RENDERERS = {
    "plan": _plan,
    "verify": _verified,
    "status": _status,
    "history": _history,
    "create": _created,
    "baseline": _baseline,
    "repair": _repaired,
}
