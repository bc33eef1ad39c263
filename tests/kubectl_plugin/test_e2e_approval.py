"""The approval flow a person follows, with the real operator: a destructive plan waits, ``kubectl dbmigrate plan``
shows it, ``approve`` lets it run, ``status`` reports the result and ``logs`` the migrate Job's outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubectl_plugin.conftest import Plugin
from tests.operator import harness

pytestmark = pytest.mark.e2e

MIGRATIONS = {
    "001_customers.up.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY);",
    "001_customers.down.sql": "DROP TABLE customers;",
    "002_drop_fax.up.sql": "ALTER TABLE contacts DROP COLUMN fax;",  # a table from before the run: destructive
    "002_drop_fax.down.sql": "ALTER TABLE contacts ADD COLUMN fax TEXT;",
}


@pytest.fixture
def operator(crds: None, kubeconfig: Path, k8s_namespace: str, tmp_path: Path) -> Iterator[harness.Operator]:
    process = harness.Operator(kubeconfig=kubeconfig, namespace=k8s_namespace, log=tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    print(f"--- operator log ---\n{process.output()[-15000:]}")


def test_approve_a_destructive_plan_with_the_plugin(
    operator: harness.Operator, kube: harness.Kube, plugin: Plugin, pg_url: str
) -> None:
    with harness.database(pg_url) as engine, engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE contacts (id INTEGER PRIMARY KEY, fax TEXT)")
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("customers", harness.spec())
    waiting = kube.wait_phase("customers", "AwaitingApproval", "Failed", "Blocked", timeout=90)
    assert waiting["status"]["phase"] == "AwaitingApproval", waiting["status"]
    plan_hash = waiting["status"]["plan"]["hash"]

    shown = plugin("plan", "customers")
    assert f"Plan hash: {plan_hash}" in shown.out
    assert "destructive change(s), not approved" in shown.out
    assert "customers" not in harness.tables(pg_url), "nothing may run before the approval"

    assert plugin("approve", "customers", "--plan-hash", plan_hash).code == 0
    done = kube.wait_phase("customers", "Succeeded", "Failed", "RolledBack", "Blocked", timeout=90)

    assert done["status"]["phase"] == "Succeeded", done["status"]
    status = plugin("status", "customers").out.splitlines()
    assert any(line.startswith("✓ Ready=True (Succeeded)") for line in status)
    assert "✓ No pending migrations" in status
    assert any(line.startswith("✓ Approved=True (ApprovedByAnnotation)") for line in status)
    logs = plugin("logs", "customers", "--step", "migrate")
    assert logs.code == 0, logs.err
    assert json.loads(logs.out)["applied"] == ["1", "2"]  # versions as the engine normalises them
