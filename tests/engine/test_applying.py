"""One migration's transaction: which statement failed wherever it sits, and timings that cover every statement.

On PostgreSQL the statements are queued in a pipeline with BEGIN, the history row and COMMIT (see
tests/engine/dialects/test_pgpipeline.py), on SQLite they run one by one: a failure must be pinned on the right
statement either way.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dbmigrate import commands, errors
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import execute, query, table_names
from tests.fixtures.migrations import settings, write

BROKEN = "INSERT INTO missing_table VALUES (1);"


@pytest.fixture
def pg_url_without_pipeline(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """PostgreSQL as with a libpq older than 14: statements go one by one, as on SQLite."""
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    return pg_url


@pytest.mark.parametrize(
    ("statements", "line"),
    [
        ([BROKEN], 1),
        ([BROKEN, "CREATE TABLE after (id INTEGER);"], 1),
        (["CREATE TABLE before (id INTEGER);", BROKEN], 2),
        (["CREATE TABLE before (id INTEGER);", "INSERT INTO before VALUES (1);", BROKEN], 3),
        (["CREATE TABLE before (id INTEGER);", BROKEN, "CREATE TABLE after (id INTEGER);"], 2),
    ],
    ids=["only", "first", "last-of-two", "last-of-three", "middle"],
)
@pytest.mark.parametrize("url_fixture", ["pg_url", "pg_url_without_pipeline", "sqlite_url"])
def test_the_failed_statement_is_named_wherever_it_sits_and_nothing_is_kept(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str, statements: list[str], line: int
) -> None:
    url: str = request.getfixturevalue(url_fixture)
    write(migrations_dir, {"001_ok.sql": "CREATE TABLE ok (id INTEGER);", "002_broken.sql": "\n".join(statements)})
    result = commands.up(settings(url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError)
    assert f"002_broken.sql:{line}: INSERT INTO missing_table VALUES (1)" in result.error.message
    assert "rolled back" in result.error.message
    assert table_names(url) == {"ok"}
    assert query(url, "SELECT version FROM dbmigrate_history") == [("1",)]
    retried = commands.up(settings(url, migrations_dir))  # the connection is usable and the state clean after it
    assert "002_broken.sql" in str(retried.error) and table_names(url) == {"ok"}


@pytest.mark.parametrize("url_fixture", ["pg_url", "pg_url_without_pipeline"])
@pytest.mark.parametrize("statements", [1, 3], ids=["one-statement", "three-statements"])
def test_history_time_covers_every_statement_of_the_migration(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str, statements: int
) -> None:
    pg_url: str = request.getfixturevalue(url_fixture)
    sleeps = "\n".join(["SELECT pg_sleep(0.1);"] * (statements - 1) + ["SELECT pg_sleep(0.3);"])
    write(migrations_dir, {"001_slow.sql": sleeps})
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    [(elapsed_ms,)] = query(pg_url, "SELECT execution_ms FROM dbmigrate_history")
    assert 300 + 100 * (statements - 1) <= elapsed_ms < 5000


@pytest.mark.parametrize("url_fixture", ["pg_url", "sqlite_url"])
def test_a_failed_down_keeps_the_table_and_its_history_row(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str
) -> None:
    db_url: str = request.getfixturevalue(url_fixture)
    write(
        migrations_dir,
        {
            "001_t.up.sql": "CREATE TABLE t (id INTEGER);",
            "001_t.down.sql": "DROP TABLE t;\nINSERT INTO missing_table VALUES (1);",
        },
    )
    assert commands.up(settings(db_url, migrations_dir)).error is None
    failed = commands.down(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))
    assert isinstance(failed.error, errors.MigrationError) and "001_t.down.sql:2" in failed.error.message
    assert table_names(db_url) == {"t"}
    assert query(db_url, "SELECT version FROM dbmigrate_history") == [("1",)]


def test_a_data_migration_on_mysql_keeps_nothing_when_it_fails_half_way(mysql_url: str, migrations_dir: Path) -> None:
    """Only DDL commits implicitly: a migration of data changes alone runs in one transaction, as on PostgreSQL,
    so a transfer that fails half-way moves no money."""
    write(migrations_dir, {"001_acct.sql": "CREATE TABLE acct (id INT PRIMARY KEY, bal INT);"})
    assert commands.up(settings(mysql_url, migrations_dir)).error is None
    execute(mysql_url, ["INSERT INTO acct VALUES (1, 100), (2, 0)"])
    move = "UPDATE acct SET bal = bal - 50 WHERE id = 1;\nUPDATE acct SET bal = bal + 50 WHERE id = 2;\n"
    write(migrations_dir, {"002_move.sql": move + BROKEN})
    result = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError) and not result.left_dirty
    assert "002_move.sql:3" in result.error.message and "nothing from it was kept (rolled back)" in result.error.message
    assert query(mysql_url, "SELECT id, bal FROM acct ORDER BY id") == [(1, 100), (2, 0)]
    assert query(mysql_url, "SELECT version, dirty FROM dbmigrate_history") == [("1", 0)]


def test_statements_in_mysql_executable_comments_run(mysql_url: str, migrations_dir: Path) -> None:
    """mysqldump writes `/*!40101 SET ... */;` lines and people copy them into migrations: the server runs what
    such a comment holds, so it is a statement, not a comment to skip."""
    write(
        migrations_dir,
        {
            "001_t.sql": "CREATE TABLE t (id INT);\n/*!40000 ALTER TABLE t ADD COLUMN n INT */;\n"
            "/*M!100100 CREATE TABLE m (id INT) */;\nINSERT INTO t VALUES (1, 2);",
        },
    )
    result = commands.up(settings(mysql_url, migrations_dir))
    assert result.error is None
    assert table_names(mysql_url) == {"t", "m"} and query(mysql_url, "SELECT id, n FROM t") == [(1, 2)]


def test_a_trailing_comment_without_semicolon_does_not_swallow_the_history_write(
    db_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_t.sql": "CREATE TABLE t (id INTEGER) -- no semicolon after this"})
    assert commands.up(settings(db_url, migrations_dir)).error is None
    assert table_names(db_url) == {"t"}
    assert query(db_url, "SELECT version FROM dbmigrate_history") == [("1",)]
    assert commands.up(settings(db_url, migrations_dir)).migrations == []


COMMIT_MIDWAY = "CREATE TABLE a (id INTEGER);\nCOMMIT;\nCREATE TABLE b (id INTEGER);"


@pytest.mark.parametrize("url_fixture", ["pg_url", "pg_url_without_pipeline", "sqlite_url"])
@pytest.mark.parametrize("dry_run", [True, False], ids=["plan", "up"])
def test_a_commit_midway_is_refused_before_anything_runs(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str, dry_run: bool
) -> None:
    """It would commit the first half and run the rest outside any transaction: half-applied, and kept even by a
    dry run that promises to roll everything back."""
    url: str = request.getfixturevalue(url_fixture)
    write(migrations_dir, {"001_ok.sql": "CREATE TABLE ok (id INTEGER);", "002_split.sql": COMMIT_MIDWAY})
    result = commands.up(settings(url, migrations_dir), options=RunOptions(dry_run=dry_run))
    assert isinstance(result.error, errors.UsageError)
    assert "002_split.sql:2: `COMMIT` starts or ends a transaction inside the migration" in result.error.message
    assert table_names(url) == set()  # not even 001: the refusal comes before the first migration runs


@pytest.mark.parametrize("url_fixture", ["pg_url", "pg_url_without_pipeline", "sqlite_url"])
def test_a_begin_commit_around_the_whole_file_gives_way_to_ours(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str
) -> None:
    """golang-migrate and psql users wrap files in BEGIN … COMMIT themselves; the file stays atomic here."""
    url: str = request.getfixturevalue(url_fixture)
    wrapped = f"-- written for psql\nBEGIN;\nCREATE TABLE a (id INTEGER);\n{BROKEN}\nCOMMIT;"
    write(migrations_dir, {"001_wrapped.sql": wrapped})
    failed = commands.up(settings(url, migrations_dir))
    assert isinstance(failed.error, errors.MigrationError) and "001_wrapped.sql:4" in failed.error.message
    assert table_names(url) == set()  # CREATE TABLE a was rolled back with the failed INSERT
    write(migrations_dir, {"001_wrapped.sql": "START TRANSACTION;\nCREATE TABLE a (id INTEGER);\nCOMMIT;"})
    assert commands.up(settings(url, migrations_dir)).error is None
    assert table_names(url) == {"a"}


TRIGGERS = {
    "sqlite_url": "CREATE TRIGGER logged AFTER INSERT ON x BEGIN\n  INSERT INTO log VALUES (NEW.id);\n"
    "  INSERT INTO log VALUES (NEW.id + 1);\nEND;",
    "mysql_url": "CREATE TRIGGER logged AFTER INSERT ON x FOR EACH ROW BEGIN\n  IF NEW.id > 0 THEN\n"
    "    INSERT INTO log VALUES (CASE WHEN NEW.id > 1 THEN NEW.id ELSE 0 END);\n  END IF;\n"
    "  INSERT INTO log VALUES (NEW.id + 1);\nEND;",
}


@pytest.mark.parametrize("url_fixture", TRIGGERS)
def test_a_trigger_with_a_begin_end_body_is_one_statement(
    request: pytest.FixtureRequest, migrations_dir: Path, url_fixture: str
) -> None:
    url: str = request.getfixturevalue(url_fixture)
    tables = "CREATE TABLE x (id INTEGER);\nCREATE TABLE log (id INTEGER);\n"
    write(migrations_dir, {"001_trigger.sql": tables + TRIGGERS[url_fixture] + "\nINSERT INTO x VALUES (5);"})
    result = commands.up(settings(url, migrations_dir))
    assert result.error is None, result.error
    assert sorted(query(url, "SELECT id FROM log")) == [(5,), (6,)]


def test_create_index_concurrently_in_a_transactional_file_is_refused_before_anything_runs(
    pg_url: str, migrations_dir: Path
) -> None:
    index = "CREATE INDEX CONCURRENTLY a_id ON a (id);"
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);", "002_index.sql": index})
    refused = commands.up(settings(pg_url, migrations_dir))
    assert isinstance(refused.error, errors.UsageError) and "cannot run inside a transaction" in refused.error.message
    assert table_names(pg_url) == set()
    write(migrations_dir, {"002_index.sql": f"-- dbmigrate:no-transaction\n{index}"})
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    assert query(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'a'") == [("a_id",)]


def test_a_statement_the_database_refuses_in_a_transaction_gets_the_directive_as_hint(
    pg_url: str, migrations_dir: Path
) -> None:
    """For those not recognised before the run (here DISCARD ALL), the database's refusal gets the same hint."""
    write(migrations_dir, {"001_discard.sql": "DISCARD ALL;"})
    failed = commands.up(settings(pg_url, migrations_dir))
    assert isinstance(failed.error, errors.MigrationError)
    assert "cannot run inside a transaction block" in failed.error.message
    assert failed.error.hint is not None and "-- dbmigrate:no-transaction" in failed.error.hint


def test_a_migration_emptying_the_search_path_leaves_dbmigrates_tables_where_they_are(
    pg_url: str, migrations_dir: Path
) -> None:
    """pg_dump output pasted as a migration starts so: the history write then failed (relation not found)."""
    pg_dump_style = "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.t (id INTEGER);"
    write(migrations_dir, {"001_dump.sql": pg_dump_style, "002_next.sql": "CREATE TABLE public.u (id INTEGER);"})
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    assert query(pg_url, "SELECT version FROM public.dbmigrate_history ORDER BY version") == [("1",), ("2",)]
    verified = commands.verify(settings(pg_url, migrations_dir))  # a new session: same names, so no drift
    drift = verified.check("drift")
    assert verified.error is None and drift is not None and drift.ok is True, verified.checks


def test_a_migration_switching_database_leaves_dbmigrates_tables_where_they_are(
    mysql_url: str, migrations_dir: Path
) -> None:
    other = mysql_url.rpartition("/")[2] + "_other"
    switching = f"CREATE DATABASE `{other}`;\nUSE `{other}`;\nCREATE TABLE t (id INTEGER);"
    write(migrations_dir, {"001_switch.sql": switching})
    try:
        assert commands.up(settings(mysql_url, migrations_dir)).error is None
        assert query(mysql_url, "SELECT version FROM dbmigrate_history") == [("1",)]
        verified = commands.verify(settings(mysql_url, migrations_dir))
        drift = verified.check("drift")
        assert verified.error is None and drift is not None and drift.ok is True, verified.checks
    finally:
        execute(mysql_url, [f"DROP DATABASE IF EXISTS `{other}`"])
