"""The examples are ready to apply: the API server accepts them (schema and CEL rules of the CRD, server-side dry
run), and their SQL runs on the real database engine — up, and back down through every down file."""

from __future__ import annotations

import json
import shutil
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


def manifests(kustomize: Path, example: Path) -> list[dict[str, Any]]:
    """The documents of the example as `kubectl apply -k` sends them: built by kustomize itself."""
    built = subprocess.run(
        [str(kustomize), "build", str(example)], capture_output=True, text=True, timeout=60, check=True
    )
    return list(yaml.safe_load_all(built.stdout))


def migrations_dir(kustomize: Path, example: str, tmp_path: Path) -> Path:
    """The ConfigMap's files on disk, as the Job sees them at /migrations."""
    (configmap,) = [m for m in manifests(kustomize, EXAMPLES[example]) if m["kind"] == "ConfigMap"]
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
    example: str, kustomize: Path, crds: None, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    docs = [
        {**m, "metadata": {**m["metadata"], "namespace": k8s_namespace}}
        for m in manifests(kustomize, EXAMPLES[example])
    ]
    assert sorted(m["kind"] for m in docs) == ["ConfigMap", "DatabaseMigration", "Secret"]
    cluster.apply(k8s_api, docs, dry_run=True)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_a_changed_migration_is_a_spec_change(example: str, kustomize: Path, tmp_path: Path) -> None:
    """The ConfigMap's name carries a hash of its files and the DatabaseMigration names it, so that editing a
    migration moves the resource's generation, which the operator and Argo CD's health check wait for."""

    def names(docs: list[dict[str, Any]]) -> tuple[str, str]:
        (configmap,) = [m["metadata"]["name"] for m in docs if m["kind"] == "ConfigMap"]
        (resource,) = [m for m in docs if m["kind"] == "DatabaseMigration"]
        return configmap, resource["spec"]["migrations"]["configMapRef"]["name"]

    configmap, referenced = names(manifests(kustomize, EXAMPLES[example]))
    assert configmap == referenced and configmap != referenced.rsplit("-", 1)[0]
    edited = tmp_path / example
    shutil.copytree(EXAMPLES[example], edited)
    first = sorted((edited / "migrations").iterdir())[0]
    first.write_text(first.read_text() + "-- edited\n")
    assert names(manifests(kustomize, edited))[1] not in (referenced, configmap)


@pytest.mark.postgres
def test_postgresql_example_migrates_waits_for_approval_and_reverts(
    pg_url: str, kustomize: Path, tmp_path: Path
) -> None:
    directory = str(migrations_dir(kustomize, "postgresql", tmp_path))
    fresh = dbmigrate("plan", "--dir", directory, url=pg_url)["plan"]
    assert fresh["blocking"] == 0, "on a fresh database the run creates the column it drops: nothing to lose"
    first = dbmigrate("up", "2", "--dir", directory, "--backup-policy", "skip", url=pg_url)
    assert first["ok"], first["error"]
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
def test_mysql_example_migrates_and_reverts(mysql_url: str, kustomize: Path, tmp_path: Path) -> None:
    directory = str(migrations_dir(kustomize, "mysql", tmp_path))
    plan = dbmigrate("plan", "--dir", directory, url=mysql_url)["plan"]
    assert plan["blocking"] == 0, "the example uses safety.destructive: Deny, so it must not be destructive"

    applied = dbmigrate("up", "--dir", directory, "--backup-policy", "skip", url=mysql_url)
    assert applied["ok"], applied["error"]
    assert applied["current_version"] == "3"
    assert {"products", "orders"} <= harness.tables(mysql_url)

    reverted = dbmigrate("down", "0", "--dir", directory, "--allow-destructive", url=mysql_url)
    assert reverted["ok"], reverted["error"]
    assert harness.tables(mysql_url) <= {"dbmigrate_history", "dbmigrate_history_state"}
