"""`verify` and the checks after every run: history against files, catalog problems, expectations, drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from dbmigrate import commands, errors
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import execute
from tests.fixtures.migrations import settings, write


def test_verify_reports_a_valid_schema_with_its_fingerprint(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, name VARCHAR(20));"})
    applied = commands.up(settings(db_url, migrations_dir))
    result = commands.verify(settings(db_url, migrations_dir))
    assert result.error is None
    verify = result.details["verify"]
    assert verify["ok"] is True and verify["fingerprint"].startswith("sha256:")
    assert verify["fingerprint"] == applied.details["verify"]["fingerprint"] == verify["recorded"]
    drift = result.check("drift")
    assert drift is not None and drift.ok is True


def test_drift_is_reported_and_refused_with_fail_on_drift(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"})
    commands.up(settings(db_url, migrations_dir))
    execute(db_url, ["CREATE TABLE hand_made (id INTEGER)"])

    verified = commands.verify(settings(db_url, migrations_dir))
    drift = verified.check("drift")
    assert drift is not None and drift.ok is False and verified.error is None
    assert isinstance(commands.verify(settings(db_url, migrations_dir), fail_on_drift=True).error, errors.DriftError)

    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    refused = commands.up(settings(db_url, migrations_dir), options=RunOptions(fail_on_drift=True))
    assert isinstance(refused.error, errors.DriftError) and refused.exit_code == 5
    assert refused.migrations == []
    warned = commands.up(settings(db_url, migrations_dir))
    assert warned.error is None and any(c.name == "drift" and c.warning for c in warned.checks)


def test_expected_fingerprint_mismatch_fails_verification(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    commands.up(settings(sqlite_url, migrations_dir))
    result = commands.verify(settings(sqlite_url, migrations_dir), expected="sha256:" + "1" * 64)
    assert isinstance(result.error, errors.DriftError)
    assert "differs from the expected" in result.details["verify"]["problems"][0]


def test_invalid_index_left_by_a_failed_concurrent_build_is_found(pg_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (v INTEGER);\nINSERT INTO a VALUES (1), (1);"})
    commands.up(settings(pg_url, migrations_dir))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        execute(pg_url, ["CREATE UNIQUE INDEX CONCURRENTLY a_v_key ON a (v)"])
    result = commands.verify(settings(pg_url, migrations_dir))
    assert isinstance(result.error, errors.DriftError)
    assert any("a_v_key" in problem for problem in result.details["verify"]["problems"])


def test_gaps_in_history_are_integrity_problems(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);", "003_c.sql": "CREATE TABLE c (id INTEGER);"})
    commands.up(settings(sqlite_url, migrations_dir))
    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    result = commands.verify(settings(sqlite_url, migrations_dir))
    assert isinstance(result.error, errors.DriftError)
    assert result.details["verify"]["problems"] == ["002_b.sql was skipped: it is older than the newest applied one"]
