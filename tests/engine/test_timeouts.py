"""A migration that meets a busy table gives up its lock request after --lock-timeout and retries later, so the
application's queries are never stuck behind it for longer than that timeout."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

from dbmigrate import commands, dburl, errors, progress
from tests.fixtures.migrations import settings, write


class Recorder(progress.Silent):
    """Progress that keeps the notices (retry messages)."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def notice(self, message: str) -> None:
        self.notices.append(message)


def _engine(url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(dburl.parse(url), poolclass=sqlalchemy.NullPool)


def _hold_and_probe(url: str, *, hold_seconds: float) -> tuple[threading.Thread, list[float], threading.Event]:
    """Connection A holds a read lock on `busy` for ``hold_seconds``; connection B keeps querying it and records
    each query's latency (what an application would feel)."""
    held = threading.Event()
    latencies: list[float] = []

    def hold() -> None:
        with _engine(url).connect() as conn:
            conn.exec_driver_sql("SELECT COUNT(*) FROM busy").all()  # opens the transaction, takes the lock
            held.set()
            time.sleep(hold_seconds)
            conn.rollback()

    def probe() -> None:
        held.wait()
        with _engine(url).connect() as conn:
            deadline = time.monotonic() + hold_seconds + 1.5
            while time.monotonic() < deadline:
                started = time.monotonic()
                conn.exec_driver_sql("SELECT COUNT(*) FROM busy").all()
                conn.rollback()
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)

    holder = threading.Thread(target=hold)
    prober = threading.Thread(target=probe)
    holder.start()
    prober.start()
    held.wait(10)
    return prober, latencies, held


@pytest.mark.parametrize("fixture", ["pg_url", "mysql_url"])
def test_lock_timeout_retries_until_the_table_is_free(
    fixture: str, request: pytest.FixtureRequest, migrations_dir: Path
) -> None:
    url: str = request.getfixturevalue(fixture)
    write(migrations_dir, {"001_busy.sql": "CREATE TABLE busy (id INTEGER);\nINSERT INTO busy VALUES (1);"})
    assert commands.up(settings(url, migrations_dir)).error is None
    write(migrations_dir, {"002_alter.sql": "ALTER TABLE busy ADD COLUMN note VARCHAR(10);"})

    prober, latencies, _ = _hold_and_probe(url, hold_seconds=2.5)
    recorder = Recorder()
    config = settings(url, migrations_dir, lock_timeout=1.0 if fixture == "mysql_url" else 0.3, lock_retries=5)
    started = time.monotonic()
    result = commands.up(config, report=recorder)
    took = time.monotonic() - started
    prober.join()

    assert result.error is None, result.error
    assert [m.version for m in result.migrations] == ["2"]
    assert recorder.notices and all("lock timeout at 002_alter.sql:1" in n for n in recorder.notices)
    assert took >= 2.0  # it really waited for the holder instead of failing
    # The application never waited behind the migration for the whole 2.5 s the table was busy: at most one
    # lock-timeout window (plus scheduling slack on a loaded machine).
    assert max(latencies) < 1.6, latencies


def test_lock_timeout_after_every_retry_exits_4_and_applies_nothing(pg_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_busy.sql": "CREATE TABLE busy (id INTEGER);"})
    commands.up(settings(pg_url, migrations_dir))
    write(migrations_dir, {"002_alter.sql": "ALTER TABLE busy ADD COLUMN note TEXT;"})
    prober, _, _ = _hold_and_probe(pg_url, hold_seconds=3.0)
    config = settings(pg_url, migrations_dir, lock_timeout=0.2, lock_retries=1)
    result = commands.up(config)
    prober.join()
    assert isinstance(result.error, errors.TableLockTimeoutError) and result.exit_code == 4
    assert "lock timeout" in result.error.message or "canceling statement due to lock timeout" in result.error.message
    assert commands.status(settings(pg_url, migrations_dir)).details["status"]["applied"] == ["1"]


def test_statement_timeout_stops_a_runaway_statement(pg_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_slow.sql": "SELECT pg_sleep(5);"})
    started = time.monotonic()
    result = commands.up(settings(pg_url, migrations_dir, statement_timeout=0.5))
    assert time.monotonic() - started < 4
    assert isinstance(result.error, errors.MigrationError)
    assert "statement timeout" in result.error.message
