"""A DatabaseMigration's status as text: the CLI's MIGRATION STATUS report and its plan listing, so a migration
reads the same whether it ran from a laptop (``dbmigrate status``) or in the cluster (``kubectl dbmigrate status``).

Only ``status`` is read, exactly as the operator wrote it; a status of an older generation is shown, but flagged,
because it describes a spec that is no longer the current one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dbmigrate.cli import report

#: conditions that are bad when True (kstatus "abnormal-true")
ABNORMAL = frozenset({"Stalled"})
#: abnormal-true too, but True means work under way, not a failure: shown as "-" rather than "✗"
UNDER_WAY = frozenset({"Reconciling"})
#: the order conditions are listed in: summary first, then the steps as they happen
ORDER = ("Ready", "Reconciling", "Stalled", "BackupVerified", "Planned", "Approved", "Migrated", "SchemaVerified")


def status_report(obj: Mapping[str, Any], *, now: datetime) -> list[str]:
    meta, status = obj["metadata"], obj.get("status") or {}
    name = f"{meta['namespace']}/{meta['name']}"
    lines = [report.TITLE, report.RULE]
    if not status:
        return [*lines, f"- {name}: no status yet (is the operator running and watching {meta['namespace']}?)"]
    phase = status.get("phase", "Pending")
    lines.append(f"Resource:   {name}")
    message = status.get("message")
    lines.append(f"Phase:      {phase} ({status.get('reason', phase)})" + (f": {message}" if message else ""))
    lines.append(f"Target:     {status.get('target', 'latest')}")
    lines.append(f"Applied:    {status.get('appliedVersion') or 'none'}")
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if observed != generation:
        lines.append(f"⚠ This status is for generation {observed}; the operator has not observed {generation} yet")
    lines.append("")
    lines.append(_backup_line(status, now=now))
    lines.append(_pending_line(status))
    for condition in _ordered(status.get("conditions") or []):
        lines.append(_condition_line(condition))
    schema = status.get("schema") or {}
    if schema.get("fingerprint"):
        mark = "✓" if schema.get("integrityOk") else "✗"
        lines.append("")
        lines.append(f"Schema integrity: {mark} fingerprint {schema['fingerprint']}")
        lines += [f"  ✗ {problem}" for problem in schema.get("problems") or []]
    plan = status.get("plan") or {}
    if plan.get("hash"):
        lines.append(f"Plan hash: {plan['hash']}")
    if phase == "AwaitingApproval" and plan.get("hash"):
        review = f"kubectl dbmigrate plan {meta['name']}"
        lines.append(f"  review with `{review}`, then `kubectl dbmigrate approve {meta['name']}`")
    return lines


def plan_report(obj: Mapping[str, Any]) -> list[str]:
    meta, status = obj["metadata"], obj.get("status") or {}
    plan = status.get("plan") or {}
    if not plan.get("hash"):
        return [f"- No plan yet for {meta['namespace']}/{meta['name']} (phase {status.get('phase', 'Pending')})"]
    irreversible = set(plan.get("irreversible") or [])
    current = plan.get("currentVersion") or status.get("appliedVersion") or "none"
    lines = [f"PLAN ({plan.get('direction', 'up')}, from version {current}):"]
    for version in plan.get("pending") or []:
        flag = "  (irreversible: no down part)" if version in irreversible else ""
        lines.append(f"  • {version}{flag}")
    if not plan.get("pending"):
        lines.append("  (nothing pending)")
    findings = plan.get("findings") or []
    if findings:
        lines += ["", "FINDINGS:"]
        for finding in findings:
            allowed = " (allowed by comment)" if finding.get("allowed") else ""
            where = f"{finding.get('file', '?')}:{finding.get('line', '?')}"
            lines.append(f"  [{finding.get('severity', '?')}] {where} {finding.get('rule', '?')}{allowed}")
        if plan.get("findingsTruncated"):
            more = plan["findingsTruncated"]
            lines.append(f"  … {more} more in the plan Job's log (kubectl dbmigrate logs NAME --step plan)")
    lines += ["", f"Plan hash: {plan['hash']}"]
    blocking = int(plan.get("blocking") or 0)
    if blocking:
        approved = (meta.get("annotations") or {}).get("dbmigrate.io/approved-plan")
        state = "approved" if approved == plan["hash"] else "not approved"
        lines.append(
            f"  {blocking} destructive change(s), {state}: approve with `kubectl dbmigrate approve {meta['name']}`"
        )
    return lines


def _ordered(conditions: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rank = {kind: index for index, kind in enumerate(ORDER)}
    return sorted(conditions, key=lambda c: rank.get(str(c.get("type")), len(ORDER)))


def _condition_line(condition: Mapping[str, Any]) -> str:
    kind, value = str(condition.get("type")), condition.get("status")
    if value == "Unknown" or (kind in UNDER_WAY and value == "True"):
        mark = "-"
    else:
        good = (value == "False") if kind in ABNORMAL or kind in UNDER_WAY else (value == "True")
        mark = "✓" if good else "✗"
    text = f"{mark} {kind}={value} ({condition.get('reason', '')})"
    message = condition.get("message")
    return f"{text}: {message}" if message else text


def _backup_line(status: Mapping[str, Any], *, now: datetime) -> str:
    backup = status.get("backup") or {}
    verified = next((c for c in status.get("conditions") or [] if c.get("type") == "BackupVerified"), None)
    if backup.get("takenAt"):
        age = _age(now - _parse(backup["takenAt"]))
        mark = "✗" if verified is not None and verified.get("status") == "False" else "✓"
        what = backup.get("description") or backup.get("provider")
        return f"{mark} Backup: {what} taken {backup['takenAt']} ({age} ago)"
    if verified is not None and verified.get("status") == "False":
        return f"✗ Backup: {verified.get('message') or verified.get('reason')}"
    return "- Backup: not checked yet"


def _pending_line(status: Mapping[str, Any]) -> str:
    plan = status.get("plan") or {}
    if "pendingCount" not in status and not plan:
        return "- Pending: not planned yet"
    pending = list(plan.get("pending") or [])
    count = int(status.get("pendingCount", len(pending)))
    if count == 0:
        return "✓ No pending migrations"
    return f"✗ {count} pending: {', '.join(pending)}" if pending else f"✗ {count} pending"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _age(delta: timedelta) -> str:
    """kubectl's short ages: 45s, 12m, 3h5m, 2d4h."""
    seconds = max(0, int(delta.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{seconds}s"
