"""Building a backup provider from a spec: its credentials come from the named Secret or from nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from dbmigrate.backups import base
from dbmigrate.controller import spec as specs
from dbmigrate.controller.backups import providers


class Secrets:
    """The cluster as far as providers use it: Secrets by name."""

    def __init__(self, **secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)


def _backup(**provider: Any) -> specs.Backup:
    return specs.parse(
        {
            "database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
            "migrations": {"configMapRef": {"name": "sql"}},
            "backup": {"policy": "Require", "credentialsSecretRef": {"name": "creds"}, **provider},
        }
    ).backup


@pytest.mark.parametrize(
    "provider",
    [
        {"awsRds": {"dbInstanceIdentifier": "orders", "region": "eu-west-1"}},
        {"gcpCloudSql": {"project": "shop", "instance": "orders"}},
    ],
)
def test_a_named_credentials_secret_that_is_gone_is_a_backup_error_not_the_operators_identity(
    provider: dict[str, Any],
) -> None:
    with pytest.raises(base.BackupError, match="credentials Secret 'creds' not found"):
        providers.provider_for(_backup(**provider), cluster=Secrets(), namespace="ns", request_id="r")  # type: ignore[arg-type]


def test_a_credentials_secret_without_its_keys_is_a_backup_error() -> None:
    backup = _backup(gcpCloudSql={"project": "shop", "instance": "orders"})
    with pytest.raises(base.BackupError, match="has no key token"):
        providers.provider_for(backup, cluster=Secrets(creds={"tokn": "x"}), namespace="ns", request_id="r")  # type: ignore[arg-type]
