"""The actions on real PostgreSQL, MariaDB and SQLite: apply, revert, targets, history, drift, repair."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from dbmigrate import commands, dburl, errors
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import query, table_names
from tests.fixtures.migrations import run_cli, settings, write

THREE = {
    "001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));",
    "001_users.down.sql": "DROP TABLE users;",
    "002_posts.up.sql": "CREATE TABLE posts (id INTEGER PRIMARY KEY, body VARCHAR(50));\n"
    "INSERT INTO posts (id, body) VALUES (1, '50% off: :today; -- not a comment');",
    "002_posts.down.sql": "DROP TABLE posts;",
    "003_tags.up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);",
    "003_tags.down.sql": "DROP TABLE tags;",
}


def test_up_applies_everything_once_with_history_and_timings(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    result = commands.up(settings(db_url, migrations_dir))
    assert result.error is None
    assert [(m.version, m.status) for m in result.migrations] == [
        ("1", "applied"),
        ("2", "applied"),
        ("3", "applied"),
    ]
    assert table_names(db_url) == {"users", "posts", "tags"}
    assert query(db_url, "SELECT body FROM posts") == [("50% off: :today; -- not a comment",)]

    again = commands.up(settings(db_url, migrations_dir))
    assert again.error is None and again.migrations == [] and not again.history_updated

    rows = commands.history_rows(settings(db_url, migrations_dir)).details["history"]
    assert [r["version"] for r in rows] == ["1", "2", "3"]
    assert all(len(r["checksum"]) == 64 and r["success"] and not r["dirty"] for r in rows)
    assert all(r["execution_ms"] >= 0 and r["applied_by"].startswith("dbmigrate@") for r in rows)


def test_up_to_target_then_status(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    assert commands.up(settings(db_url, migrations_dir), options=RunOptions(target="002")).error is None
    assert table_names(db_url) == {"users", "posts"}
    status = commands.status(settings(db_url, migrations_dir)).details["status"]
    assert status["current_version"] == "2"
    assert status["applied"] == ["1", "2"]
    assert [p["file"] for p in status["pending"]] == ["003_tags.up.sql"]


def test_unknown_target_is_a_usage_error_and_applies_nothing(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    result = commands.up(settings(db_url, migrations_dir), options=RunOptions(target="7", allow_destructive=True))
    assert isinstance(result.error, errors.UsageError) and "unknown target version 7" in result.error.message
    assert result.exit_code == 2
    assert table_names(db_url) == set()


def test_down_one_step_steps_and_target(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    commands.up(settings(db_url, migrations_dir))
    one = commands.down(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))
    assert [(m.version, m.status, m.file) for m in one.migrations] == [("3", "reverted", "003_tags.down.sql")]
    assert table_names(db_url) == {"users", "posts"}
    commands.up(settings(db_url, migrations_dir))
    assert [
        m.version
        for m in commands.down(
            settings(db_url, migrations_dir), options=RunOptions(steps=2, allow_destructive=True)
        ).migrations
    ] == [
        "3",
        "2",
    ]
    commands.up(settings(db_url, migrations_dir))
    assert [
        m.version
        for m in commands.down(
            settings(db_url, migrations_dir), options=RunOptions(target="1", allow_destructive=True)
        ).migrations
    ] == [
        "3",
        "2",
    ]
    assert table_names(db_url) == {"users"}
    assert [
        m.version
        for m in commands.down(
            settings(db_url, migrations_dir), options=RunOptions(target="0", allow_destructive=True)
        ).migrations
    ] == ["1"]
    assert table_names(db_url) == set()


def test_down_without_down_part_is_refused_and_keeps_the_data(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_users.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);"})
    commands.up(settings(db_url, migrations_dir))
    result = commands.down(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))
    assert isinstance(result.error, errors.UsageError) and "irreversible" in result.error.message
    assert table_names(db_url) == {"users"}


def test_sql_error_in_the_middle_of_a_transactional_migration_leaves_nothing(
    request: pytest.FixtureRequest, migrations_dir: Path
) -> None:
    for name in ("sqlite_url", "pg_url"):
        url: str = request.getfixturevalue(name)
        write(
            migrations_dir,
            {
                "001_ok.sql": "CREATE TABLE ok (id INTEGER);",
                "002_broken.sql": "CREATE TABLE half (id INTEGER);\nINSERT INTO half VALUES (1);\n"
                "INSERT INTO missing_table VALUES (1);\nCREATE TABLE never (id INTEGER);",
            },
        )
        result = commands.up(settings(url, migrations_dir))
        assert isinstance(result.error, errors.MigrationError)
        assert "002_broken.sql:3: INSERT INTO missing_table VALUES (1)" in result.error.message
        assert "missing_table" in result.error.message and "rolled back" in result.error.message
        assert [(m.version, m.status) for m in result.migrations] == [("1", "applied"), ("2", "failed")]
        assert table_names(url) == {"ok"}
        status = commands.status(settings(url, migrations_dir)).details["status"]
        assert status["applied"] == ["1"] and status["dirty"] == []


def test_mysql_failure_runs_the_down_part_and_forgets_the_migration(mysql_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_two.up.sql": "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nALTER TABLE nope ADD c INT;",
            "001_two.down.sql": "DROP TABLE IF EXISTS b;\nDROP TABLE IF EXISTS a;",
        },
    )
    result = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError)
    assert "down part was run" in result.error.message
    assert table_names(mysql_url) == set()
    assert commands.status(settings(mysql_url, migrations_dir)).details["status"]["dirty"] == []


def test_mysql_failure_without_down_part_leaves_dirty_until_repair(mysql_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_two.sql": "CREATE TABLE a (id INT);\nALTER TABLE nope ADD c INT;"})
    failed = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(failed.error, errors.MigrationError) and "DIRTY at version 1" in failed.error.message
    assert failed.error.hint and "dbmigrate repair" in failed.error.hint

    refused = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(refused.error, errors.DriftError) and refused.exit_code == 5
    assert "dirty" in refused.error.message

    write(migrations_dir, {"001_two.sql": "CREATE TABLE IF NOT EXISTS a (id INT);"})
    repaired = commands.repair(settings(mysql_url, migrations_dir))
    assert repaired.details["repaired"] == ["version 1: dirty record removed; it will run again on `up`"]
    assert commands.up(settings(mysql_url, migrations_dir)).error is None
    assert table_names(mysql_url) == {"a"}


def test_repair_mark_applied_keeps_the_row(mysql_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_two.sql": "CREATE TABLE a (id INT);\nALTER TABLE nope ADD c INT;"})
    commands.up(settings(mysql_url, migrations_dir))
    repaired = commands.repair(settings(mysql_url, migrations_dir), mark_applied=True)
    assert repaired.details["repaired"] == ["version 1: dirty mark cleared, recorded as applied"]
    assert commands.status(settings(mysql_url, migrations_dir)).details["status"]["applied"] == ["1"]


def test_edited_applied_migration_is_refused_until_repair(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    commands.up(settings(db_url, migrations_dir), options=RunOptions(target="2", allow_destructive=True))
    write(migrations_dir, {"001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"})
    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.DriftError) and "001_users.up.sql" in refused.error.message
    assert table_names(db_url) == {"users", "posts"}
    repaired = commands.repair(settings(db_url, migrations_dir))
    assert len(repaired.details["repaired"]) == 1 and "checksum" in repaired.details["repaired"][0]
    assert commands.up(settings(db_url, migrations_dir)).error is None
    assert "tags" in table_names(db_url)


def test_out_of_order_pending_is_refused_unless_allowed(db_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {"001_a.sql": "CREATE TABLE a (id INTEGER);", "003_c.sql": "CREATE TABLE c (id INTEGER);"},
    )
    commands.up(settings(db_url, migrations_dir))
    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.DriftError) and "002_b.sql" in refused.error.message
    assert refused.error.hint and "--out-of-order" in refused.error.hint
    allowed = commands.up(settings(db_url, migrations_dir), options=RunOptions(out_of_order=True))
    assert [m.version for m in allowed.migrations] == ["2"]


def test_baseline_adopts_an_existing_database(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    engine = sqlalchemy.create_engine(dburl.parse(db_url), poolclass=sqlalchemy.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100))")
    engine.dispose()
    assert commands.baseline(settings(db_url, migrations_dir), version="1").error is None
    applied = commands.up(settings(db_url, migrations_dir))
    assert [m.version for m in applied.migrations] == ["2", "3"]
    below = commands.down(settings(db_url, migrations_dir), options=RunOptions(target="0", allow_destructive=True))
    assert isinstance(below.error, errors.UsageError) and "baseline" in below.error.message
    unknown = commands.baseline(settings(db_url, migrations_dir), version="7")
    assert isinstance(unknown.error, errors.UsageError) and "unknown baseline version 7" in unknown.error.message
    again = commands.baseline(settings(db_url, migrations_dir), version="2")
    assert isinstance(again.error, errors.UsageError) and "not empty" in again.error.message


def test_down_never_reverts_the_baseline_however_it_is_asked(db_url: str, migrations_dir: Path) -> None:
    """The baseline's own version was never run by dbmigrate either: `down` by steps must stop above it too."""
    write(migrations_dir, THREE)
    engine = sqlalchemy.create_engine(dburl.parse(db_url), poolclass=sqlalchemy.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100))")
        conn.exec_driver_sql("CREATE TABLE posts (id INTEGER PRIMARY KEY, body VARCHAR(50))")
    engine.dispose()
    assert commands.baseline(settings(db_url, migrations_dir), version="2").error is None
    assert [m.version for m in commands.up(settings(db_url, migrations_dir)).migrations] == ["3"]
    status = commands.status(settings(db_url, migrations_dir)).details["status"]
    assert (status["applied"], status["baseline"], status["current_version"]) == (["3"], "2", "3")
    allowed = RunOptions(allow_destructive=True)

    too_far = commands.down(settings(db_url, migrations_dir), options=dataclasses.replace(allowed, steps=2))
    assert isinstance(too_far.error, errors.UsageError) and "baseline 2" in too_far.error.message
    assert too_far.migrations == []
    assert [m.version for m in commands.down(settings(db_url, migrations_dir), options=allowed).migrations] == ["3"]
    at_baseline = commands.down(settings(db_url, migrations_dir), options=allowed)
    assert isinstance(at_baseline.error, errors.UsageError) and "baseline 2" in at_baseline.error.message
    assert table_names(db_url) >= {"users", "posts"}


def test_down_over_an_irreversible_migration_is_refused_before_anything_runs(
    sqlite_url: str, migrations_dir: Path
) -> None:
    write(
        migrations_dir,
        {
            "001_a.sql": "CREATE TABLE a (id INTEGER);",
            "002_b.sql": "CREATE TABLE b (id INTEGER);",
            "003_c.up.sql": "CREATE TABLE c (id INTEGER);",
            "003_c.down.sql": "DROP TABLE c;",
        },
    )
    assert commands.up(settings(sqlite_url, migrations_dir)).error is None
    result = commands.down(settings(sqlite_url, migrations_dir), options=RunOptions(target="0", allow_destructive=True))
    assert isinstance(result.error, errors.UsageError) and result.exit_code == 2
    assert "002_b.sql, 001_a.sql" in result.error.message and "no down part" in result.error.message
    assert result.migrations == [] and table_names(sqlite_url) >= {"a", "b", "c"}


def test_an_applied_file_deleted_below_the_newest_is_refused_until_repair_forgets_it(
    db_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, THREE)
    assert commands.up(settings(db_url, migrations_dir)).error is None
    (migrations_dir / "002_posts.up.sql").unlink()
    (migrations_dir / "002_posts.down.sql").unlink()
    write(migrations_dir, {"004_more.sql": "CREATE TABLE more (id INTEGER);"})

    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.DriftError) and refused.exit_code == 5
    assert "applied migration(s) without a file: 2" in refused.error.message and refused.migrations == []
    assert "repair" in (refused.error.hint or "")

    repaired = commands.repair(settings(db_url, migrations_dir))
    assert repaired.details["repaired"] == ["version 2: file missing; its history row is kept, marked deleted"]
    assert [m.version for m in commands.up(settings(db_url, migrations_dir)).migrations] == ["4"]
    assert commands.verify(settings(db_url, migrations_dir)).error is None
    assert [row["version"] for row in commands.history_rows(settings(db_url, migrations_dir)).details["history"]] == [
        "1",
        "2",
        "3",
        "4",
    ]


def test_a_database_ahead_of_the_files_is_no_error(sqlite_url: str, migrations_dir: Path) -> None:
    """An older release's files (an app rolled back, its migration Job run again) against a database migrated by
    a newer one: nothing to do, said so, not refused (as Flyway ignores "future" migrations)."""
    write(migrations_dir, THREE)
    assert commands.up(settings(sqlite_url, migrations_dir)).error is None
    (migrations_dir / "003_tags.up.sql").unlink()
    (migrations_dir / "003_tags.down.sql").unlink()

    result = commands.up(settings(sqlite_url, migrations_dir))
    assert result.error is None and result.migrations == []
    ahead = result.check("ahead")
    assert ahead is not None and ahead.warning and "3" in ahead.message
    assert commands.verify(settings(sqlite_url, migrations_dir)).error is None
    status = run_cli("status", "--dir", str(migrations_dir), "-d", sqlite_url, cwd=migrations_dir.parent)
    assert status.returncode == 0
    assert "⚠ the database is ahead of these files (applied, newer than every file): 3" in status.stdout


def test_up_with_an_expected_fingerprint_the_schema_misses_fails(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    result = commands.up(
        settings(sqlite_url, migrations_dir), options=RunOptions(expected_fingerprint="sha256:" + "0" * 64)
    )
    assert isinstance(result.error, errors.DriftError) and result.exit_code == 5
    assert "differs from the expected sha256:000" in result.error.message
    assert [m.status for m in result.migrations] == ["applied"] * 3  # applied, and said so


def test_the_count_line_says_what_a_target_leaves_pending(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    first = commands.up(settings(sqlite_url, migrations_dir), options=RunOptions(target="1"))
    assert first.check("pending").message == "1 pending migration; 2 more after target 1, left pending"  # type: ignore[union-attr]
    again = commands.up(settings(sqlite_url, migrations_dir), options=RunOptions(target="1"))
    assert again.check("pending").message == "No pending migrations up to target 1; 2 more after it, left pending"  # type: ignore[union-attr]
    commands.up(settings(sqlite_url, migrations_dir))
    reverted = commands.down(settings(sqlite_url, migrations_dir), options=RunOptions(steps=2, allow_destructive=True))
    assert reverted.check("pending").message == "2 migrations to revert"  # type: ignore[union-attr]


def test_history_times_are_utc_with_their_offset_on_every_database(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    assert commands.up(settings(db_url, migrations_dir)).error is None
    rows = commands.history_rows(settings(db_url, migrations_dir)).details["history"]
    stamps = [datetime.fromisoformat(row["applied_at"]) for row in rows]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    assert all(abs(datetime.now(UTC) - stamp) < timedelta(minutes=5) for stamp in stamps)


def test_custom_history_table_name(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    result = commands.up(settings(db_url, migrations_dir, history_table="schema_log"))
    assert result.error is None
    assert query(db_url, "SELECT COUNT(*) FROM schema_log") == [(3,)]


def test_a_history_table_in_a_missing_schema_names_the_schema(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, THREE)
    result = commands.up(settings(db_url, migrations_dir, history_table="nowhere.schema_log"))
    assert isinstance(result.error, errors.UsageError)
    assert "in schema 'nowhere', which does not exist" in result.error.message
    assert table_names(db_url) == set()  # refused before the first migration


def test_a_down_file_left_as_create_wrote_it_is_no_down_part(sqlite_url: str, migrations_dir: Path) -> None:
    """`create` writes the down file as a comment; left so, a `down` must refuse, not report a revert that did
    nothing and drop the history row of a table that is still there."""
    assert commands.create(settings(sqlite_url, migrations_dir), name="add a").error is None
    up_file = next(migrations_dir.glob("*.up.sql"))
    up_file.write_text(up_file.read_text() + "CREATE TABLE a (id INTEGER);\n")
    assert commands.up(settings(sqlite_url, migrations_dir)).error is None

    reverted = commands.down(settings(sqlite_url, migrations_dir))

    assert isinstance(reverted.error, errors.UsageError) and "no down part" in reverted.error.message
    assert table_names(sqlite_url) == {"a"} and query(sqlite_url, "SELECT version FROM dbmigrate_history") == [("1",)]
