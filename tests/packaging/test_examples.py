"""The examples are ready to apply: the API server accepts them (schema and CEL rules of the CRD, server-side dry
run), and their SQL runs on the real database engine — up, and back down through every down file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.fixtures.controlplane import Cluster
from tests.operator import harness
from tests.packaging import cluster

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = {"postgresql": REPO / "examples" / "postgresql", "mysql": REPO / "examples" / "mysql"}


def manifests(example: str) -> list[dict[str, Any]]:
    """The documents of the example's kustomization, in its order."""
    directory = EXAMPLES[example]
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((directory / name).read_text())]


def migrations_dir(example: str, tmp_path: Path) -> Path:
    """The ConfigMap's files on disk, as the Job sees them at /migrations."""
    (configmap,) = [m for m in manifests(example) if m["kind"] == "ConfigMap"]
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)
    return tmp_path


def dbmigrate(*args: str, url: str) -> dict[str, Any]:
    command = [str(Path(sys.executable).with_name("dbmigrate")), *args, "--database", url, "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    document: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == document["exit_code"]
    return document


@pytest.fixture(scope="module")
def crds(controlplane: Cluster) -> Iterator[None]:
    api = controlplane.control_plane.api_client()
    try:
        harness.install_crds(api)
        yield
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.mark.e2e
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_api_server_accepts_the_example(
    example: str, crds: None, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    docs = [{**m, "metadata": {**m["metadata"], "namespace": k8s_namespace}} for m in manifests(example)]
    assert [m["kind"] for m in docs] == ["Secret", "ConfigMap", "DatabaseMigration"]
    cluster.apply(k8s_api, docs, dry_run=True)


@pytest.mark.postgres
def test_postgresql_example_migrates_waits_for_approval_and_reverts(pg_url: str, tmp_path: Path) -> None:
    directory = str(migrations_dir("postgresql", tmp_path))
    plan = dbmigrate("plan", "--dir", directory, url=pg_url)["plan"]
    assert plan["blocking"] == 1, "003_drop_fax is the destructive step the example demonstrates"

    refused = dbmigrate("up", "--dir", directory, "--backup-policy", "skip", url=pg_url)
    applied = dbmigrate("up", "--dir", directory, "--backup-policy", "skip", "--approve", plan["hash"], url=pg_url)
    reverted = dbmigrate("down", "0", "--dir", directory, "--allow-destructive", url=pg_url)

    assert refused["exit_code"] == 3
    assert applied["ok"], applied["error"]
    assert applied["current_version"] == "3"
    assert reverted["ok"], reverted["error"]
    assert harness.tables(pg_url) <= {"dbmigrate_history", "dbmigrate_history_state"}


@pytest.mark.mysql
def test_mysql_example_migrates_and_reverts(mysql_url: str, tmp_path: Path) -> None:
    directory = str(migrations_dir("mysql", tmp_path))
    plan = dbmigrate("plan", "--dir", directory, url=mysql_url)["plan"]
    assert plan["blocking"] == 0, "the example uses safety.destructive: Deny, so it must not be destructive"

    applied = dbmigrate("up", "--dir", directory, "--backup-policy", "skip", url=mysql_url)
    assert applied["ok"], applied["error"]
    assert applied["current_version"] == "3"
    assert {"products", "orders"} <= harness.tables(mysql_url)

    reverted = dbmigrate("down", "0", "--dir", directory, "--allow-destructive", url=mysql_url)
    assert reverted["ok"], reverted["error"]
    assert harness.tables(mysql_url) <= {"dbmigrate_history", "dbmigrate_history_state"}
