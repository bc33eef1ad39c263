"""DatabaseMigration statuses as the operator writes them, for the plugin's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PLAN_HASH = "sha256:5d41402abc4b2a76b9719d911017c592"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: str, reason: str, message: str = "", *, generation: int = 1) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-24T10:00:00Z",
        "observedGeneration": generation,
    }


def backup(*, age: timedelta) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "provider": "VolumeSnapshot",
        "takenAt": _time(now - age),
        "description": "orders-db-nightly",
        "checkedAt": _time(now),
    }


def succeeded(*, generation: int = 1) -> dict[str, Any]:
    return {
        "phase": "Succeeded",
        "reason": "Succeeded",
        "message": "schema at version 002, verified",
        "observedGeneration": generation,
        "target": "002",
        "appliedVersion": "002",
        "pendingCount": 0,
        "backup": backup(age=timedelta(minutes=12)),
        "plan": {"hash": PLAN_HASH, "direction": "up", "pending": ["001", "002"], "blocking": 0, "findings": []},
        "schema": {"fingerprint": "sha256:abc123", "integrityOk": True, "problems": []},
        "conditions": [
            condition("Ready", "True", "Succeeded", "schema at version 002, verified", generation=generation),
            condition("Reconciling", "False", "Idle", generation=generation),
            condition("Stalled", "False", "NotStalled", generation=generation),
            condition("BackupVerified", "True", "BackupFresh", "orders-db-nightly: 12m old", generation=generation),
            condition("Planned", "True", "Planned", "2 to apply, 0 blocking finding(s)", generation=generation),
            condition("Approved", "True", "NoDestructiveChanges", "no destructive findings", generation=generation),
            condition("Migrated", "True", "Applied", "applied 001, 002", generation=generation),
            condition("SchemaVerified", "True", "Verified", "fingerprint sha256:abc123", generation=generation),
        ],
    }


def awaiting_approval() -> dict[str, Any]:
    message = f"1 destructive finding(s): approve with annotation dbmigrate.io/approved-plan={PLAN_HASH}"
    return {
        "phase": "AwaitingApproval",
        "reason": "AwaitingApproval",
        "message": message,
        "observedGeneration": 1,
        "target": "003",
        "appliedVersion": "001",
        "pendingCount": 2,
        "backup": backup(age=timedelta(hours=3, minutes=5)),
        "plan": {
            "hash": PLAN_HASH,
            "direction": "up",
            "currentVersion": "001",
            "pending": ["002", "003"],
            "irreversible": ["003"],
            "blocking": 1,
            "findings": [
                {"rule": "drop_column", "severity": "destructive", "file": "003_drop_fax.up.sql", "line": 1},
                {
                    "rule": "create_index_not_concurrently",
                    "severity": "risky",
                    "file": "002_index.up.sql",
                    "line": 2,
                    "allowed": True,
                },
            ],
        },
        "conditions": [
            condition("Ready", "False", "AwaitingApproval", message),
            condition("Reconciling", "True", "AwaitingApproval", message),
            condition("Stalled", "False", "NotStalled"),
            condition("BackupVerified", "True", "BackupFresh", "orders-db-nightly: 3h5m old"),
            condition("Planned", "True", "Planned", "2 to apply, 1 blocking finding(s)"),
            condition("Approved", "False", "AwaitingApproval", message),
            condition("Migrated", "Unknown", "Pending", "not reached yet in this run"),
            condition("SchemaVerified", "Unknown", "Pending", "not reached yet in this run"),
        ],
    }


def blocked_without_backup() -> dict[str, Any]:
    message = "Backup too old: newest is 2d4h old, maxAge is 1h"
    return {
        "phase": "Blocked",
        "reason": "BackupTooOld",
        "message": message,
        "observedGeneration": 1,
        "conditions": [
            condition("Ready", "False", "BackupTooOld", message),
            condition("Reconciling", "False", "Idle"),
            condition("Stalled", "True", "BackupTooOld", message),
            condition("BackupVerified", "False", "BackupTooOld", message),
        ],
    }
