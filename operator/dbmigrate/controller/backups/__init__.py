"""Backup providers the operator can judge: VolumeSnapshots, AWS RDS snapshots, GCP Cloud SQL backup runs.

Each implements :class:`dbmigrate.backups.base.Provider`, so the engine's gate (:mod:`dbmigrate.backups.gate`)
decides freshness for them exactly as for the CLI's providers. Creating a backup takes minutes, and an operator
handler must not wait that long: ``create`` starts it under a deterministic name and raises :class:`BackupPending`
until it is usable, and the reconciler asks again later. Starting twice under the same name is a no-op.
"""

from __future__ import annotations


class BackupPending(Exception):
    """A backup was requested (or found in progress) and is not usable yet; ask again later."""
