"""Backup providers the operator can judge: VolumeSnapshots, AWS RDS snapshots, GCP Cloud SQL backup runs.

Each implements :class:`dbmigrate.backups.base.Provider`, so the engine's gate (:mod:`dbmigrate.backups.gate`)
decides freshness for them exactly as for the CLI's providers. Creating a backup takes minutes, and an operator
handler must not wait that long: ``create`` starts it under a deterministic name and raises :class:`BackupPending`
until it is usable, and the reconciler asks again later. Starting twice under the same name is a no-op.

A provider tells passing trouble (network, 5xx, throttling: :class:`BackupUnavailable`, retried with backoff) from
answers that need a person (no permission, unknown instance: the engine's ``BackupError``, which blocks the run).
"""

from __future__ import annotations


class BackupPending(Exception):
    """A backup was requested (or found in progress) and is not usable yet; ask again later."""


class BackupUnavailable(Exception):
    """The provider's API could not answer just now (unreachable, 5xx, throttled); ask again later. Not a
    ``BackupError``, so it passes the engine's gate unchanged, as :class:`BackupPending` does."""


def transient(status: int | None) -> bool:
    """Whether an HTTP status means "try again later": throttled (429) or a server-side error (5xx)."""
    return status is not None and (status == 429 or status >= 500)
