"""The run lock: a second runner waits and times out naming the holder, a dead runner's lock goes away, and ten
concurrent runners apply each migration exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import pytest
import sqlalchemy

from dbmigrate import commands, database, dburl, errors
from tests.fixtures.databases import PASSWORD, query, table_names, through_pgbouncer
from tests.fixtures.migrations import run_cli, settings, write

HOLDER_WORDS = {"postgresql": "pid", "mysql": "connection", "sqlite": "pid"}


def test_second_runner_times_out_naming_the_holder(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    config = settings(db_url, migrations_dir, lock_wait=1.0)
    with database.connect(config.url) as (conn, dialect):
        dialect.acquire_lock(conn, key="dbmigrate:dbmigrate_history", timeout=5)
        started = time.monotonic()
        result = commands.up(config)
        waited = time.monotonic() - started
        dialect.release_lock(conn, key="dbmigrate:dbmigrate_history")
    assert isinstance(result.error, errors.LockTimeoutError) and result.exit_code == 4
    assert f"held by {HOLDER_WORDS[dialect.name]}" in result.error.message
    if dialect.name == "postgresql":  # the holder sits idle: say how to end it, should it be a forgotten session
        assert "idle for" in result.error.message and "pg_terminate_backend(" in result.error.message
    assert 0.9 <= waited < 5
    assert commands.up(config).error is None


_HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from dbmigrate import database, dburl
    with database.connect(dburl.parse(sys.argv[1])) as (conn, dialect):
        dialect.acquire_lock(conn, key="dbmigrate:dbmigrate_history", timeout=5)
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_lock_of_a_killed_runner_is_released_by_the_database(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        blocked = commands.up(settings(db_url, migrations_dir, lock_wait=0.5))
        assert isinstance(blocked.error, errors.LockTimeoutError)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        result = commands.up(settings(db_url, migrations_dir, lock_wait=10.0))
        assert result.error is None and [m.version for m in result.migrations] == ["1"]
    finally:
        holder.kill()
        holder.wait()


def test_create_index_concurrently_under_the_session_lock_does_not_deadlock(pg_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_t.sql": "CREATE TABLE t (id INTEGER, v TEXT);\n"
            "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g;",
            "002_idx.sql": "-- dbmigrate:no-transaction\nCREATE INDEX CONCURRENTLY t_v_idx ON t (v);",
        },
    )
    result = commands.up(settings(pg_url, migrations_dir, statement_timeout=20.0))
    assert result.error is None, result.error
    engine = sqlalchemy.create_engine(dburl.parse(pg_url), poolclass=sqlalchemy.NullPool)
    with engine.connect() as conn:
        valid = conn.exec_driver_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v_idx'::regclass").scalar()
    engine.dispose()
    assert valid is True


@pytest.mark.timeout(180)
def test_ten_concurrent_runners_apply_each_migration_exactly_once(db_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    files = {"000_log.sql": "CREATE TABLE applied_log (version INTEGER NOT NULL);"}
    for n in range(1, 21):
        files[f"{n:03d}_m{n}.sql"] = f"CREATE TABLE t{n} (id INTEGER);\nINSERT INTO applied_log VALUES ({n});"
    write(directory, files)

    def run(_: int) -> subprocess.CompletedProcess[str]:
        return run_cli("up", "--database", db_url, "--lock-wait", "120", cwd=tmp_path)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(run, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stdout + r.stderr for r in results if r.returncode]
    applied_counts = [r.stdout.count("✓ Complete") for r in results]
    assert sum(applied_counts) == 21
    engine = sqlalchemy.create_engine(dburl.parse(db_url), poolclass=sqlalchemy.NullPool)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT version, COUNT(*) FROM applied_log GROUP BY version").all()
        history = conn.exec_driver_sql("SELECT COUNT(*) FROM dbmigrate_history").scalar()
    engine.dispose()
    assert sorted(rows) == [(n, 1) for n in range(1, 21)]
    assert history == 21


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_a_pooler_is_refused_before_the_lock_is_taken_unless_declared_session_mode(
    mode: str, pg_url: str, tmp_path: Path
) -> None:
    """Through PgBouncer in transaction mode the session lock outlives the run (and blocks every later one), so a
    pooler is refused unless the user says it is in session mode, which is then safe."""
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    pooled_pg_url = through_pgbouncer(pg_url, mode)

    refused = run_cli("up", "--database", pooled_pg_url, cwd=tmp_path)

    assert refused.returncode == errors.ExitCode.SAFETY_GATE, refused.stdout + refused.stderr
    assert "connection pooler" in refused.stdout and "--session-pooler" in refused.stdout
    assert f":{PASSWORD}@" not in refused.stdout + refused.stderr  # the URL is shown redacted, if at all
    assert _advisory_locks(pg_url) == 0 and "a" not in table_names(pg_url)
    assert run_cli("status", "--database", pooled_pg_url, cwd=tmp_path).returncode == 0  # read-only: no lock

    if mode == "session":
        allowed = run_cli("up", "--database", pooled_pg_url, "--session-pooler", cwd=tmp_path)
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert "a" in table_names(pg_url) and _advisory_locks(pg_url) == 0


_ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _advisory_locks(url: str) -> int:
    """Advisory locks held in ``url``'s database, by any session (pooled ones included)."""
    ((held,),) = query(url, _ADVISORY_LOCKS)
    return int(cast(int, held))


@pytest.mark.parametrize(
    ("fixture", "release_all"),
    [("pg_url", "SELECT pg_advisory_unlock_all();"), ("mysql_url", "DO RELEASE_ALL_LOCKS();")],
)
def test_a_run_whose_lock_was_released_under_it_says_so(
    fixture: str, release_all: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(fixture)
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);", "002_b.sql": release_all})

    result = run_cli("up", "--database", url, "--termination-log", "run.json", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr  # both applied and recorded
    assert "Run lock: ⚠ the run lock was no longer held by this session" in result.stdout
    summary = json.loads((tmp_path / "run.json").read_text())  # what the operator reads, and posts as an Event
    assert [warning["name"] for warning in summary["warnings"]] == ["run_lock"]
    quiet = run_cli("up", "--database", url, "--termination-log", "quiet.json", cwd=tmp_path)
    assert quiet.returncode == 0 and "Run lock" not in quiet.stdout
    assert json.loads((tmp_path / "quiet.json").read_text())["warnings"] == []
