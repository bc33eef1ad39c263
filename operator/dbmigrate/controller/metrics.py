"""Prometheus metrics: runs by result, run durations, backup age and pending migrations per resource.

Observed from status transitions (:func:`observe`), so a restarted operator reports what the cluster holds rather
than only what it did itself. Served by prometheus_client's own HTTP server on ``--metrics-port``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import prometheus_client

RESULTS = prometheus_client.Counter(
    "dbmigrate_migrations_total", "Runs that reached a final phase, by result", ["namespace", "result"]
)
DURATION = prometheus_client.Histogram(
    "dbmigrate_migration_duration_seconds",
    "From the start of a run to its final phase",
    ["namespace", "result"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
BACKUP_AGE = prometheus_client.Gauge(
    "dbmigrate_backup_age_seconds", "Age of the backup relied on, when it was checked", ["namespace", "name"]
)
PENDING = prometheus_client.Gauge("dbmigrate_pending_migrations", "Migrations pending per plan", ["namespace", "name"])
STEPS = prometheus_client.Counter(
    "dbmigrate_reconcile_steps_total",
    "Steps of the reconcile loop, by whether they changed the status (a fast-growing unchanged count is a busy loop)",
    ["namespace", "changed"],
)
FINAL = frozenset({"Succeeded", "Failed", "RolledBack", "Blocked"})


def serve(port: int) -> None:
    prometheus_client.start_http_server(port)


def observe(*, before: Mapping[str, Any], after: Mapping[str, Any], namespace: str, name: str, now: datetime) -> None:
    """Record a status transition (``before`` → ``after``) made at ``now``."""
    phase = after.get("phase")
    if phase in FINAL and before.get("phase") != phase:
        RESULTS.labels(namespace, phase).inc()
        if after.get("startedAt"):
            DURATION.labels(namespace, phase).observe((now - _time(after["startedAt"])).total_seconds())
    backup = after.get("backup") or {}
    if backup.get("takenAt") and backup.get("checkedAt"):
        BACKUP_AGE.labels(namespace, name).set((_time(backup["checkedAt"]) - _time(backup["takenAt"])).total_seconds())
    if "pendingCount" in after:
        PENDING.labels(namespace, name).set(int(after["pendingCount"]))


def step(*, namespace: str, changed: bool) -> None:
    STEPS.labels(namespace, "true" if changed else "false").inc()


def forget(*, namespace: str, name: str) -> None:
    """Drop the per-resource series of a deleted resource."""
    for gauge in (BACKUP_AGE, PENDING):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
