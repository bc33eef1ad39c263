"""A failing run returns the database to where the run started, proven by the schema fingerprint."""

from __future__ import annotations

from pathlib import Path

from dbmigrate import commands, errors
from dbmigrate.cli import summary
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import query
from tests.fixtures.migrations import settings, write

RUN = {
    "001_base.up.sql": "CREATE TABLE base (id INTEGER PRIMARY KEY);",
    "001_base.down.sql": "DROP TABLE base;",
}
LATER = {
    "002_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
    "002_users.down.sql": "DROP TABLE users;",
    "003_index.up.sql": "CREATE INDEX users_id ON users (id);",
    "003_index.down.sql": "DROP INDEX users_id ON users;",
    "004_broken.up.sql": "CREATE TABLE t4 (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
    "004_broken.down.sql": "DROP TABLE IF EXISTS t4;",
}


def _later(dialect_name: str) -> dict[str, str]:
    files = dict(LATER)
    if dialect_name != "mysql":
        files["003_index.down.sql"] = "DROP INDEX users_id;"
    return files


def test_failure_rolls_back_the_whole_run_and_fingerprint_matches(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, RUN)
    assert commands.up(settings(db_url, migrations_dir)).error is None
    before = commands.verify(settings(db_url, migrations_dir)).details["verify"]["fingerprint"]
    write(migrations_dir, _later(db_url.split(":")[0]))

    result = commands.up(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))
    assert isinstance(result.error, errors.MigrationError) and result.exit_code == 1
    assert [(m.version, m.direction, m.status) for m in result.migrations] == [
        ("2", "up", "rolled_back"),
        ("3", "up", "rolled_back"),
        ("4", "up", "failed"),
        ("3", "down", "reverted"),
        ("2", "down", "reverted"),
    ]
    assert result.details["rolled_back"] == ["3", "2"]
    rollback = result.check("rollback")
    assert rollback is not None and rollback.ok is True and "schema matches the start" in rollback.message
    after = commands.verify(settings(db_url, migrations_dir))
    assert after.details["verify"]["fingerprint"] == before
    assert commands.status(settings(db_url, migrations_dir)).details["status"]["applied"] == ["1"]


def test_no_rollback_keeps_the_earlier_migrations_of_the_run(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {**RUN, **_later("sqlite")})
    result = commands.up(settings(sqlite_url, migrations_dir), options=RunOptions(rollback_on_failure=False))
    assert isinstance(result.error, errors.MigrationError)
    assert [m.status for m in result.migrations] == ["applied", "applied", "applied", "failed"]
    assert commands.status(settings(sqlite_url, migrations_dir)).details["status"]["applied"] == ["1", "2", "3"]


def test_irreversible_migration_stops_the_rollback_and_says_so(sqlite_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_a.sql": "CREATE TABLE a (id INTEGER);",
            "002_b.sql": "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
        },
    )
    result = commands.up(settings(sqlite_url, migrations_dir))
    rollback = result.check("rollback")
    assert rollback is not None and rollback.ok is False
    assert "001_a.sql" in rollback.message and "irreversible" in rollback.message


def test_plan_flags_irreversible_migrations(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {**RUN, "002_oneway.sql": "CREATE TABLE oneway (id INTEGER);"})
    plan = commands.plan(settings(sqlite_url, migrations_dir)).details["plan"]
    assert plan["irreversible"] == ["2"]


def test_a_migration_left_dirty_keeps_the_earlier_ones_of_the_run(db_url: str, migrations_dir: Path) -> None:
    """Reverting what lies under a half-applied migration would strand it: once it is completed by hand and marked
    applied (the hint's way out), the history would skip the migrations beneath it."""
    write(
        migrations_dir,
        {
            **RUN,
            "002_half.sql": "-- dbmigrate:no-transaction\n"
            "CREATE TABLE half (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
        },
    )
    result = commands.up(settings(db_url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError) and "DIRTY at version 2" in result.error.message
    assert [(m.version, m.status) for m in result.migrations] == [("1", "applied"), ("2", "failed")]
    rollback = result.check("rollback")
    assert rollback is not None and rollback.ok is False
    assert "Not attempted" in rollback.message and "001_base.up.sql" in rollback.message
    assert result.to_json()["error"]["left_dirty"] is True  # type: ignore[index]
    assert summary.build(result)["error"]["left_dirty"] is True
    status = commands.status(settings(db_url, migrations_dir)).details["status"]
    assert (status["applied"], status["dirty"]) == (["1"], ["2"])


HALF_REVERSIBLE = {
    "001_d.up.sql": "CREATE TABLE d1 (id INTEGER);\nCREATE TABLE d2 (id INTEGER);",
    "001_d.down.sql": "-- dbmigrate:no-transaction\nDROP TABLE d2;\nINSERT INTO nowhere VALUES (1);",
}


def test_a_revert_that_fails_half_way_leaves_the_migration_dirty(db_url: str, migrations_dir: Path) -> None:
    """A down part that commits as it goes (MySQL DDL, no-transaction) and fails half-way has changed the schema:
    the history must not go on calling the migration applied and clean."""
    write(migrations_dir, HALF_REVERSIBLE)
    assert commands.up(settings(db_url, migrations_dir)).error is None

    result = commands.down(settings(db_url, migrations_dir), options=RunOptions(allow_destructive=True))

    assert isinstance(result.error, errors.MigrationError) and result.left_dirty
    assert "001_d.down.sql:3: INSERT INTO nowhere VALUES (1)" in result.error.message
    assert "DIRTY at version 1" in result.error.message and "repair" in (result.error.hint or "")
    assert result.history_updated  # the dirty mark: the report must not say "Migration history: Unchanged"
    status = commands.status(settings(db_url, migrations_dir)).details["status"]
    assert (status["applied"], status["dirty"]) == ([], ["1"])


def test_a_rollback_that_fails_half_way_says_the_database_is_dirty(mysql_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            **HALF_REVERSIBLE,
            "002_h.up.sql": "INSERT INTO nope VALUES (1);",
            "002_h.down.sql": "SELECT 1;",
        },
    )
    result = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError) and "nope" in result.error.message
    rollback = result.check("rollback")
    assert rollback is not None and rollback.ok is False and "Rollback stopped at 001_d.up.sql" in rollback.message
    assert result.left_dirty and summary.build(result)["error"]["left_dirty"] is True
    assert commands.status(settings(mysql_url, migrations_dir)).details["status"]["dirty"] == ["1"]


def test_a_down_part_dropping_what_existed_before_the_run_blocks_the_up(db_url: str, migrations_dir: Path) -> None:
    """A rollback runs the down parts of the run's migrations: one dropping a table its up part did not create
    would destroy data that existed before the run, so the up is refused until confirmed."""
    write(migrations_dir, {"001_t.sql": "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);"})
    assert commands.up(settings(db_url, migrations_dir)).error is None
    write(
        migrations_dir,
        {
            "002_z.up.sql": "ALTER TABLE t ADD COLUMN z INTEGER;",
            "002_z.down.sql": "DROP TABLE t;",
            "003_broken.sql": "INSERT INTO nowhere VALUES (1);",
        },
    )
    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3
    assert "002_z.down.sql:1 drop_table" in refused.error.message and "rollback" in refused.error.message
    [finding] = refused.details["plan"]["findings"]
    assert (finding["rule"], finding["severity"], finding["file"]) == ("drop_table", "destructive", "002_z.down.sql")
    assert refused.migrations == [] and query(db_url, "SELECT id FROM t") == [(1,)]

    # Without a rollback the down part never runs: nothing to confirm (003 fails, t keeps its row).
    kept = commands.up(settings(db_url, migrations_dir), options=RunOptions(rollback_on_failure=False))
    assert isinstance(kept.error, errors.MigrationError) and kept.details["plan"]["findings"] == []
    assert query(db_url, "SELECT id FROM t") == [(1,)]


def test_down_parts_undoing_their_own_up_part_need_no_confirmation(db_url: str, migrations_dir: Path) -> None:
    """Dropping what the up part created (a table, a column) loses nothing that existed before the run, and a
    type restored by the down part is the type the column had before."""
    write(migrations_dir, {"001_t.sql": "CREATE TABLE t (id INTEGER, label VARCHAR(20));"})
    assert commands.up(settings(db_url, migrations_dir)).error is None
    widen, restore = {
        "postgresql": (
            "ALTER TABLE t ALTER COLUMN label TYPE VARCHAR(80);",
            "ALTER TABLE t ALTER COLUMN label TYPE VARCHAR(20);",
        ),
        "mysql": ("ALTER TABLE t MODIFY label VARCHAR(80);", "ALTER TABLE t MODIFY label VARCHAR(20);"),
        "sqlite": ("SELECT 1;", "SELECT 1;"),
    }[db_url.split(":")[0].split("+")[0]]
    write(
        migrations_dir,
        {
            "002_u.up.sql": "CREATE TABLE u (id INTEGER);",
            "002_u.down.sql": "DROP TABLE u;",
            "003_z.up.sql": f"ALTER TABLE t ADD COLUMN z INTEGER;\n{widen}",
            "003_z.down.sql": f"{restore}\nALTER TABLE t DROP COLUMN z;",
            "004_broken.sql": "INSERT INTO nowhere VALUES (1);",
        },
    )
    result = commands.up(settings(db_url, migrations_dir))
    assert isinstance(result.error, errors.MigrationError) and result.details["plan"]["findings"] == []
    assert result.details["rolled_back"] == ["3", "2"]
