"""End to end: restarts, concurrency and downgrades — what must hold when things happen at the worst moment."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from tests.operator import harness
from tests.operator.conftest import OperatorFactory
from tests.operator.harness import condition

pytestmark = pytest.mark.e2e

SLOW = {
    "001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
    "001_users.down.sql": "DROP TABLE users;",
    "002_slow.up.sql": "SELECT pg_sleep(4);\nCREATE TABLE orders (id INTEGER PRIMARY KEY);",
    "002_slow.down.sql": "DROP TABLE orders;",
}


def history(url: str) -> list[str]:
    with harness.database(url) as engine, engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT version FROM dbmigrate_history ORDER BY version")]


def test_operator_killed_mid_migration_resumes_without_a_second_job(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str
) -> None:
    first = start_operator()
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", SLOW)
    kube.apply("app", harness.spec())
    kube.wait_phase("app", "Migrating")
    harness.wait_for("the migrate Job", lambda: True if any(j.endswith("-migrate") for j in kube.jobs()) else None)
    first.kill()

    start_operator()
    done = kube.wait_phase("app", "Succeeded", "Failed", "RolledBack")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert [j.rsplit("-", 1)[1] for j in kube.jobs()] == ["migrate", "plan", "verify"]
    assert history(pg_url) == ["1", "2"]


def test_two_resources_on_one_database_apply_each_migration_once(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", SLOW)
    kube.apply("first", harness.spec())
    kube.apply("second", harness.spec())

    results = [kube.wait_phase(name, "Succeeded", "Failed", "RolledBack", timeout=90) for name in ("first", "second")]
    assert [r["status"]["phase"] for r in results] == ["Succeeded", "Succeeded"], [r["status"] for r in results]
    assert history(pg_url) == ["1", "2"]
    applied = sorted(v for r in results for v in (r["status"].get("migration") or {}).get("applied", []))
    assert applied == ["1", "2"]  # one of them applied everything, the other found nothing left


def test_downgrade_needs_allow_down(kube: harness.Kube, operator: harness.Operator, pg_url: str) -> None:
    quick = {k: v.replace("SELECT pg_sleep(4);\n", "") for k, v in SLOW.items()}
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", quick)
    kube.apply("app", harness.spec())
    kube.wait_phase("app", "Succeeded")

    kube.patch_spec("app", {"targetVersion": "1"})
    blocked = kube.wait_phase("app", "Blocked", "Failed")
    assert condition(blocked, "Planned")["reason"] == "DowngradeNotAllowed"
    assert "orders" in harness.tables(pg_url)

    kube.patch_spec("app", {"allowDown": True, "safety": {"destructive": "Allow"}})  # dropping a table is destructive
    done = kube.wait_phase("app", "Succeeded", "Failed", "RolledBack", "Blocked")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["plan"]["direction"] == "down" and done["status"]["appliedVersion"] == "1"
    assert "orders" not in harness.tables(pg_url)


def test_deleting_the_resource_mid_migration_waits_for_the_migration(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    """Its Jobs go with it (owner references): without the wait the migration is killed mid-way."""
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", SLOW)
    kube.apply("app", harness.spec())

    def migrating() -> bool | None:
        pods = kube.core.list_namespaced_pod(kube.namespace, label_selector="dbmigrate.io/step=migrate").items
        statuses = [s for pod in pods for s in (pod.status.container_statuses or [])]
        return True if any(s.state.running for s in statuses) else None

    harness.wait_for("the migration running", migrating)
    kube.custom.delete_namespaced_custom_object(harness.GROUP, harness.VERSION, kube.namespace, harness.PLURAL, "app")
    waiting = harness.wait_for(
        "the DeletionWaiting Event", lambda: [e for e in kube.events("app") if e[1] == "DeletionWaiting"] or None
    )
    assert "-migrate" in waiting[0][2] and kube.get("app")["metadata"].get("deletionTimestamp")

    def gone() -> bool | None:
        try:
            kube.get("app")
        except ApiException as exc:
            return True if exc.status == 404 else None
        return None

    harness.wait_for("the resource gone", gone)
    assert history(pg_url) == ["1", "2"]
