"""End to end on the local control plane: a ConfigMap of SQL migrations applied to PostgreSQL and MariaDB by Jobs
the operator starts, with every condition, the status, the Events and the secrecy of credentials checked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.databases import through_pgbouncer
from tests.operator import harness
from tests.operator.conftest import OperatorFactory
from tests.operator.harness import condition, conditions

pytestmark = pytest.mark.e2e

MIGRATIONS = {
    "001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200));",
    "001_users.down.sql": "DROP TABLE users;",
    "002_orders.up.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER);",
    "002_orders.down.sql": "DROP TABLE orders;",
}


def test_migrates_postgresql_with_every_condition(kube: harness.Kube, operator: harness.Operator, pg_url: str) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("app", harness.spec())

    obj = kube.wait_phase("app", "Succeeded", "Failed", "Blocked", "RolledBack")
    status = obj["status"]
    assert status["phase"] == "Succeeded", status
    assert conditions(obj) == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
        "BackupVerified": "False",  # policy Skip: honestly not verified
        "Planned": "True",
        "Approved": "True",
        "Migrated": "True",
        "SchemaVerified": "True",
    }
    assert condition(obj, "BackupVerified")["reason"] == "Skipped"
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert status["observedGeneration"] == 1
    assert status["plan"]["pending"] == ["1", "2"] and status["plan"]["hash"].startswith("sha256:")
    assert status["migration"]["applied"] == ["1", "2"]
    assert status["appliedVersion"] == "2" and status["pendingCount"] == 0 and status["target"] == "2"
    assert status["schema"]["integrityOk"] is True and status["schema"]["fingerprint"].startswith("sha256:")
    assert status["migrationsHash"].startswith("sha256:")
    assert {"users", "orders"} <= harness.tables(pg_url)

    uid = obj["metadata"]["uid"][:8]
    assert kube.jobs() == [f"dbm-app-{uid}-g1a0-{step}" for step in ("migrate", "plan", "verify")]
    job = kube.job(f"dbm-app-{uid}-g1a0-migrate")
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("DatabaseMigration", "app", True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["up", "--approve"] and "--backup-policy" in container["args"]
    assert container["env"] == [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"key": "url", "name": "db"}}}]

    reasons = [reason for _, reason, _ in kube.events("app")]
    assert {"Created", "CheckingBackup", "Planning", "Migrating", "Verifying", "Succeeded"} <= set(reasons)
    password_free = json.dumps([status, kube.events("app"), job])
    assert pg_url not in password_free and ":dbmigrate@" not in password_free


def test_migrates_mariadb_from_host_keys(kube: harness.Kube, operator: harness.Operator, mysql_url: str) -> None:
    """The parts form of the Secret: DBMIGRATE_DB_* variables, each from its own key."""
    database = mysql_url.rsplit("/", 1)[1]
    kube.secret(
        "db",
        {"host": "127.0.0.1", "port": "3306", "database": database, "username": "dbmigrate", "password": "dbmigrate"},
    )
    kube.configmap("migrations", MIGRATIONS)
    ref = {
        "name": "db",
        "hostKey": "host",
        "portKey": "port",
        "databaseKey": "database",
        "userKey": "username",
        "passwordKey": "password",
    }
    kube.apply("app", harness.spec(engine="mysql", database={"engine": "mysql", "secretRef": ref}))

    obj = kube.wait_phase("app", "Succeeded", "Failed", "Blocked", "RolledBack")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert conditions(obj)["Ready"] == "True" and conditions(obj)["SchemaVerified"] == "True"
    assert {"users", "orders"} <= harness.tables(mysql_url)


def test_spec_change_flips_ready_at_once_and_runs_again(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("app", harness.spec(targetVersion="1"))
    first = kube.wait_phase("app", "Succeeded", "Failed")
    assert first["status"]["appliedVersion"] == "1" and "orders" not in harness.tables(pg_url)

    kube.patch_spec("app", {"targetVersion": "latest"})

    def flipped() -> dict[str, object] | None:
        obj = kube.get("app")
        ready = condition(obj, "Ready")
        return obj if ready["status"] == "False" and ready["observedGeneration"] == 2 else None

    moving = harness.wait_for("Ready=False for generation 2", flipped)
    assert conditions(moving)["Reconciling"] == "True"
    done = kube.wait_phase("app", "Succeeded", "Failed")
    assert done["status"]["observedGeneration"] == 2 and done["status"]["appliedVersion"] == "2"
    assert "orders" in harness.tables(pg_url)


def test_an_edited_configmap_starts_a_run_at_once_and_a_selector_limits_which(
    kube: harness.Kube, start_operator: OperatorFactory, pg_url: str, mysql_url: str
) -> None:
    """The resync is 120 s here, so a run within the wait's 60 s was started by the ConfigMap's watch event."""
    start_operator("--standalone", "--configmap-selector", "dbmigrate.io/migrations=true")
    first = {k: v for k, v in MIGRATIONS.items() if k.startswith("001")}
    labelled = {"dbmigrate.io/migrations": "true"}
    kube.secret("db", {"url": pg_url})
    kube.secret("other-db", {"url": mysql_url})
    kube.configmap("migrations", first, labels=labelled)
    kube.configmap("unlabelled", first)
    kube.apply("app", harness.spec())
    kube.apply("other", harness.spec(configmap="unlabelled", secret="other-db", engine="mysql"))
    for name in ("app", "other"):
        assert kube.wait_phase(name, "Succeeded", "Failed")["status"]["appliedVersion"] == "1"

    kube.configmap("unlabelled", MIGRATIONS)
    kube.configmap("migrations", MIGRATIONS, labels=labelled)

    done = harness.wait_for("the edited ConfigMap applied", lambda: _at_version(kube, "app", "2"))
    assert done["status"]["phase"] == "Succeeded" and "orders" in harness.tables(pg_url)
    # Edited first, but filtered out by the API server: its edit is seen at the next resync only.
    assert kube.get("other")["status"]["appliedVersion"] == "1" and "orders" not in harness.tables(mysql_url)


def _at_version(kube: harness.Kube, name: str, version: str) -> dict[str, Any] | None:
    obj = kube.get(name)
    status = obj.get("status") or {}
    return obj if status.get("appliedVersion") == version and status.get("phase") == "Succeeded" else None


def test_a_pooler_blocks_the_run_unless_declared_session_mode(
    kube: harness.Kube, operator: harness.Operator, pg_url: str
) -> None:
    kube.secret("db", {"url": through_pgbouncer(pg_url, "transaction")})
    kube.secret("session-db", {"url": through_pgbouncer(pg_url, "session")})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("pooled", harness.spec())
    session_db = harness.spec(secret="session-db")["database"]
    kube.apply("declared", harness.spec(database={**session_db, "sessionPooler": True}))

    refused = kube.wait_phase("pooled", "Succeeded", "Failed", "Blocked", "RolledBack")
    assert refused["status"]["phase"] == "Failed", refused["status"]
    planned = condition(refused, "Planned")
    assert planned["reason"] == "SafetyGate" and "connection pooler" in planned["message"], planned
    assert conditions(refused)["Stalled"] == "True"
    done = kube.wait_phase("declared", "Succeeded", "Failed", "Blocked", "RolledBack")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert {"users", "orders"} <= harness.tables(pg_url)
