"""Dry runs persist nothing (sequences included), plan hashes are stable and sensitive, approvals bind to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbmigrate import commands, errors
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import execute, query
from tests.fixtures.migrations import settings, write


def test_postgresql_dry_run_executes_reports_and_persists_nothing_not_even_sequences(
    pg_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_base.sql": "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT);"})
    assert commands.up(settings(pg_url, migrations_dir)).error is None
    query(pg_url, "SELECT 1")  # warm
    write(
        migrations_dir,
        {
            "002_fill.sql": "INSERT INTO items (name) SELECT 'x' FROM generate_series(1, 5);\n"
            "CREATE TABLE tags (id SERIAL PRIMARY KEY, label VARCHAR(20) NOT NULL);\n"
            "CREATE INDEX items_name ON items (name);\n"
            "ALTER TABLE items ADD COLUMN tag_id INTEGER REFERENCES tags (id);",
        },
    )
    before_history = query(pg_url, "SELECT version FROM dbmigrate_history ORDER BY version")
    result = commands.plan(settings(pg_url, migrations_dir))
    assert result.error is None and result.exit_code == 0
    plan = result.details["plan"]
    assert plan["executed"] is True and plan["note"] == "executed in a transaction that was rolled back"
    assert [s["status"] for s in plan["statements"]] == ["ok", "ok", "ok", "ok"]
    assert [s["line"] for s in plan["statements"]] == [1, 2, 3, 4]
    changes = {(c["kind"], c["object_type"], c["name"]) for c in plan["schema_changes"]}
    assert ("added", "table", "tags") in changes
    assert ("added", "column", "items.tag_id") in changes
    assert any(kind == "added" and obj == "index" and "items_name" in name for kind, obj, name in changes)
    # Nothing persisted: no table, no rows, no history, and the sequence did not move.
    assert query(pg_url, "SELECT to_regclass('tags')") == [(None,)]
    assert query(pg_url, "SELECT COUNT(*) FROM items") == [(0,)]
    assert query(pg_url, "SELECT version FROM dbmigrate_history ORDER BY version") == before_history
    assert query(pg_url, "SELECT last_value, is_called FROM items_id_seq") == [(1, False)]
    assert query(pg_url, "INSERT INTO items (name) VALUES ('real') RETURNING id") == [(1,)]


def test_sqlite_dry_run_reports_the_failing_statement_and_leaves_nothing(sqlite_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {"001_a.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);\nINSERT INTO missing VALUES (1);"},
    )
    result = commands.plan(settings(sqlite_url, migrations_dir))
    plan = result.details["plan"]
    assert [(s["line"], s["status"]) for s in plan["statements"]] == [(1, "ok"), (2, "ok"), (3, "error")]
    assert "no such table: missing" in plan["statements"][2]["error"]
    assert query(sqlite_url, "SELECT name FROM sqlite_master WHERE name = 'a'") == []
    # A CI job gating on `plan` must fail here: the run would.
    assert isinstance(result.error, errors.MigrationError) and result.exit_code == 1
    assert "001_a.sql:3" in result.error.message and "a run would fail there" in result.error.message


def test_a_dry_run_failing_after_a_skipped_statement_warns_instead_of_failing(
    sqlite_url: str, migrations_dir: Path
) -> None:
    """The skipped statement (it cannot run in the dry run's transaction) may be what the failing one needs."""
    write(
        migrations_dir,
        {
            "001_t.sql": "-- dbmigrate:no-transaction\nCREATE TABLE t (id INTEGER);",
            "002_fill.sql": "INSERT INTO t VALUES (1);",
        },
    )
    result = commands.plan(settings(sqlite_url, migrations_dir))
    assert result.error is None
    warned = result.check("dry_run")
    assert warned is not None and warned.warning and "002_fill.sql:1" in warned.message
    assert commands.up(settings(sqlite_url, migrations_dir)).error is None


def test_mysql_plan_is_static_and_labelled_not_executed(mysql_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INT);\nALTER TABLE b DROP COLUMN id;"})
    plan = commands.plan(settings(mysql_url, migrations_dir)).details["plan"]
    assert plan["executed"] is False and "static plan" in plan["note"]
    assert plan["statements"] == []
    assert [f["rule"] for f in plan["findings"]] == ["drop_column"]
    assert query(mysql_url, "SHOW TABLES") == []


def test_plan_hash_is_stable_and_changes_with_any_input(sqlite_url: str, tmp_path: Path) -> None:
    one = write(tmp_path / "one", {"001_a.sql": "CREATE TABLE a (id INTEGER);", "002_b.sql": "SELECT 1;"})
    first = commands.plan(settings(sqlite_url, one)).details["plan"]["hash"]
    assert commands.plan(settings(sqlite_url, one)).details["plan"]["hash"] == first
    assert first.startswith("sha256:") and len(first) == 71

    write(one, {"002_b.sql": "SELECT 2;"})  # an edited pending migration
    edited = commands.plan(settings(sqlite_url, one)).details["plan"]["hash"]
    write(one, {"003_c.sql": "SELECT 3;"})  # one more migration
    more = commands.plan(settings(sqlite_url, one)).details["plan"]["hash"]
    other_db = commands.plan(settings(sqlite_url.replace("test.sqlite3", "other.sqlite3"), one)).details["plan"]
    assert len({first, edited, more, other_db["hash"]}) == 4


def test_an_edited_down_file_changes_the_plan_hash_both_ways(sqlite_url: str, migrations_dir: Path) -> None:
    """A down plan runs the down files, and an up plan may run them in its rollback: approving a hash must approve
    what they hold, so an edit after review needs a new approval."""
    write(migrations_dir, {"001_a.up.sql": "CREATE TABLE a (id INTEGER);", "001_a.down.sql": "DROP TABLE a;"})
    up_before = commands.plan(settings(sqlite_url, migrations_dir)).details["plan"]["hash"]
    write(migrations_dir, {"001_a.down.sql": "DROP TABLE a;\nDROP TABLE precious;"})
    assert commands.plan(settings(sqlite_url, migrations_dir)).details["plan"]["hash"] != up_before

    assert commands.up(settings(sqlite_url, migrations_dir), options=RunOptions(allow_destructive=True)).error is None
    down = RunOptions(target="0")
    down_before = commands.plan(settings(sqlite_url, migrations_dir), options=down, direction="down")
    write(migrations_dir, {"001_a.down.sql": "DROP TABLE a;"})
    down_after = commands.plan(settings(sqlite_url, migrations_dir), options=down, direction="down")
    assert down_before.details["plan"]["hash"] != down_after.details["plan"]["hash"]


def test_destructive_change_blocks_up_until_confirmed_or_approved(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER, note VARCHAR(10));"})
    commands.up(settings(db_url, migrations_dir))
    write(migrations_dir, {"002_drop.sql": "ALTER TABLE a DROP COLUMN note;"})

    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3
    assert "002_drop.sql:1 drop_column" in refused.error.message
    assert refused.migrations == [] and query(db_url, "SELECT COUNT(*) FROM dbmigrate_history") == [(1,)]

    plan_hash = commands.plan(settings(db_url, migrations_dir)).details["plan"]["hash"]
    wrong = commands.up(settings(db_url, migrations_dir), options=RunOptions(approve="sha256:" + "0" * 64))
    assert isinstance(wrong.error, errors.SafetyGateError) and "plan changed" in wrong.error.message
    approved = commands.up(settings(db_url, migrations_dir), options=RunOptions(approve=plan_hash))
    assert approved.error is None and [m.version for m in approved.migrations] == ["2"]
    assert approved.check("destructive") is not None


def test_allow_comment_lets_an_intended_drop_through(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER, note TEXT);"})
    assert commands.up(settings(sqlite_url, migrations_dir)).error is None
    write(migrations_dir, {"002_drop.sql": "-- dbmigrate:allow drop_column\nALTER TABLE a DROP COLUMN note;"})
    result = commands.up(settings(sqlite_url, migrations_dir))
    assert result.error is None
    finding = result.details["plan"]["findings"][0]
    assert finding["rule"] == "drop_column" and finding["allowed"] is True
    destructive = result.check("destructive")  # said as what it is, not "No destructive changes"
    assert (
        destructive is not None and destructive.message == "1 destructive change(s) allowed by dbmigrate:allow comments"
    )


def test_approval_of_an_old_plan_does_not_apply_a_changed_one(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);\nDROP TABLE a;"})
    approved_hash = commands.plan(settings(sqlite_url, migrations_dir)).details["plan"]["hash"]
    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    result = commands.up(settings(sqlite_url, migrations_dir), options=RunOptions(approve=approved_hash))
    assert isinstance(result.error, errors.SafetyGateError)
    assert query(sqlite_url, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'dbmigrate%'") == []


def test_an_empty_migration_is_reported_before_it_is_recorded_as_applied(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);", "002_forgot.sql": "-- TODO\n"})
    plan = commands.plan(settings(sqlite_url, migrations_dir))
    findings = plan.details["plan"]["findings"]
    assert [(f["rule"], f["severity"], f["file"]) for f in findings] == [("empty_migration", "info", "002_forgot.sql")]
    assert "refused as an edit" in findings[0]["reason"]


def test_a_table_created_earlier_in_the_run_can_be_dropped_without_confirmation(
    db_url: str, migrations_dir: Path
) -> None:
    """The analysis carries what the run created from one migration to the next: dropping it loses nothing that
    existed before the run. A table created by an earlier run is not new, so dropping it still needs confirming."""
    write(
        migrations_dir,
        {
            "001_staging.sql": "CREATE TABLE staging (id INTEGER);\nINSERT INTO staging VALUES (1);",
            "002_drop.sql": "DELETE FROM staging;\nDROP TABLE staging;",
            "003_keep.sql": "CREATE TABLE kept (id INTEGER);",
        },
    )
    result = commands.up(settings(db_url, migrations_dir))
    assert result.error is None and [m.version for m in result.migrations] == ["1", "2", "3"]
    assert result.details["plan"]["findings"] == []

    write(migrations_dir, {"004_drop_kept.sql": "DROP TABLE kept;"})
    refused = commands.up(settings(db_url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3
    assert "004_drop_kept.sql:1 drop_table" in refused.error.message
    assert query(db_url, "SELECT COUNT(*) FROM kept") == [(0,)]


#: Destructive statements the analysis used to miss, by dialect: (setup, migration, the rule that must refuse it).
#: ``t`` exists before the run with one row (id 1, x 'kept', n 1) on every dialect.
MISSED: dict[str, list[tuple[str, str]]] = {
    "mysql": [
        ("CREATE OR REPLACE TABLE t (id INT PRIMARY KEY, x VARCHAR(50));", "drop_table"),
        ("CREATE TABLE b (id INT); DELETE t FROM t LEFT JOIN b ON t.id = b.id;", "delete_without_where"),
        ("ALTER TABLE t ADD COLUMN z INT /*!50000 , DROP COLUMN x */;", "drop_column"),
        ("DELETE IGNORE FROM t;", "delete_without_where"),
        ("UPDATE IGNORE t SET x = NULL;", "update_without_where"),
        ("ALTER ONLINE TABLE t DROP x;", "drop_column"),
        ("ALTER IGNORE TABLE t ADD UNIQUE (n);", "alter_ignore"),
        ("ALTER TABLE {db}.t MODIFY n DECIMAL(10, 0);", "narrow_column_type"),
    ],
    "postgresql": [
        ("DELETE FROM t WHERE 1=1;", "delete_without_where"),
        ("MERGE INTO t USING (SELECT 1) AS src ON true WHEN MATCHED THEN DELETE;", "delete_without_where"),
        ("ALTER TABLE public.t ALTER COLUMN n TYPE DECIMAL(10, 0);", "narrow_column_type"),
        ("ALTER TABLE t ALTER COLUMN x TYPE VARCHAR(100) USING left(x, 2);", "rewrite_column_values"),
        (
            "ALTER TABLE t RENAME COLUMN n TO amount;\nALTER TABLE t ALTER COLUMN amount TYPE DECIMAL(10, 0);",
            "narrow_column_type",
        ),
    ],
    "sqlite": [
        ("UPDATE t SET x = NULL WHERE true;", "update_without_where"),
        ("UPDATE OR REPLACE t SET x = NULL;", "update_without_where"),
        ("ALTER TABLE t DROP x;", "drop_column"),
    ],
}
_SETUP = "CREATE TABLE t (id INTEGER PRIMARY KEY, x VARCHAR(50), n DECIMAL(12, 2))"


@pytest.mark.parametrize(
    ("dialect", "migration", "rule"),
    [(dialect, sql, rule) for dialect, cases in MISSED.items() for sql, rule in cases],
    ids=[f"{dialect}-{rule}-{i}" for dialect, cases in MISSED.items() for i, (_, rule) in enumerate(cases)],
)
def test_a_destructive_statement_refuses_the_run_and_keeps_the_data(
    request: pytest.FixtureRequest, migrations_dir: Path, dialect: str, migration: str, rule: str
) -> None:
    url: str = request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url", "sqlite": "sqlite_url"}[dialect])
    execute(url, [_SETUP, "INSERT INTO t (id, x, n) VALUES (1, 'kept', 1)"])
    write(migrations_dir, {"001_m.sql": migration.format(db=url.rsplit("/", 1)[1])})
    refused = commands.up(settings(url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3, refused.error
    assert f"001_m.sql:{migration.count(chr(10)) + 1} {rule}" in refused.error.message
    assert query(url, "SELECT id, x FROM t") == [(1, "kept")]


def test_narrowing_is_judged_against_the_table_of_the_schema_named(pg_url: str, migrations_dir: Path) -> None:
    """Same-named tables in two schemas keep their own column types: the one a statement names is judged."""
    execute(
        pg_url,
        [
            "CREATE TABLE t (x VARCHAR(20))",
            "INSERT INTO t VALUES ('eighteen chars ...')",
            "CREATE SCHEMA other",
            "CREATE TABLE other.t (x VARCHAR(10))",
        ],
    )
    write(migrations_dir, {"001_m.sql": "ALTER TABLE t ALTER COLUMN x TYPE VARCHAR(15);"})
    refused = commands.up(settings(pg_url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3
    assert "001_m.sql:1 narrow_column_type" in refused.error.message and "VARCHAR(20)" in refused.error.message
    write(migrations_dir, {"001_m.sql": "ALTER TABLE other.t ALTER COLUMN x TYPE VARCHAR(15);"})
    assert commands.up(settings(pg_url, migrations_dir)).error is None  # other.t widens


def test_a_routine_body_is_not_this_migrations_change(mysql_url: str, migrations_dir: Path) -> None:
    """A procedure's DELETE runs when it is called, not when it is created: the run is not refused for it."""
    execute(mysql_url, [_SETUP, "INSERT INTO t (id, x, n) VALUES (1, 'kept', 1)"])
    write(migrations_dir, {"001_proc.sql": "CREATE PROCEDURE purge_old() BEGIN DELETE FROM t; END;"})
    result = commands.up(settings(mysql_url, migrations_dir))
    assert result.error is None
    [finding] = result.details["plan"]["findings"]
    assert (finding["rule"], finding["severity"]) == ("unanalyzed", "info") and "procedure" in finding["reason"]
    assert query(mysql_url, "SELECT id FROM t") == [(1,)]


def test_cutting_fractional_seconds_is_narrowing(mysql_url: str, migrations_dir: Path) -> None:
    """MySQL's DATETIME without a precision keeps whole seconds: changing DATETIME(6) to it cuts every value."""
    execute(mysql_url, ["CREATE TABLE e (at DATETIME(6))", "INSERT INTO e VALUES ('2024-01-01 10:00:00.123456')"])
    write(migrations_dir, {"001_m.sql": "ALTER TABLE e MODIFY at DATETIME;"})
    refused = commands.up(settings(mysql_url, migrations_dir))
    assert isinstance(refused.error, errors.SafetyGateError) and refused.exit_code == 3
    assert "001_m.sql:1 narrow_column_type" in refused.error.message
    assert query(mysql_url, "SELECT CAST(at AS CHAR) FROM e") == [("2024-01-01 10:00:00.123456",)]
