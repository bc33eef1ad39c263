"""The RDS provider against moto's in-process AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from dbmigrate.backups import base
from dbmigrate.controller import backups
from dbmigrate.controller.backups import awsrds

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}


@pytest.fixture
def rds() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("rds", region_name="eu-west-1")
        client.create_db_instance(
            DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20
        )
        yield client


def provider(**settings: str) -> awsrds.RdsProvider:
    return awsrds.RdsProvider(
        settings={"region": "eu-west-1", **settings}, credentials=CREDENTIALS, request_id="dbm-app--x-g1a0"
    )


def test_latest_is_the_newest_available_snapshot(rds: Any) -> None:
    rds.create_db_snapshot(DBSnapshotIdentifier="manual-1", DBInstanceIdentifier="orders")
    latest = provider(dbInstanceIdentifier="orders").latest()
    assert latest is not None and latest.description == "manual manual-1"


def test_create_is_idempotent_by_name(rds: Any) -> None:
    first = provider(dbInstanceIdentifier="orders").create()
    again = provider(dbInstanceIdentifier="orders").create()
    assert first.description == again.description == "manual dbm-app-x-g1a0"  # "--" is not a valid identifier
    names = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier="orders")["DBSnapshots"]]
    assert names.count("dbm-app-x-g1a0") == 1


def test_cluster_snapshots(rds: Any) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier="aurora", Engine="aurora-postgresql", MasterUsername="u", MasterUserPassword="password1"
    )
    created = provider(dbClusterIdentifier="aurora").create()
    assert created.description == "manual dbm-app-x-g1a0"
    latest = provider(dbClusterIdentifier="aurora").latest()
    assert latest is not None and latest.taken_at >= created.taken_at


def test_an_instance_without_snapshots_has_no_backup(rds: Any) -> None:
    assert provider(dbInstanceIdentifier="missing").latest() is None


def test_unreachable_api_is_passing_trouble(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retried with backoff by the operator: a network blip must not block the run (Degraded in Argo CD)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(backups.BackupUnavailable, match="cannot list RDS snapshots"):
        provider(dbInstanceIdentifier="orders").latest()


@pytest.mark.parametrize(
    ("code", "status", "passing"),
    [("Throttling", 400, True), ("InternalFailure", 500, True), ("AccessDenied", 403, False)],
)
def test_throttling_and_aws_side_errors_are_passing_access_denied_is_not(
    rds: Any, monkeypatch: pytest.MonkeyPatch, code: str, status: int, passing: bool
) -> None:
    rds_provider = provider(dbInstanceIdentifier="orders")
    answer = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}

    def refuse(*_: Any, **__: Any) -> Any:
        raise ClientError(answer, "DescribeDBSnapshots")

    monkeypatch.setattr(rds_provider._rds, "get_paginator", refuse)
    with pytest.raises(backups.BackupUnavailable if passing else base.BackupError, match=code) as raised:
        rds_provider.latest()
    assert isinstance(raised.value, base.BackupError) is not passing
