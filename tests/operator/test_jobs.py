"""Job specs: deterministic names, the CLI contract's arguments, credentials only by Secret reference."""

from __future__ import annotations

from typing import Any

import pytest

from dbmigrate.controller import jobs
from dbmigrate.controller import spec as specs
from dbmigrate.controller.settings import Settings

SETTINGS = Settings(default_image="dbmigrate:1")
OWNER = {"metadata": {"name": "Orders_DB.migration", "namespace": "shop", "uid": "0123456789abcdef"}}
SPEC: dict[str, Any] = {
    "database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
    "migrations": {"configMapRef": {"name": "sql"}},
    "backup": {"policy": "Skip"},
}


def _manifest(step: jobs.Step, **spec: Any) -> dict[str, Any]:
    mig = specs.parse({**SPEC, **spec})
    return jobs.manifest(owner=OWNER, mig=mig, step=step, run="dbm-x-01234567-g1a0", settings=SETTINGS)


def test_run_id_is_deterministic_and_a_valid_name() -> None:
    run = jobs.run_id(name="Orders_DB.migration-with-a-long-name", uid="0123456789abcdef", generation=3, attempt=2)
    assert run == "dbm-orders-db-migration-01234567-g3a2"
    assert len(jobs.job_name(run, jobs.Step("plan-down"))) <= 63


def test_plan_job_mounts_the_configmap_and_reports_through_the_termination_log() -> None:
    job = _manifest(jobs.Step("plan"), targetVersion="7")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == [
        "plan",
        "7",
        "--dir",
        "/migrations",
        "--output",
        "json",
        "--termination-log",
        "/dev/termination-log",
    ]
    assert pod["volumes"] == [
        {"name": "migrations", "configMap": {"name": "sql"}},
        {"name": "dbmigrate-tmp", "emptyDir": {}},
    ]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/migrations", "/tmp"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["name"] == "dbm-x-01234567-g1a0-plan"
    owner = job["metadata"]["ownerReferences"][0]
    assert owner["controller"] is True and owner["uid"] == OWNER["metadata"]["uid"]


def test_migrate_job_carries_the_approval_and_safety_flags() -> None:
    step = jobs.Step("migrate", direction="up", plan_hash="sha256:abc", allow_destructive=True)
    safety = {"lockTimeout": "10s", "statementTimeout": "2m", "rollbackOnFailure": False}
    args = _manifest(step, safety=safety)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:5] == ["up", "--approve", "sha256:abc", "--backup-policy", "skip"]
    assert args[5:10] == ["--lock-timeout", "10", "--statement-timeout", "120", "--no-rollback-on-failure"]
    assert "--allow-destructive" in args


def test_down_job_names_its_target() -> None:
    step = jobs.Step("migrate", direction="down", plan_hash="sha256:abc")
    args = _manifest(step, targetVersion="3", allowDown=True)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["down", "3", "--approve"]


def test_a_session_pooler_is_declared_to_every_step_that_takes_the_run_lock() -> None:
    database = {**SPEC["database"], "sessionPooler": True}
    steps = [jobs.Step("plan"), jobs.Step("migrate", direction="up", plan_hash="sha256:abc"), jobs.Step("verify")]
    declared = [
        "--session-pooler" in _manifest(step, database=database)["spec"]["template"]["spec"]["containers"][0]["args"]
        for step in steps
    ]
    assert declared == [True, True, False]  # verify reads only
    assert "--session-pooler" not in _manifest(jobs.Step("plan"))["spec"]["template"]["spec"]["containers"][0]["args"]


def test_migrate_without_a_plan_hash_is_a_bug() -> None:
    with pytest.raises(ValueError, match="plan hash"):
        _manifest(jobs.Step("migrate"))


def test_credentials_only_by_secret_reference() -> None:
    ref = {"name": "db", "hostKey": "h", "portKey": "port", "databaseKey": "d", "userKey": "u", "passwordKey": "p"}
    job = _manifest(jobs.Step("verify"), database={"engine": "mysql", "secretRef": ref})
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "DBMIGRATE_DB_ENGINE", "value": "mysql"}
    assert all("value" not in item and item["valueFrom"]["secretKeyRef"]["name"] == "db" for item in env[1:])
    assert [item["name"] for item in env[1:]] == [
        "DBMIGRATE_DB_HOST",
        "DBMIGRATE_DB_PORT",
        "DBMIGRATE_DB_NAME",
        "DBMIGRATE_DB_USER",
        "DBMIGRATE_DB_PASSWORD",
    ]


def test_image_source_and_job_overrides() -> None:
    migrations = {"image": {"image": "shop/migrations:5", "framework": "alembic", "command": ["/app/dbmigrate"]}}
    overrides = {
        "serviceAccountName": "migrator",
        "activeDeadlineSeconds": 600,
        "ttlSecondsAfterFinished": 3600,
        "env": [{"name": "TZ", "value": "UTC"}],
        "nodeSelector": {"pool": "batch"},
    }
    job = _manifest(jobs.Step("verify"), migrations=migrations, job=overrides)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "shop/migrations:5" and container["command"] == ["/app/dbmigrate"]
    assert container["args"][:3] == ["verify", "--framework", "alembic"]
    assert pod["volumes"] == [{"name": "dbmigrate-tmp", "emptyDir": {}}]
    assert container["env"][-1] == {"name": "TZ", "value": "UTC"}
    assert (pod["serviceAccountName"], pod["nodeSelector"]) == ("migrator", {"pool": "batch"})
    assert (job["spec"]["activeDeadlineSeconds"], job["spec"]["ttlSecondsAfterFinished"]) == (600, 3600)


def test_security_contexts_from_the_operator_settings() -> None:
    restricted = Settings(
        job_pod_security_context={"runAsNonRoot": True},
        job_container_security_context={"readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    )
    mig = specs.parse(SPEC)
    pod = jobs.manifest(owner=OWNER, mig=mig, step=jobs.Step("plan"), run="r", settings=restricted)["spec"]["template"]
    assert pod["spec"]["securityContext"] == {"runAsNonRoot": True}
    assert pod["spec"]["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    plain = _manifest(jobs.Step("plan"))["spec"]["template"]["spec"]
    assert "securityContext" not in plain and "securityContext" not in plain["containers"][0]


def test_a_users_own_tmp_mount_replaces_ours() -> None:
    own = {"volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]}
    own["volumeMounts"] = [{"name": "scratch", "mountPath": "/tmp"}]
    pod = _manifest(jobs.Step("plan"), job=own)["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["scratch", "migrations"]
    assert [m["mountPath"] for m in pod["containers"][0]["volumeMounts"]] == ["/tmp", "/migrations"]
