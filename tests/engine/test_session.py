"""A run's server session: refused on a read-only server or session (a replica, a read-only role) before it takes
the lock or writes anything, and so is its dry run, while the reading actions still work there; and ended by the
server when the runner is killed outright."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from dbmigrate import errors
from dbmigrate.dialects.postgresql import CLIENT_CHECK_MS
from tests.fixtures.databases import MYSQL_ADMIN_URL, execute, query, table_names
from tests.fixtures.migrations import busy, run_cli, start_busy_run, write
from tests.fixtures.polling import wait_for

MIGRATIONS = {"001_a.sql": "CREATE TABLE a (id INTEGER);"}


def test_a_hot_standby_is_refused_but_answers_status(pg_replica_url: str, pg_url: str, tmp_path: Path) -> None:
    write(tmp_path / "migrations", MIGRATIONS)

    refused = run_cli("up", "--database", pg_replica_url, cwd=tmp_path)

    assert refused.returncode == errors.ExitCode.SAFETY_GATE, refused.stdout + refused.stderr
    assert "hot standby" in refused.stdout and "primary" in refused.stdout
    status = run_cli("status", "--database", pg_replica_url, cwd=tmp_path)
    assert status.returncode == 0 and "0 applied, 1 pending" in status.stdout, status.stdout + status.stderr
    plan = run_cli("plan", "--database", pg_replica_url, cwd=tmp_path)  # what the run would meet: a refusal
    assert plan.returncode == errors.ExitCode.SAFETY_GATE and "hot standby" in plan.stdout
    assert table_names(pg_url) == set() and "dbmigrate_history" not in _all_tables(pg_url)


@pytest.mark.parametrize(
    ("fixture", "read_only", "said"),
    [
        ("pg_url", "?options=" + quote("-c default_transaction_read_only=on"), "default_transaction_read_only is on"),
        ("mysql_url", "?init_command=" + quote("SET SESSION TRANSACTION READ ONLY"), "this session is read-only"),
    ],
)
def test_a_read_only_session_is_refused(
    fixture: str, read_only: str, said: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(fixture)
    write(tmp_path / "migrations", MIGRATIONS)

    refused = run_cli("up", "--database", url + read_only, cwd=tmp_path)

    assert refused.returncode == errors.ExitCode.SAFETY_GATE, refused.stdout + refused.stderr
    assert said in refused.stdout and table_names(url) == set()
    assert run_cli("up", "--database", url, cwd=tmp_path).returncode == 0  # the same files, a writable session


def test_a_read_only_mariadb_server_is_refused_although_the_account_could_write(mysql_url: str, tmp_path: Path) -> None:
    """Our test account has every privilege, as migration accounts often do: read_only does not stop it, so without
    the check a migration pointed at a replica would be applied there and break replication."""
    write(tmp_path / "migrations", MIGRATIONS)

    with _server_read_only():
        execute(mysql_url, ["CREATE TABLE probe (id INTEGER)"])  # the danger is real: this account can still write
        refused = run_cli("up", "--database", mysql_url, cwd=tmp_path)

    assert refused.returncode == errors.ExitCode.SAFETY_GATE, refused.stdout + refused.stderr
    assert "read-only" in refused.stdout and "replication" in refused.stdout
    assert table_names(mysql_url) == {"probe"} and "dbmigrate_history" not in _all_tables(mysql_url)


@contextlib.contextmanager
def _server_read_only() -> Iterator[None]:
    """The shared MariaDB server read-only for a moment (the suite runs one test at a time; services.sh also turns
    it back off, should a test be killed in between)."""
    execute(MYSQL_ADMIN_URL, ["SET GLOBAL read_only = ON"])
    try:
        yield
    finally:
        execute(MYSQL_ADMIN_URL, ["SET GLOBAL read_only = OFF"])


def _all_tables(url: str) -> set[str]:
    rows = query(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = " + _schema(url))
    return {str(name) for (name,) in rows}


def _schema(url: str) -> str:
    return "'public'" if url.startswith("postgresql") else "DATABASE()"


def test_the_server_ends_the_statement_of_a_runner_killed_outright(pg_url: str, tmp_path: Path) -> None:
    """SIGKILL (an OOM-killed pod, a lost node) leaves no chance to cancel: without being asked to check, the
    server would run the statement to its end with its locks, whoever is gone."""
    process = start_busy_run(pg_url, tmp_path)

    process.kill()
    process.communicate()

    limit = CLIENT_CHECK_MS / 1000 + 10
    wait_for("the server to end the killed runner's statement", lambda: True if not busy(pg_url) else None, limit)
    assert table_names(pg_url) == {"a"}
