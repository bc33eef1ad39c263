"""End to end: the backup gate with each provider — VolumeSnapshots (the test plays the snapshot controller), AWS RDS
on a local moto server, GCP Cloud SQL on a local stub of the Admin API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.operator import cloudsql_stub, harness
from tests.operator.conftest import OperatorFactory
from tests.operator.harness import condition, conditions

pytestmark = pytest.mark.e2e

MIGRATIONS = {
    "001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
    "001_users.down.sql": "DROP TABLE users;",
}
SNAPSHOTS = ("snapshot.storage.k8s.io", "v1", "volumesnapshots")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(kube: harness.Kube, name: str, *, taken: datetime | None, labels: dict[str, str]) -> None:
    body = {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": {"name": name, "labels": labels},
        "spec": {"volumeSnapshotClassName": "csi", "source": {"persistentVolumeClaimName": "pgdata"}},
    }
    kube.custom.create_namespaced_custom_object(*SNAPSHOTS[:2], kube.namespace, SNAPSHOTS[2], body)
    if taken is not None:
        _mark_ready(kube, name, taken)


def _mark_ready(kube: harness.Kube, name: str, taken: datetime) -> None:
    """What the CSI snapshot controller does once the storage system has cut the snapshot."""
    status = {"status": {"readyToUse": True, "creationTime": _iso(taken), "restoreSize": "1Gi"}}
    kube.custom.patch_namespaced_custom_object_status(*SNAPSHOTS[:2], kube.namespace, SNAPSHOTS[2], name, status)


def _with_backup(backup: dict[str, Any]) -> dict[str, Any]:
    return harness.spec(backup=backup)


def test_stale_volume_snapshot_blocks_before_planning(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    _snapshot(kube, "nightly", taken=datetime.now(UTC) - timedelta(hours=3), labels={"app": "pg"})
    backup = {"policy": "Require", "maxAge": "1h", "volumeSnapshot": {"selector": {"app": "pg"}}}
    kube.apply("app", _with_backup(backup))

    blocked = kube.wait_phase("app", "Blocked", "Succeeded", "Failed")
    assert blocked["status"]["phase"] == "Blocked"
    verified = condition(blocked, "BackupVerified")
    assert (verified["status"], verified["reason"]) == ("False", "BackupTooOld")
    assert "3 hours ago" in verified["message"]
    assert conditions(blocked)["Stalled"] == "True"
    assert kube.jobs() == [] and "users" not in harness.tables(pg_url)


def test_create_if_stale_takes_a_volume_snapshot_then_migrates(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    _snapshot(kube, "old", taken=datetime.now(UTC) - timedelta(days=2), labels={"app": "pg"})
    backup = {
        "policy": "CreateIfStale",
        "volumeSnapshot": {"selector": {"app": "pg"}, "pvcName": "pgdata", "volumeSnapshotClassName": "csi"},
    }
    kube.apply("app", _with_backup(backup))

    def requested() -> str | None:
        group, version, plural = SNAPSHOTS
        listed = cast(dict[str, Any], kube.custom.list_namespaced_custom_object(group, version, kube.namespace, plural))
        names = [item["metadata"]["name"] for item in listed["items"] if item["metadata"]["name"] != "old"]
        return names[0] if names else None

    created = harness.wait_for("a new VolumeSnapshot", requested)
    pending = kube.wait_phase("app", "CheckingBackup")
    assert condition(pending, "BackupVerified")["status"] == "Unknown"
    assert kube.jobs() == []

    _mark_ready(kube, created, datetime.now(UTC))
    done = kube.wait_phase("app", "Succeeded", "Failed", "Blocked")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["backup"]["description"] == created
    assert condition(done, "BackupVerified")["reason"] == "BackupFresh"


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_aws_rds_snapshot_created_when_stale(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str, moto_endpoint: str
) -> None:
    rds = boto3.client(
        "rds", region_name="eu-west-1", endpoint_url=moto_endpoint, aws_access_key_id="k", aws_secret_access_key="s"
    )
    rds.create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20
    )  # moto takes an automated snapshot at once: let it grow older than maxAge
    time.sleep(3)
    start_operator(AWS_ENDPOINT_URL=moto_endpoint)
    kube.secret("db", {"url": pg_url})
    kube.secret("aws", {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    kube.configmap("migrations", MIGRATIONS)
    backup = {
        "policy": "CreateIfStale",
        "maxAge": "2s",
        "credentialsSecretRef": {"name": "aws"},
        "awsRds": {"dbInstanceIdentifier": "orders-db", "region": "eu-west-1"},
    }
    kube.apply("app", _with_backup(backup))

    done = kube.wait_phase("app", "Succeeded", "Failed", "Blocked")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier="orders-db")["DBSnapshots"]
    created = [s["DBSnapshotIdentifier"] for s in snapshots if s["DBSnapshotIdentifier"].startswith("dbm-app-")]
    assert len(created) == 1 and created[0] in done["status"]["backup"]["description"]
    assert done["status"]["backup"]["provider"] == "AwsRds"


@pytest.fixture
def cloudsql() -> Iterator[cloudsql_stub.CloudSql]:
    with cloudsql_stub.serving() as stub:
        yield stub


def _apply_with_cloud_sql(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str, cloudsql: cloudsql_stub.CloudSql, **policy: str
) -> None:
    """An operator pointed at the stub, and a resource whose backup is the stub's instance under ``policy``."""
    start_operator(DBMIGRATE_GCP_SQLADMIN_ENDPOINT=cloudsql.endpoint)
    kube.secret("db", {"url": pg_url})
    kube.secret("gcp", {"token": cloudsql_stub.TOKEN})
    kube.configmap("migrations", MIGRATIONS)
    backup = {
        **policy,
        "credentialsSecretRef": {"name": "gcp"},
        "gcpCloudSql": {"project": "shop", "instance": "orders"},
    }
    kube.apply("app", _with_backup(backup))


def test_gcp_cloud_sql_backup_run_is_judged(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str, cloudsql: cloudsql_stub.CloudSql
) -> None:
    now = datetime.now(UTC)
    cloudsql.runs = [
        {"id": "1", "status": "SUCCESSFUL", "type": "AUTOMATED", "endTime": _iso(now - timedelta(days=1))},
        {"id": "2", "status": "SUCCESSFUL", "type": "ON_DEMAND", "endTime": _iso(now - timedelta(minutes=5))},
        {"id": "3", "status": "FAILED", "type": "ON_DEMAND", "endTime": _iso(now - timedelta(minutes=1))},
    ]
    _apply_with_cloud_sql(kube, start_operator, pg_url, cloudsql, policy="Require", maxAge="30m")

    done = kube.wait_phase("app", "Succeeded", "Failed", "Blocked")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert "backup run 2" in done["status"]["backup"]["description"]
    assert "5 minutes ago" in condition(done, "BackupVerified")["message"]


def test_gcp_cloud_sql_backup_run_requested_when_stale_and_awaited(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str, cloudsql: cloudsql_stub.CloudSql
) -> None:
    stale = datetime.now(UTC) - timedelta(days=2)
    cloudsql.runs = [{"id": "1", "status": "SUCCESSFUL", "type": "AUTOMATED", "endTime": _iso(stale)}]
    _apply_with_cloud_sql(kube, start_operator, pg_url, cloudsql, policy="CreateIfStale", maxAge="1h")

    def requested() -> str | None:
        running = [run for run in cloudsql.runs if run["status"] == "RUNNING"]
        return running[0]["description"] if running else None

    description = harness.wait_for("an on-demand backup run requested", requested)
    waiting = kube.get("app")
    assert waiting["status"]["phase"] not in ("Succeeded", "Migrating"), "migrated before the backup finished"
    assert "users" not in harness.tables(pg_url)
    cloudsql.complete(description, _iso(datetime.now(UTC)))

    done = kube.wait_phase("app", "Succeeded", "Failed", "Blocked")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert [run.get("description") for run in cloudsql.runs].count(description) == 1  # requested once, not per poll
    assert "backup run 2" in done["status"]["backup"]["description"]
    assert condition(done, "BackupVerified")["reason"] == "BackupFresh"
    assert "users" in harness.tables(pg_url)
