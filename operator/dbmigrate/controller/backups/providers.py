"""Which provider a spec names, built with its credentials and the run's deterministic backup name."""

from __future__ import annotations

from dbmigrate.backups import base
from dbmigrate.controller import cluster as clusters
from dbmigrate.controller import spec as specs
from dbmigrate.controller.backups import awsrds, gcpcloudsql, volumesnapshot


def provider_for(
    backup: specs.Backup, *, cluster: clusters.Cluster, namespace: str, request_id: str
) -> base.Provider | None:
    """None when the policy is Skip (the gate then reports that nothing was checked). A credentials Secret that
    is named but missing (or lacks a key) raises ``BackupError``: falling back to the operator's own cloud identity
    would ask another account, or with rights nobody meant to use."""
    if backup.provider is None:
        return None
    if backup.provider == "volumeSnapshot":
        return volumesnapshot.VolumeSnapshotProvider(
            api=cluster.custom, namespace=namespace, settings=backup.provider_spec, request_id=request_id
        )
    credentials = _credentials(backup, cluster=cluster, namespace=namespace)
    if backup.provider == "awsRds":
        return awsrds.RdsProvider(settings=backup.provider_spec, credentials=credentials, request_id=request_id)
    return gcpcloudsql.CloudSqlProvider(settings=backup.provider_spec, credentials=credentials, request_id=request_id)


def _credentials(backup: specs.Backup, *, cluster: clusters.Cluster, namespace: str) -> dict[str, str]:
    """The credentials Secret's values; {} when none is named (the provider then uses the operator's identity)."""
    if not backup.credentials_secret:
        return {}
    data = cluster.secret_data(namespace, backup.credentials_secret)
    if data is None:
        raise base.BackupError(f"credentials Secret {backup.credentials_secret!r} not found")
    missing = [key for key in backup.credential_keys if not data.get(key)]
    if missing:
        raise base.BackupError(f"credentials Secret {backup.credentials_secret!r} has no key {', '.join(missing)}")
    return data
