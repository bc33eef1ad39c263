"""End to end: the operator process itself — liveness, metrics, label selector, and peering of replicas."""

from __future__ import annotations

import socket
import time
import urllib.request
from typing import Any, cast

import pytest

from tests.operator import harness
from tests.operator.conftest import OperatorFactory

pytestmark = pytest.mark.e2e

MIGRATIONS = {"001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def _peers(kube: harness.Kube) -> dict[str, object]:
    peering = kube.custom.get_namespaced_custom_object(
        "kopf.dev", "v1", kube.namespace, "kopfpeerings", "dbmigrate-operator"
    )
    return dict(cast(dict[str, Any], peering).get("status") or {})


def test_liveness_metrics_and_selector(kube: harness.Kube, start_operator: OperatorFactory, pg_url: str) -> None:
    live, metrics = _free_port(), _free_port()
    start_operator(
        "--standalone",
        "--liveness",
        f"http://127.0.0.1:{live}/healthz",
        "--metrics-port",
        str(metrics),
        "--selector",
        "team=orders",
    )
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("ignored", harness.spec())
    kube.custom.create_namespaced_custom_object(
        harness.GROUP,
        harness.VERSION,
        kube.namespace,
        harness.PLURAL,
        {
            "apiVersion": f"{harness.GROUP}/{harness.VERSION}",
            "kind": "DatabaseMigration",
            "metadata": {"name": "selected", "labels": {"team": "orders"}},
            "spec": harness.spec(),
        },
    )

    assert kube.wait_phase("selected", "Succeeded", "Failed")["status"]["phase"] == "Succeeded"
    assert "status" not in kube.get("ignored")
    assert harness.wait_for("liveness", lambda: _get(f"http://127.0.0.1:{live}/healthz")) is not None
    exported = harness.wait_for("metrics", lambda: _get(f"http://127.0.0.1:{metrics}/metrics"))
    assert f'dbmigrate_migrations_total{{namespace="{kube.namespace}",result="Succeeded"}} 1.0' in exported
    assert f'dbmigrate_pending_migrations{{name="selected",namespace="{kube.namespace}"}} 0.0' in exported


def test_only_the_highest_priority_replica_acts(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str
) -> None:
    kube.custom.create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        kube.namespace,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "dbmigrate-operator"}},
    )
    active = start_operator("--priority", "20", "-v")
    harness.wait_for("the active replica's peering entry", lambda: len(_peers(kube)) == 1 or None)
    standby = start_operator("--priority", "10", "-v")  # -v: kopf logs each handler call, showing who acted
    harness.wait_for("the standby's peering entry", lambda: len(_peers(kube)) == 2 or None)
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("app", harness.spec())

    assert kube.wait_phase("app", "Succeeded", "Failed")["status"]["phase"] == "Succeeded"
    time.sleep(1)
    assert "users" in harness.tables(pg_url)
    assert "resource_changed" in active.output() and "resource_changed" not in standby.output()
