"""AWS RDS snapshots (automated and manual) of a DB instance or an Aurora cluster, through boto3.

Credentials: the ``credentialsSecretRef`` keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when
given, else boto3's own chain (IRSA / pod identity, instance profile). boto3 honours ``AWS_ENDPOINT_URL``, which
is how tests point it at a local moto server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from dbmigrate.backups import base
from dbmigrate.controller import backups

CREDENTIAL_KEYS = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
}


class RdsProvider:
    name = "AwsRds"

    def __init__(self, *, settings: Mapping[str, Any], credentials: Mapping[str, str], request_id: str) -> None:
        keys = {arg: credentials[key] for key, arg in CREDENTIAL_KEYS.items() if credentials.get(key)}
        self._rds = boto3.client("rds", region_name=settings["region"], **keys)
        self._cluster: str | None = settings.get("dbClusterIdentifier")
        self._instance: str | None = settings.get("dbInstanceIdentifier")
        # RDS identifiers: letters, digits, single hyphens, starting with a letter
        self._request_id = "-".join(part for part in request_id.split("-") if part)

    def latest(self) -> base.Backup | None:
        try:
            available = [s for s in self._snapshots() if s.get("Status") == "available"]
        except (ClientError, BotoCoreError) as exc:
            raise _failure(exc, "cannot list RDS snapshots") from None
        newest = max(available, key=lambda s: s["SnapshotCreateTime"], default=None)
        return None if newest is None else self._backup(newest)

    def create(self) -> base.Backup:
        try:
            snapshot = self._create_or_describe()
        except (ClientError, BotoCoreError) as exc:
            raise _failure(exc, f"cannot create RDS snapshot {self._request_id}") from None
        if snapshot.get("Status") != "available" or "SnapshotCreateTime" not in snapshot:
            raise backups.BackupPending(f"RDS snapshot {self._request_id} is {snapshot.get('Status', 'starting')}")
        return self._backup(snapshot)

    def _snapshots(self) -> Iterator[dict[str, Any]]:
        if self._cluster:
            pages = self._rds.get_paginator("describe_db_cluster_snapshots").paginate(DBClusterIdentifier=self._cluster)
            key = "DBClusterSnapshots"
        else:
            pages = self._rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=self._instance)
            key = "DBSnapshots"
        for page in pages:
            yield from page.get(key, [])

    def _create_or_describe(self) -> dict[str, Any]:
        """Start the snapshot; if one of that name exists already (an earlier reconcile started it), read it."""
        try:
            if self._cluster:
                created = self._rds.create_db_cluster_snapshot(
                    DBClusterSnapshotIdentifier=self._request_id, DBClusterIdentifier=self._cluster
                )
                return dict(created["DBClusterSnapshot"])
            created = self._rds.create_db_snapshot(
                DBSnapshotIdentifier=self._request_id, DBInstanceIdentifier=self._instance
            )
            return dict(created["DBSnapshot"])
        except ClientError as exc:
            if "AlreadyExists" not in exc.response.get("Error", {}).get("Code", ""):
                raise
        if self._cluster:
            found = self._rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=self._request_id)
            return dict(found["DBClusterSnapshots"][0])
        found = self._rds.describe_db_snapshots(DBSnapshotIdentifier=self._request_id)
        return dict(found["DBSnapshots"][0])

    def _backup(self, snapshot: Mapping[str, Any]) -> base.Backup:
        ident = snapshot.get("DBClusterSnapshotIdentifier") or snapshot.get("DBSnapshotIdentifier") or "?"
        kind = snapshot.get("SnapshotType", "snapshot")
        return base.Backup(provider=self.name, taken_at=snapshot["SnapshotCreateTime"], description=f"{kind} {ident}")


#: error codes of throttling and of trouble on AWS's side (boto3 retried them a few times already)
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)


def _failure(exc: ClientError | BotoCoreError, what: str) -> Exception:
    """Throttling, AWS-side errors and a network that fails are passing; anything else (access denied, an unknown
    instance, no credentials) needs a person."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        passing = code in TRANSIENT_CODES or backups.transient(status)
    else:
        passing = isinstance(exc, ConnectionError | HTTPClientError)
    return (backups.BackupUnavailable if passing else base.BackupError)(f"{what}: {exc}")
