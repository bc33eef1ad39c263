"""End to end: the operator's safety behaviour — approvals, denial, rollback, missing Secrets, invalid specs."""

from __future__ import annotations

import time

import pytest
import sqlalchemy
from kubernetes.client.exceptions import ApiException

from tests.operator import harness
from tests.operator.harness import condition, conditions

pytestmark = pytest.mark.e2e

BASE = {
    "001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200));",
    "001_users.down.sql": "DROP TABLE users;",
}
#: Drops a column of a table that existed before the run (see ``contacts``): what the run creates itself it may drop
#: without approval.
DESTRUCTIVE = {**BASE, "002_drop_fax.up.sql": "ALTER TABLE contacts DROP COLUMN fax;"}


def contacts(url: str) -> None:
    """A table the application had before dbmigrate managed its schema."""
    with harness.database(url) as engine, engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE contacts (id INTEGER PRIMARY KEY, fax TEXT)")


def columns(url: str) -> list[str]:
    with harness.database(url) as engine:
        return [c["name"] for c in sqlalchemy.inspect(engine).get_columns("contacts")]


def test_destructive_change_waits_for_the_right_approval(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    contacts(pg_url)
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", DESTRUCTIVE)
    kube.apply("app", harness.spec())

    waiting = kube.wait_phase("app", "AwaitingApproval", "Succeeded", "Failed")
    status = waiting["status"]
    assert status["phase"] == "AwaitingApproval", status
    plan_hash = status["plan"]["hash"]
    assert status["plan"]["blocking"] == 1 and status["plan"]["findings"][0]["rule"] == "drop_column"
    assert condition(waiting, "Approved")["reason"] == "AwaitingApproval"
    assert plan_hash in condition(waiting, "Approved")["message"]
    assert conditions(waiting)["Ready"] == "False"
    assert not any(name.endswith("-migrate") for name in kube.jobs())

    kube.annotate("app", {"dbmigrate.io/approved-plan": "sha256:" + "0" * 64})
    harness.wait_for(
        "ApprovalMismatch event",
        lambda: True if any(r == "ApprovalMismatch" for _, r, _ in kube.events("app")) else None,
    )
    time.sleep(2)
    still = kube.get("app")["status"]
    assert still["phase"] == "AwaitingApproval", (still, kube.events("app"))
    assert "users" not in harness.tables(pg_url)

    kube.annotate("app", {"dbmigrate.io/approved-plan": plan_hash})
    done = kube.wait_phase("app", "Succeeded", "Failed", "RolledBack")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert condition(done, "Approved")["reason"] == "ApprovedByAnnotation"
    assert columns(pg_url) == ["id"]


def test_denied_destructive_change_is_blocked(kube: harness.Kube, operator: harness.Operator, pg_url: str) -> None:
    contacts(pg_url)
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", DESTRUCTIVE)
    kube.apply("app", harness.spec(safety={"destructive": "Deny"}))

    blocked = kube.wait_phase("app", "Blocked", "Succeeded", "Failed")
    assert blocked["status"]["phase"] == "Blocked"
    assert conditions(blocked)["Stalled"] == "True" and condition(blocked, "Stalled")["reason"] == "DestructiveDenied"
    assert "users" not in harness.tables(pg_url)


def test_failing_migration_is_rolled_back(kube: harness.Kube, operator: harness.Operator, pg_url: str) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", BASE)
    kube.apply("app", harness.spec())
    kube.wait_phase("app", "Succeeded")
    before = harness.tables(pg_url)

    broken = {
        "002_orders.up.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY);",
        "002_orders.down.sql": "DROP TABLE orders;",
        # Fails only for real, where 002's history row exists (the dry run writes none), as a failure that depends
        # on data the plan cannot see would: the plan passes, the run fails and is rolled back.
        "003_broken.up.sql": "DO $$ BEGIN IF EXISTS (SELECT 1 FROM dbmigrate_history WHERE version = '2') "
        "THEN RAISE EXCEPTION 'boom'; END IF; END $$;",
        "003_broken.down.sql": "SELECT 1;",
    }
    kube.configmap("migrations", {**BASE, **broken})  # a ConfigMap change starts a new run (resync)

    failed = kube.wait_phase("app", "RolledBack", "Failed", timeout=90)
    status = failed["status"]
    assert status["phase"] == "RolledBack", status
    assert condition(failed, "Migrated")["status"] == "False" and conditions(failed)["Stalled"] == "True"
    assert status["migration"]["exitCode"] == 1
    assert harness.tables(pg_url) == before


def test_missing_secret_is_reported_then_picked_up(kube: harness.Kube, operator: harness.Operator, pg_url: str) -> None:
    kube.configmap("migrations", BASE)
    kube.apply("app", harness.spec())

    def stalled() -> dict[str, object] | None:
        obj = kube.get("app")
        return obj if (obj.get("status") or {}).get("reason") == "SecretNotFound" else None

    waiting = harness.wait_for("SecretNotFound", stalled)
    assert conditions(waiting)["Stalled"] == "True" and conditions(waiting)["Ready"] == "False"
    assert "'db' not found" in condition(waiting, "Ready")["message"]
    assert kube.jobs() == []

    kube.secret("db", {"url": pg_url})
    done = kube.wait_phase("app", "Succeeded", "Failed")
    assert done["status"]["phase"] == "Succeeded" and conditions(done)["Stalled"] == "False"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"database": {"engine": "postgresql", "secretRef": {"name": "db"}}}, "either urlKey"),
        ({"backup": {"policy": "Require"}}, "exactly one backup provider"),
        ({"migrations": {}}, "exactly one of configMapRef and image"),
        ({"safety": {"destructive": "Maybe"}}, "Unsupported value"),
        ({"backup": {"policy": "Skip", "maxAge": "soon"}}, "should match"),
    ],
)
def test_invalid_spec_is_rejected_by_the_api_server(
    kube: harness.Kube, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ApiException) as raised:
        kube.apply("bad", {**harness.spec(), **change})
    assert raised.value.status == 422 and message in str(raised.value.body)
