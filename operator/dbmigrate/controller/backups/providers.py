"""Which provider a spec names, built with its credentials and the run's deterministic backup name."""

from __future__ import annotations

from dbmigrate.backups import base
from dbmigrate.controller import cluster as clusters
from dbmigrate.controller import spec as specs
from dbmigrate.controller.backups import awsrds, gcpcloudsql, volumesnapshot


def provider_for(
    backup: specs.Backup, *, cluster: clusters.Cluster, namespace: str, request_id: str
) -> base.Provider | None:
    """None when the policy is Skip (the gate then reports that nothing was checked)."""
    if backup.provider is None:
        return None
    if backup.provider == "volumeSnapshot":
        return volumesnapshot.VolumeSnapshotProvider(
            api=cluster.custom, namespace=namespace, settings=backup.provider_spec, request_id=request_id
        )
    credentials = cluster.secret_data(namespace, backup.credentials_secret) if backup.credentials_secret else {}
    if backup.provider == "awsRds":
        return awsrds.RdsProvider(settings=backup.provider_spec, credentials=credentials, request_id=request_id)
    return gcpcloudsql.CloudSqlProvider(settings=backup.provider_spec, credentials=credentials, request_id=request_id)
