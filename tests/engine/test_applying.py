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
from tests.fixtures.databases import query, table_names
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
        {"001_t.up.sql": "CREATE TABLE t (id INTEGER);", "001_t.down.sql": "DROP TABLE t;\nDROP TABLE missing_table;"},
    )
    assert commands.up(settings(db_url, migrations_dir)).error is None
    failed = commands.down(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))
    assert isinstance(failed.error, errors.MigrationError) and "001_t.down.sql:2" in failed.error.message
    assert table_names(db_url) == {"t"}
    assert query(db_url, "SELECT version FROM dbmigrate_history") == [("1",)]


def test_a_trailing_comment_without_semicolon_does_not_swallow_the_history_write(
    db_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_t.sql": "CREATE TABLE t (id INTEGER) -- no semicolon after this"})
    assert commands.up(settings(db_url, migrations_dir)).error is None
    assert table_names(db_url) == {"t"}
    assert query(db_url, "SELECT version FROM dbmigrate_history") == [("1",)]
    assert commands.up(settings(db_url, migrations_dir)).migrations == []
