"""PostgreSQL runs of transactional migrations are queued a few ahead (libpq pipeline mode). What users must still
see: nothing after a failed migration runs although it was already sent, what committed before it stays, the live
report follows the server, and lock-timeout retries, COPY and lost connections behave as without the queue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from dbmigrate import commands, dburl, errors, progress
from dbmigrate.dialects import pgpipeline
from dbmigrate.migrating import RunOptions
from dbmigrate.sqltext import Statement
from tests.fixtures.databases import query, table_names
from tests.fixtures.migrations import settings, write


class Events(progress.Silent):
    """Progress that keeps the order of what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def migration_started(self, *, index: int, total: int, label: str) -> None:
        self.events.append(("migration", label))

    def statement_started(self, statement: Statement) -> None:
        self.events.append(("statement", statement.line))

    def notice(self, message: str) -> None:
        self.events.append(("notice", message))


def _psycopg(url: str) -> psycopg.Connection:
    parsed = dburl.parse(url)
    return psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password, dbname=parsed.database,
        autocommit=True,
    )  # fmt: skip


def _tables(count: int, *, broken: int | None = None) -> dict[str, str]:
    files = {}
    for n in range(1, count + 1):
        second = "INSERT INTO missing_table VALUES (1);" if n == broken else f"INSERT INTO t{n} VALUES ({n});"
        files[f"{n:03d}_t{n}.sql"] = f"CREATE TABLE t{n} (id INTEGER);\n{second}"
    return files


def test_a_failure_deep_in_the_queue_keeps_what_committed_and_runs_nothing_queued_after_it(
    pg_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, _tables(30, broken=17))
    events = Events()
    result = commands.up(settings(pg_url, migrations_dir), report=events)

    assert isinstance(result.error, errors.MigrationError)
    assert "017_t17.sql:2: INSERT INTO missing_table VALUES (1)" in result.error.message
    # The rollback the run attempts next needs down parts, which these migrations lack: the 16 stay applied.
    assert [m.status for m in result.migrations][:17] == ["applied"] * 16 + ["failed"]
    assert table_names(pg_url) == {f"t{n}" for n in range(1, 17)}
    versions = [int(v) for (v,) in query(pg_url, "SELECT version FROM dbmigrate_history WHERE kind = 'migration'")]
    assert sorted(versions) == list(range(1, 17))
    # Every statement was announced after its own migration, two per migration, the failed one included.
    started = [label for kind, label in events.events if kind == "migration"]
    assert started == [f"{n:03d}_t{n}.sql" for n in range(1, 18)]
    lines = [value for kind, value in events.events if kind == "statement"]
    assert lines == [1, 2] * 17

    write(migrations_dir, _tables(30))  # fixed: the same connection-level state allows a clean second run
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    assert len(query(pg_url, "SELECT version FROM dbmigrate_history WHERE kind = 'migration'")) == 30


def test_queued_transactions_behind_a_failure_never_run_although_sent(pg_url: str) -> None:
    with _psycopg(pg_url) as conn:
        conn.execute("CREATE TABLE seen (n INTEGER)")
        commands_of = [[b"BEGIN", f"INSERT INTO seen VALUES ({n})".encode(), b"COMMIT"] for n in range(5)]
        commands_of[2][1] = b"INSERT INTO seen VALUES (1/0)"
        seen: list[tuple[int, int]] = []
        pipeline = pgpipeline.Pipeline(conn, window=8)
        with pipeline:
            transactions = [[pgpipeline.Command(sql) for sql in tx] for tx in commands_of]
            results = list(pipeline.run(transactions, running=lambda i, c: seen.append((i, c))))
        assert [type(r).__name__ for r in results] == ["Completed", "Completed", "Failed"]
        failed = results[-1]
        assert isinstance(failed, pgpipeline.Failed) and (failed.index, failed.command) == (2, 1)
        assert isinstance(failed.error, psycopg.errors.DivisionByZero)
        assert seen == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
        assert conn.execute("SELECT n FROM seen ORDER BY n").fetchall() == [(0,), (1,)]
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # usable as before


def test_a_lock_timeout_in_the_middle_of_the_queue_is_retried_from_that_migration(
    pg_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_busy.sql": "CREATE TABLE busy (id INTEGER);"})
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    files = _tables(8)
    files["005_t5.sql"] = "ALTER TABLE busy ADD COLUMN note TEXT;"
    write(migrations_dir, {name.replace("00", "10", 1): sql for name, sql in files.items()})
    held = threading.Event()

    def hold() -> None:
        with _psycopg(pg_url) as conn, conn.transaction():
            conn.execute("SELECT COUNT(*) FROM busy")
            held.set()
            time.sleep(1.2)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    events = Events()
    result = commands.up(settings(pg_url, migrations_dir, lock_timeout=0.3, lock_retries=6), report=events)
    holder.join()

    assert result.error is None, result.error
    assert [m.version for m in result.migrations] == [str(v) for v in range(101, 109)]
    notices = [value for kind, value in events.events if kind == "notice"]
    assert notices and all("lock timeout at 105_t5.sql:1" in str(n) for n in notices)
    assert "note" in {c for (c,) in query(pg_url, "SELECT column_name FROM information_schema.columns "
                                                  "WHERE table_name = 'busy'")}  # fmt: skip
    assert len(query(pg_url, "SELECT version FROM dbmigrate_history")) == 9


def test_a_copy_from_stdin_migration_fails_cleanly_after_the_queued_ones(pg_url: str, migrations_dir: Path) -> None:
    files = _tables(3)
    files["004_copy.sql"] = "CREATE TABLE c (n INTEGER);\n-- data\nCOPY c FROM STDIN;"
    files["005_after.sql"] = "CREATE TABLE after_copy (n INTEGER);"
    write(migrations_dir, files)
    result = commands.up(settings(pg_url, migrations_dir), options=RunOptions(rollback_on_failure=False))
    assert isinstance(result.error, errors.MigrationError)
    assert "004_copy.sql:3: COPY with STDIN or STDOUT cannot run in a migration" in result.error.message
    assert table_names(pg_url) == {"t1", "t2", "t3"}
    assert len(query(pg_url, "SELECT version FROM dbmigrate_history")) == 3


def test_down_several_through_the_queue_with_a_non_transactional_migration_between(
    pg_url: str, migrations_dir: Path
) -> None:
    files = {}
    for n in range(1, 6):
        files[f"00{n}_t{n}.up.sql"] = f"CREATE TABLE t{n} (id INTEGER);"
        files[f"00{n}_t{n}.down.sql"] = f"DROP TABLE t{n};"
    files["003_t3.up.sql"] = "-- dbmigrate:no-transaction\nCREATE INDEX CONCURRENTLY i2 ON t2 (id);"
    files["003_t3.down.sql"] = "-- dbmigrate:no-transaction\nDROP INDEX CONCURRENTLY i2;"
    write(migrations_dir, files)
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    assert {name for (name,) in query(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 't2'")} == {"i2"}

    options = RunOptions(steps=4, allow_destructive=True)
    result = commands.down(settings(pg_url, migrations_dir), options=options)
    assert result.error is None, result.error
    assert [m.version for m in result.migrations] == ["5", "4", "3", "2"]
    assert table_names(pg_url) == {"t1"}
    assert query(pg_url, "SELECT version FROM dbmigrate_history") == [("1",)]


def test_a_lost_connection_while_queued_is_a_migration_error_not_a_crash(pg_url: str, migrations_dir: Path) -> None:
    files = _tables(3)
    files["002_t2.sql"] = "SELECT pg_sleep(5);"
    write(migrations_dir, files)

    def kill() -> None:
        deadline = time.monotonic() + 10
        with _psycopg(pg_url) as conn:
            while time.monotonic() < deadline:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%'"
                ).fetchall()
                if killed:
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill)
    killer.start()
    result = commands.up(settings(pg_url, migrations_dir))
    killer.join()
    assert isinstance(result.error, errors.MigrationError)
    assert "002_t2.sql:1" in result.error.message and "terminat" in result.error.message
    assert query(pg_url, "SELECT version FROM dbmigrate_history") == [("1",)]


class FailsAfterFirst(progress.Silent):
    """Progress whose output breaks after the first migration (a closed pipe, say), while others are queued."""

    def migration_finished(self, *, seconds: float) -> None:
        raise BrokenPipeError("stdout closed")


def test_an_interrupted_run_cancels_the_queue_instead_of_running_it(pg_url: str, migrations_dir: Path) -> None:
    files = _tables(6)
    files["002_t2.sql"] = "SELECT pg_sleep(3);"
    write(migrations_dir, files)
    started = time.monotonic()
    with pytest.raises(BrokenPipeError):
        commands.up(settings(pg_url, migrations_dir), report=FailsAfterFirst())
    assert time.monotonic() - started < 2.5  # the sleeping migration was cancelled, not waited for
    assert query(pg_url, "SELECT version FROM dbmigrate_history") == [("1",)]
    assert table_names(pg_url) == {"t1"}


class Timeline(progress.Silent):
    """When each statement was announced, and when its migration finished."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.events: list[tuple[str, object, float]] = []

    def statement_started(self, statement: Statement) -> None:
        self.events.append(("statement", statement.line, time.monotonic() - self.started))

    def migration_finished(self, *, seconds: float) -> None:
        self.events.append(("finished", None, time.monotonic() - self.started))


@pytest.mark.parametrize(
    ("sql", "long_line"),
    [("SELECT pg_sleep(1.5);", 1), ("SELECT 1;\nSELECT pg_sleep(1.5);\nSELECT 2;", 2)],
    ids=["only-statement", "between-two"],
)
def test_a_long_statement_is_announced_while_it_runs_not_after(
    pg_url: str, migrations_dir: Path, sql: str, long_line: int
) -> None:
    write(migrations_dir, {"000_quick.sql": "SELECT 0;", "001_slow.sql": sql})
    timeline = Timeline()
    assert commands.up(settings(pg_url, migrations_dir), report=timeline).error is None
    announced = [at for kind, line, at in timeline.events if kind == "statement" and line == long_line]
    finished = [at for kind, _, at in timeline.events if kind == "finished"]
    # The server sends results as they are done (not with the transaction's last one): the long statement is
    # shown as running during its 1.5 s, and whatever follows it only afterwards.
    assert finished[-1] - announced[-1] >= 1.4
    after = [at for kind, line, at in timeline.events if kind == "statement" and line > long_line]
    assert all(at - announced[-1] >= 1.4 for at in after)
