"""Job specs for the CLI steps (plan, migrate, verify): names, arguments, environment, ownership.

Names are deterministic — ``dbm-<name[:20]>-<uid[:8]>-g<generation>a<attempt>-<step>`` — so an operator that dies
between creating a Job and recording it creates nothing twice: the second create answers 409 and the existing Job
is read instead. ``attempt`` moves on retries and re-runs, so each deliberate re-run gets a Job of its own.
Database credentials reach the container only as ``env.valueFrom.secretKeyRef``; arguments never carry secrets.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from dbmigrate.controller import spec as specs
from dbmigrate.controller.settings import Settings

MIGRATIONS_MOUNT = "/migrations"
#: A writable /tmp (an emptyDir): the chart runs Jobs with a read-only root filesystem, where Python's tempfile,
#: and the tools a framework project calls, would otherwise find no temporary directory at all.
TMP_MOUNT, TMP_VOLUME = "/tmp", "dbmigrate-tmp"
TERMINATION_LOG = "/dev/termination-log"
CONTAINER = "dbmigrate"
MANAGED_BY = "dbmigrate-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_OWNER_UID = "dbmigrate.io/owner-uid"
LABEL_MIGRATION = "dbmigrate.io/migration"
LABEL_STEP = "dbmigrate.io/step"
API_VERSION = "dbmigrate.io/v1alpha1"
KIND = "DatabaseMigration"


@dataclasses.dataclass(frozen=True)
class Step:
    """One CLI invocation: ``kind`` is plan, plan-down, migrate or verify; a migrate carries its approval."""

    kind: str
    direction: str = "up"
    plan_hash: str | None = None
    allow_destructive: bool = False


def run_id(*, name: str, uid: str, generation: int, attempt: int) -> str:
    """The identity of one run of one generation: Job names and created backups derive from it."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())[:20].strip("-") or "x"
    return f"dbm-{slug}-{uid[:8]}-g{generation}a{attempt}"


def job_name(run: str, step: Step) -> str:
    return f"{run}-{step.kind}"


def arguments(step: Step, mig: specs.MigrationSpec) -> list[str]:
    """The CLI arguments of ``step``, per the JSON contract (docs/operator.md)."""
    target = [] if mig.target == specs.LATEST else [mig.target]
    if step.kind == "plan":
        args = ["plan", *target]
    elif step.kind == "plan-down":
        args = ["plan", "--down", mig.target]
    elif step.kind == "migrate":
        if not step.plan_hash:
            raise ValueError("a migrate Job needs the approved plan hash")
        args = [step.direction, *target, "--approve", step.plan_hash, "--backup-policy", "skip"]
        args += ["--lock-timeout", str(mig.safety.lock_timeout_seconds)]
        if mig.safety.statement_timeout_seconds is not None:
            args += ["--statement-timeout", str(mig.safety.statement_timeout_seconds)]
        if not mig.safety.rollback_on_failure:
            args.append("--no-rollback-on-failure")
        if step.allow_destructive:
            args.append("--allow-destructive")
    elif step.kind == "verify":
        args = ["verify"]
    else:
        raise ValueError(f"unknown step {step.kind!r}")
    if mig.database.session_pooler and step.kind != "verify":  # every step but verify takes the run lock
        args.append("--session-pooler")
    return [*args, *_source_args(mig), "--output", "json", "--termination-log", TERMINATION_LOG]


def _source_args(mig: specs.MigrationSpec) -> list[str]:
    if mig.migrations.configmap:
        return ["--dir", MIGRATIONS_MOUNT]
    args = ["--dir", mig.migrations.directory] if mig.migrations.directory else []
    if mig.migrations.framework != "auto":
        args += ["--framework", mig.migrations.framework]
    return args


def database_env(database: specs.Database) -> list[dict[str, Any]]:
    """The connection as env: values only by Secret reference, the engine (not a secret) as a plain value."""

    def secret(env: str, key: str) -> dict[str, Any]:
        return {"name": env, "valueFrom": {"secretKeyRef": {"name": database.secret_name, "key": key}}}

    if database.url_key:
        return [secret("DATABASE_URL", database.url_key)]
    return [{"name": "DBMIGRATE_DB_ENGINE", "value": database.engine}, *(secret(e, k) for e, k in database.part_keys)]


def manifest(
    *,
    owner: Mapping[str, Any],
    mig: specs.MigrationSpec,
    step: Step,
    run: str,
    settings: Settings,
) -> dict[str, Any]:
    """The Job for ``step``, owned (controller=true) by ``owner`` so it goes when the resource goes. The image
    and security contexts default from the operator's settings (the chart makes them restricted)."""
    meta = owner["metadata"]
    overrides = mig.job
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_MIGRATION: meta["name"][:63].rstrip("-_."),
        LABEL_OWNER_UID: meta["uid"],
        LABEL_STEP: step.kind,
    }
    mounts = list(overrides.get("volumeMounts") or [])
    volumes = list(overrides.get("volumes") or [])
    if mig.migrations.configmap:
        volumes.append({"name": "migrations", "configMap": {"name": mig.migrations.configmap}})
        mounts.append({"name": "migrations", "mountPath": MIGRATIONS_MOUNT, "readOnly": True})
    if not any(mount.get("mountPath") == TMP_MOUNT for mount in mounts):  # the user's own /tmp wins
        volumes.append({"name": TMP_VOLUME, "emptyDir": {}})
        mounts.append({"name": TMP_VOLUME, "mountPath": TMP_MOUNT})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": overrides.get("image") or mig.migrations.image or settings.default_image,
        "args": arguments(step, mig),
        "env": [*database_env(mig.database), *(overrides.get("env") or [])],
        "volumeMounts": mounts,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if mig.migrations.command:
        container["command"] = list(mig.migrations.command)
    if overrides.get("resources"):
        container["resources"] = overrides["resources"]
    if settings.job_container_security_context:
        container["securityContext"] = dict(settings.job_container_security_context)
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": volumes}
    if settings.job_pod_security_context:
        pod_spec["securityContext"] = dict(settings.job_pod_security_context)
    for key in ("serviceAccountName", "nodeSelector", "tolerations"):
        if overrides.get(key):
            pod_spec[key] = overrides[key]
    job_spec: dict[str, Any] = {
        "backoffLimit": int(overrides.get("backoffLimit", 0)),
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    for key in ("activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        if overrides.get(key) is not None:
            job_spec[key] = int(overrides[key])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(run, step),
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": job_spec,
    }
