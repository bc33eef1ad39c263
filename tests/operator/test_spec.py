"""Parsing the DatabaseMigration spec: defaults, the two Secret forms, and rules the CRD also enforces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dbmigrate.controller import spec as specs

MINIMAL: dict[str, Any] = {
    "database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
    "migrations": {"configMapRef": {"name": "m"}},
    "backup": {"policy": "Skip"},
}


def test_defaults_match_the_crd() -> None:
    mig = specs.parse(MINIMAL)
    assert (mig.target, mig.allow_down, mig.dry_run) == ("latest", False, False)
    assert mig.backup.max_age == timedelta(hours=1) and mig.backup.gate_policy == "skip"
    assert mig.backup.provider is None
    assert (mig.safety.destructive, mig.safety.lock_timeout_seconds) == ("RequireApproval", 5)
    assert mig.safety.statement_timeout_seconds is None and mig.safety.rollback_on_failure
    assert mig.database.secret_keys() == ["url"] and mig.database.session_pooler is False


def test_host_keys_form_maps_each_key_to_its_variable() -> None:
    ref = {"name": "db", "hostKey": "h", "databaseKey": "d", "userKey": "u", "passwordKey": "p"}
    mig = specs.parse({**MINIMAL, "database": {"engine": "mysql", "secretRef": ref}})
    assert dict(mig.database.part_keys) == {
        "DBMIGRATE_DB_HOST": "h",
        "DBMIGRATE_DB_NAME": "d",
        "DBMIGRATE_DB_USER": "u",
        "DBMIGRATE_DB_PASSWORD": "p",
    }
    assert mig.database.url_key is None and mig.database.secret_keys() == ["h", "d", "u", "p"]


def test_durations_round_up_to_whole_seconds() -> None:
    mig = specs.parse({**MINIMAL, "safety": {"lockTimeout": "0.5s", "statementTimeout": "1m30s"}})
    assert mig.safety.lock_timeout_seconds == 1 and mig.safety.statement_timeout_seconds == 90


def test_provider_is_the_one_named() -> None:
    backup = {"policy": "CreateIfStale", "awsRds": {"dbInstanceIdentifier": "x", "region": "eu-west-1"}}
    mig = specs.parse({**MINIMAL, "backup": backup})
    assert (mig.backup.provider, mig.backup.gate_policy) == ("awsRds", "create")
    assert mig.backup.provider_spec["region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"database": {"engine": "postgresql", "secretRef": {"name": "db"}}}, "either urlKey"),
        ({"migrations": {}}, "exactly one of configMapRef and image"),
        ({"backup": {"policy": "Require"}}, "exactly one provider"),
        ({"backup": {"policy": "Skip", "maxAge": "soon"}}, "invalid duration"),
        ({"safety": {"destructive": "Sometimes"}}, "not one of"),
    ],
)
def test_broken_rules_raise_spec_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(specs.SpecError, match=message):
        specs.parse({**MINIMAL, **change})
