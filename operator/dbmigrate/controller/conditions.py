"""kstatus conditions: upserted by type, ``lastTransitionTime`` kept unless the status flips.

``kubectl wait --for=condition=Ready``, Argo CD's health script and kstatus read these, so the summary conditions
(``Ready``, ``Reconciling``, ``Stalled``) follow from the phase in one place (:func:`summarize`) rather than being
set ad hoc by every step.
"""

from __future__ import annotations

from typing import Any

Condition = dict[str, Any]

# Detail conditions, one per step, reset to Unknown when a new generation (or run) starts.
BACKUP_VERIFIED = "BackupVerified"
PLANNED = "Planned"
APPROVED = "Approved"
MIGRATED = "Migrated"
SCHEMA_VERIFIED = "SchemaVerified"
DETAILS = (BACKUP_VERIFIED, PLANNED, APPROVED, MIGRATED, SCHEMA_VERIFIED)

IN_PROGRESS = frozenset({"Pending", "CheckingBackup", "Planning", "AwaitingApproval", "Migrating", "Verifying"})
STALLED = frozenset({"Failed", "RolledBack", "Blocked"})


def upsert(
    conditions: list[Condition],
    *,
    type_: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
    now: str,
) -> list[Condition]:
    """A new list with ``type_`` set; the transition time moves only when ``status`` changes."""
    previous = next((c for c in conditions if c.get("type") == type_), None)
    transition = previous["lastTransitionTime"] if previous and previous.get("status") == status else now
    updated: Condition = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
        "observedGeneration": generation,
    }
    if previous is None:
        return [*conditions, updated]
    return [updated if c is previous else c for c in conditions]


def get(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def summarize(
    conditions: list[Condition],
    *,
    phase: str,
    reason: str,
    message: str,
    stalled: bool,
    generation: int,
    now: str,
) -> list[Condition]:
    """Ready / Reconciling / Stalled for ``phase``: Ready only on success, Stalled when help is needed (a
    terminal failure, or an in-progress phase waiting for something only a user can create, e.g. a Secret)."""
    ready = phase == "Succeeded"
    reconciling = phase in IN_PROGRESS
    for type_, status, why in (
        ("Ready", ready, "Succeeded" if ready else reason),
        ("Reconciling", reconciling, reason if reconciling else "Idle"),
        ("Stalled", stalled, reason if stalled else "NotStalled"),
    ):
        conditions = upsert(
            conditions,
            type_=type_,
            status="True" if status else "False",
            reason=why,
            message=message if status or type_ == "Ready" else "",
            generation=generation,
            now=now,
        )
    return conditions
