"""The Cloud SQL provider against a local stub of the Admin API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dbmigrate.backups import base
from dbmigrate.controller import backups
from dbmigrate.controller.backups import gcpcloudsql
from tests.operator import cloudsql_stub


@pytest.fixture
def cloudsql(monkeypatch: pytest.MonkeyPatch) -> Iterator[cloudsql_stub.CloudSql]:
    with cloudsql_stub.serving() as state:
        monkeypatch.setenv("DBMIGRATE_GCP_SQLADMIN_ENDPOINT", state.endpoint)
        yield state


def provider(token: str | None = cloudsql_stub.TOKEN) -> gcpcloudsql.CloudSqlProvider:
    return gcpcloudsql.CloudSqlProvider(
        settings={"project": "shop", "instance": "orders"},
        credentials={"token": token} if token else {},
        request_id="dbm-app-1234abcd-g1a0",
    )


def test_latest_is_the_newest_successful_run(cloudsql: cloudsql_stub.CloudSql) -> None:
    cloudsql.runs = [
        {"id": "1", "status": "SUCCESSFUL", "endTime": "2026-01-01T10:00:00Z"},
        {"id": "2", "status": "SUCCESSFUL", "endTime": "2026-01-01T11:00:00.123Z"},
        {"id": "3", "status": "FAILED", "endTime": "2026-01-01T12:00:00Z"},
    ]
    latest = provider().latest()
    assert latest is not None and latest.taken_at == datetime(2026, 1, 1, 11, 0, 0, 123000, tzinfo=UTC)
    assert "backup run 2" in latest.description


def test_create_starts_once_and_is_pending_until_successful(cloudsql: cloudsql_stub.CloudSql) -> None:
    for _ in range(2):
        with pytest.raises(backups.BackupPending):
            provider().create()
    assert [run["description"] for run in cloudsql.runs] == ["dbm-app-1234abcd-g1a0"]
    cloudsql.complete("dbm-app-1234abcd-g1a0", "2026-01-01T12:00:00Z")
    assert provider().create().taken_at == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_wrong_token_is_a_backup_error(cloudsql: cloudsql_stub.CloudSql) -> None:
    with pytest.raises(base.BackupError, match="401"):
        provider(token="wrong").latest()


def test_no_token_and_no_metadata_server_is_a_backup_error(
    cloudsql: cloudsql_stub.CloudSql, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(base.BackupError, match="metadata server"):
        provider(token=None).latest()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_throttled_or_failing_api_is_passing_trouble(cloudsql: cloudsql_stub.CloudSql, status: int) -> None:
    cloudsql.failing = status
    with pytest.raises(backups.BackupUnavailable, match=str(status)):
        provider().latest()


def test_an_unreachable_api_is_passing_trouble(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBMIGRATE_GCP_SQLADMIN_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(backups.BackupUnavailable, match="unreachable"):
        provider().latest()


def test_permission_denied_needs_a_person(cloudsql: cloudsql_stub.CloudSql) -> None:
    cloudsql.failing = 403
    with pytest.raises(base.BackupError, match="403"):
        provider().latest()
