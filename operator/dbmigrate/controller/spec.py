"""The DatabaseMigration spec as typed values, with the CRD's defaults applied.

The API server applies the schema's defaults and CEL rules before the operator sees an object; parsing repeats the
defaults anyway so objects stored before a CRD upgrade (or built in unit tests) read the same. A spec that still
breaks a rule raises :class:`SpecError`, which the operator reports as a Stalled condition instead of crashing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dbmigrate import errors
from dbmigrate.backups import gate

LATEST = "latest"
DB_ENV_KEYS = (  # (environment variable of the CLI, SecretRef field naming the key)
    ("DBMIGRATE_DB_HOST", "hostKey"),
    ("DBMIGRATE_DB_PORT", "portKey"),
    ("DBMIGRATE_DB_NAME", "databaseKey"),
    ("DBMIGRATE_DB_USER", "userKey"),
    ("DBMIGRATE_DB_PASSWORD", "passwordKey"),
)

#: keys a backup credentialsSecretRef must hold, per provider (AWS_SESSION_TOKEN is optional)
CREDENTIAL_KEYS = {"awsRds": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "gcpCloudSql": ("token",)}


class SpecError(ValueError):
    """The spec cannot be acted on (only reachable when the CRD's validation was bypassed or is older)."""


@dataclasses.dataclass(frozen=True)
class Database:
    engine: str
    secret_name: str
    url_key: str | None
    #: environment variable → Secret key, for the host/port/... form (empty with url_key)
    part_keys: tuple[tuple[str, str], ...]
    #: the address is a session-mode pooler (the CLI's --session-pooler)
    session_pooler: bool = False

    def secret_keys(self) -> list[str]:
        """Every Secret key the Jobs read, to check before starting one (a missing key hangs the pod)."""
        return [self.url_key] if self.url_key else [key for _, key in self.part_keys]


@dataclasses.dataclass(frozen=True)
class Migrations:
    configmap: str | None
    image: str | None
    framework: str
    directory: str | None
    command: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Backup:
    policy: str  # Require | CreateIfStale | Skip
    max_age: timedelta
    credentials_secret: str | None
    #: the one provider's kind ("volumeSnapshot", "awsRds", "gcpCloudSql") and its settings; None with Skip
    provider: str | None
    provider_spec: Mapping[str, Any]

    @property
    def credential_keys(self) -> tuple[str, ...]:
        """The keys the credentials Secret must hold for the provider (a VolumeSnapshot needs none: RBAC)."""
        return CREDENTIAL_KEYS.get(self.provider or "", ())

    @property
    def gate_policy(self) -> str:
        """The engine gate's name for the policy."""
        return {"Require": "require", "CreateIfStale": "create", "Skip": "skip"}[self.policy]


@dataclasses.dataclass(frozen=True)
class Safety:
    destructive: str  # Deny | RequireApproval | Allow
    lock_timeout_seconds: int
    statement_timeout_seconds: int | None
    rollback_on_failure: bool


@dataclasses.dataclass(frozen=True)
class MigrationSpec:
    database: Database
    migrations: Migrations
    target: str
    allow_down: bool
    dry_run: bool
    backup: Backup
    safety: Safety
    job: Mapping[str, Any]


def parse(spec: Mapping[str, Any]) -> MigrationSpec:
    """Parse and default a ``spec``; raises :class:`SpecError` naming the first broken rule."""
    safety = spec.get("safety") or {}
    return MigrationSpec(
        database=_database(spec.get("database") or {}),
        migrations=_migrations(spec.get("migrations") or {}),
        target=str(spec.get("targetVersion") or LATEST),
        allow_down=bool(spec.get("allowDown", False)),
        dry_run=bool(spec.get("dryRun", False)),
        backup=_backup(spec.get("backup") or {}),
        safety=Safety(
            destructive=_enum(safety.get("destructive", "RequireApproval"), ("Deny", "RequireApproval", "Allow")),
            lock_timeout_seconds=_seconds(safety.get("lockTimeout", "5s")),
            statement_timeout_seconds=_seconds(safety["statementTimeout"]) if safety.get("statementTimeout") else None,
            rollback_on_failure=bool(safety.get("rollbackOnFailure", True)),
        ),
        job=spec.get("job") or {},
    )


def _database(database: Mapping[str, Any]) -> Database:
    ref = database.get("secretRef") or {}
    if not ref.get("name"):
        raise SpecError("spec.database.secretRef.name is required")
    url_key = ref.get("urlKey")
    parts = tuple((env, ref[field]) for env, field in DB_ENV_KEYS if ref.get(field))
    if bool(url_key) == bool(parts):
        raise SpecError("spec.database.secretRef: set either urlKey or the host/database/user/password keys")
    return Database(
        engine=_enum(database.get("engine"), ("postgresql", "mysql")),
        secret_name=ref["name"],
        url_key=url_key,
        part_keys=parts,
        session_pooler=bool(database.get("sessionPooler", False)),
    )


def _migrations(migrations: Mapping[str, Any]) -> Migrations:
    configmap = (migrations.get("configMapRef") or {}).get("name")
    image = migrations.get("image") or {}
    if bool(configmap) == bool(image.get("image")):
        raise SpecError("spec.migrations: set exactly one of configMapRef and image")
    return Migrations(
        configmap=configmap,
        image=image.get("image"),
        framework=image.get("framework", "auto"),
        directory=image.get("directory"),
        command=tuple(image.get("command") or ()),
    )


def _backup(backup: Mapping[str, Any]) -> Backup:
    policy = _enum(backup.get("policy", "Require"), ("Require", "CreateIfStale", "Skip"))
    providers = [kind for kind in ("volumeSnapshot", "awsRds", "gcpCloudSql") if backup.get(kind)]
    if len(providers) > 1 or (policy != "Skip" and not providers):
        raise SpecError("spec.backup: set exactly one provider (volumeSnapshot, awsRds, gcpCloudSql) unless Skip")
    provider = providers[0] if providers and policy != "Skip" else None
    return Backup(
        policy=policy,
        max_age=_duration(backup.get("maxAge", "1h")),
        credentials_secret=(backup.get("credentialsSecretRef") or {}).get("name"),
        provider=provider,
        provider_spec=backup[provider] if provider else {},
    )


def _enum(value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpecError(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _duration(text: str) -> timedelta:
    try:
        return gate.parse_duration(text)
    except errors.UsageError as exc:
        raise SpecError(exc.message) from None


def _seconds(text: str) -> int:
    """The CLI takes whole seconds; a sub-second timeout rounds up rather than to 0 (which means no limit)."""
    return max(1, int(-(-_duration(text).total_seconds() // 1)))
