"""`verify` and the checks after every run: history against files, catalog problems, expectations, drift."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy

from dbmigrate import commands, dburl, errors
from dbmigrate.cli import report
from dbmigrate.migrating import RunOptions
from tests.fixtures.databases import execute, query
from tests.fixtures.migrations import run_cli, settings, write


def test_verify_reports_a_valid_schema_with_its_fingerprint(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, name VARCHAR(20));"})
    applied = commands.up(settings(db_url, migrations_dir))
    result = commands.verify(settings(db_url, migrations_dir))
    assert result.error is None
    verify = result.details["verify"]
    assert verify["ok"] is True and verify["fingerprint"].startswith("sha256:")
    assert verify["fingerprint"] == applied.details["verify"]["fingerprint"] == verify["recorded"]
    drift = result.check("drift")
    assert drift is not None and drift.ok is True


def test_drift_is_reported_and_refused_with_fail_on_drift(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"})
    commands.up(settings(db_url, migrations_dir))
    execute(db_url, ["CREATE TABLE hand_made (id INTEGER)"])

    verified = commands.verify(settings(db_url, migrations_dir))
    drift = verified.check("drift")
    assert drift is not None and drift.ok is False and verified.error is None
    assert isinstance(commands.verify(settings(db_url, migrations_dir), fail_on_drift=True).error, errors.DriftError)

    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    refused = commands.up(settings(db_url, migrations_dir), options=RunOptions(fail_on_drift=True))
    assert isinstance(refused.error, errors.DriftError) and refused.exit_code == 5
    assert refused.migrations == []
    warned = commands.up(settings(db_url, migrations_dir))
    assert warned.error is None and any(c.name == "drift" and c.warning for c in warned.checks)


def test_expected_fingerprint_mismatch_fails_verification(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    commands.up(settings(sqlite_url, migrations_dir))
    result = commands.verify(settings(sqlite_url, migrations_dir), expected="sha256:" + "1" * 64)
    assert isinstance(result.error, errors.DriftError)
    assert "differs from the expected" in result.details["verify"]["problems"][0]


def test_invalid_index_left_by_a_failed_concurrent_build_is_found(pg_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (v INTEGER);\nINSERT INTO a VALUES (1), (1);"})
    commands.up(settings(pg_url, migrations_dir))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        execute(pg_url, ["CREATE UNIQUE INDEX CONCURRENTLY a_v_key ON a (v)"])
    result = commands.verify(settings(pg_url, migrations_dir))
    assert isinstance(result.error, errors.DriftError)
    assert any("a_v_key" in problem for problem in result.details["verify"]["problems"])


def test_gaps_in_history_are_integrity_problems(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER);", "003_c.sql": "CREATE TABLE c (id INTEGER);"})
    commands.up(settings(sqlite_url, migrations_dir))
    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    result = commands.verify(settings(sqlite_url, migrations_dir))
    assert isinstance(result.error, errors.DriftError)
    assert result.details["verify"]["problems"] == ["002_b.sql was skipped: it is older than the newest applied one"]


def _alter_database(url: str, setting: str) -> None:
    execute(url, [f'ALTER DATABASE "{dburl.parse(url).database}" SET {setting}'])


def test_postgresql_session_time_zone_and_date_style_change_nothing(pg_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_promo.sql": "CREATE TABLE promo (id int PRIMARY KEY, "
            "starts timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00', d date DEFAULT '2024-01-31', "
            "CONSTRAINT after_launch CHECK (starts >= '2023-06-01 00:00:00+00'));\n"
            "CREATE VIEW current_promo AS SELECT * FROM promo WHERE starts > '2024-03-01 12:00:00+00'::timestamptz;",
        },
    )
    in_utc = commands.up(settings(pg_url, migrations_dir)).details["verify"]["fingerprint"]

    _alter_database(pg_url, "timezone = 'Asia/Tokyo'")
    _alter_database(pg_url, "datestyle = 'German, DMY'")
    _alter_database(pg_url, "intervalstyle = 'sql_standard'")
    verified = commands.verify(settings(pg_url, migrations_dir))
    assert verified.error is None, verified.error
    assert verified.details["verify"]["fingerprint"] == in_utc
    assert verified.check("drift").ok is True  # type: ignore[union-attr]

    # Migrations still run in the session's own settings, before and after the schema is read.
    write(
        migrations_dir,
        {
            "002_seen.sql": "CREATE TABLE seen AS SELECT current_setting('TimeZone') AS tz, "
            "current_setting('DateStyle') AS ds;"
        },
    )
    applied = commands.up(settings(pg_url, migrations_dir))
    assert applied.error is None, applied.error
    assert query(pg_url, "SELECT tz, ds FROM seen") == [("Asia/Tokyo", "German, DMY")]
    assert commands.status(settings(pg_url, migrations_dir)).error is None


def test_mysql_session_time_zone_changes_nothing(mysql_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_promo.sql": "CREATE TABLE promo (id int PRIMARY KEY, "
            "starts timestamp NOT NULL DEFAULT '2024-01-01 00:00:00');",
        },
    )
    in_utc = commands.up(settings(mysql_url, migrations_dir)).details["verify"]["fingerprint"]
    tokyo = f"{mysql_url}?init_command=SET time_zone %3D '%2B09:00'"
    verified = commands.verify(settings(tokyo, migrations_dir))
    assert verified.error is None, verified.error
    assert verified.details["verify"]["fingerprint"] == in_utc

    write(migrations_dir, {"002_seen.sql": "CREATE TABLE seen AS SELECT @@session.time_zone AS tz;"})
    assert commands.up(settings(tokyo, migrations_dir)).error is None
    assert query(tokyo, "SELECT tz FROM seen") == [("+09:00",)]


def test_own_tables_in_another_schema_are_left_out_and_a_namesake_in_public_is_not(
    pg_url: str, migrations_dir: Path
) -> None:
    execute(pg_url, ["CREATE SCHEMA ops"])
    write(migrations_dir, {"001_a.sql": "CREATE TABLE dbmigrate_history (note text);"})  # the user's own table
    ops = settings(pg_url, migrations_dir, history_table="ops.dbmigrate_history")
    assert commands.up(ops).error is None
    verified = commands.verify(ops)
    assert verified.error is None
    assert verified.check("drift").ok is True  # type: ignore[union-attr]

    execute(pg_url, ["ALTER TABLE public.dbmigrate_history ADD COLUMN added int"])
    assert commands.verify(ops).check("drift").ok is False  # type: ignore[union-attr]


def test_a_not_valid_constraint_is_a_warning_and_validating_it_is_no_drift(pg_url: str, migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_fk.sql": "CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE c (id int, p_id int);\n"
            "ALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID;",
        },
    )
    applied = run_cli("-d", pg_url, "--dir", str(migrations_dir), "up", cwd=migrations_dir)
    assert applied.returncode == 0
    assert "Schema integrity: ⚠ Valid, 1 warning(s): unvalidated_constraint c.c_p_fk" in applied.stdout
    verified = commands.verify(settings(pg_url, migrations_dir), fail_on_drift=True)
    assert verified.exit_code == 0
    line = report.check_line(verified.check("integrity"))  # type: ignore[arg-type]
    assert line.startswith("⚠ Valid, 1 warning(s): unvalidated_constraint c.c_p_fk")
    assert line.endswith("run ALTER TABLE c VALIDATE CONSTRAINT c_p_fk")
    assert verified.details["verify"]["problems"] == []
    assert len(verified.details["verify"]["warnings"]) == 1

    execute(pg_url, ["ALTER TABLE c VALIDATE CONSTRAINT c_p_fk"])  # the report's own advice
    validated = commands.verify(settings(pg_url, migrations_dir), fail_on_drift=True)
    assert validated.exit_code == 0 and validated.check("drift").ok is True  # type: ignore[union-attr]
    assert report.check_line(validated.check("integrity")) == "✓ Valid"  # type: ignore[arg-type]


def test_drift_stays_until_a_run_applies_migrations_or_repair_accepts_the_schema(
    db_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"})
    commands.up(settings(db_url, migrations_dir))
    execute(db_url, ["CREATE TABLE hand_made (id INTEGER)"])

    nothing_to_do = commands.up(settings(db_url, migrations_dir))
    assert nothing_to_do.error is None and nothing_to_do.check("drift").warning  # type: ignore[union-attr]
    refused = commands.verify(settings(db_url, migrations_dir), fail_on_drift=True)
    assert refused.exit_code == 5  # the no-op run did not make the drift the new baseline

    repaired = commands.repair(settings(db_url, migrations_dir), accept_schema=True)
    assert repaired.error is None and repaired.history_updated
    [change] = repaired.details["repaired"]
    assert change.startswith("schema fingerprint ") and "accepted as the baseline for drift checks" in change
    assert commands.verify(settings(db_url, migrations_dir), fail_on_drift=True).exit_code == 0
    assert commands.repair(settings(db_url, migrations_dir), accept_schema=True).details["repaired"] == []

    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    execute(db_url, ["DROP TABLE hand_made"])
    applied = commands.up(settings(db_url, migrations_dir))  # warns, then records the schema it leaves
    assert applied.check("drift").warning  # type: ignore[union-attr]
    assert commands.verify(settings(db_url, migrations_dir), fail_on_drift=True).exit_code == 0


def test_drift_says_what_changed_since_the_recorded_snapshot(db_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);"})
    commands.up(settings(db_url, migrations_dir))
    execute(db_url, ["CREATE INDEX a_v ON a (v)", "CREATE TABLE hand_made (id INTEGER)"])

    verified = commands.verify(settings(db_url, migrations_dir))
    lines = report.check_line(verified.check("drift")).splitlines()  # type: ignore[arg-type]
    assert lines[0].startswith("✗ Schema drift: the schema changed outside dbmigrate since the last run")
    assert lines[0].endswith("2 change(s):")
    assert lines[1].startswith("    + added index a.a_v: ")
    assert lines[2] == "    + added table hand_made: columns (id)"
    changes = verified.details["drift"]["changes"]
    assert [(c["kind"], c["object_type"], c["name"]) for c in changes] == [
        ("added", "index", "a.a_v"),
        ("added", "table", "hand_made"),
    ]

    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})
    refused = commands.up(settings(db_url, migrations_dir), options=RunOptions(fail_on_drift=True))
    assert refused.exit_code == 5 and "+ added table hand_made" in refused.error.message  # type: ignore[union-attr]
    assert "dbmigrate repair --accept-schema" in (refused.error.hint or "")  # type: ignore[union-attr]
    assert commands.verify(settings(db_url, migrations_dir)).details["drift"] is not None
    execute(db_url, ["DROP TABLE hand_made", "DROP INDEX a_v" + (" ON a" if "mysql" in db_url else "")])
    assert commands.verify(settings(db_url, migrations_dir)).details["drift"] is None


def test_a_fingerprint_recorded_without_a_snapshot_is_not_compared_and_replaced_by_the_next_run(
    db_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"})
    commands.up(settings(db_url, migrations_dir))
    execute(  # the state table as dbmigrate versions before snapshots left it
        db_url,
        [
            "DROP TABLE dbmigrate_history_state",
            "CREATE TABLE dbmigrate_history_state (name VARCHAR(64) NOT NULL PRIMARY KEY, "
            "value VARCHAR(255) NOT NULL, updated_at TEXT NOT NULL)",
            "INSERT INTO dbmigrate_history_state VALUES ('schema_fingerprint', 'sha256:" + "0" * 64 + "', 'x')",
        ],
    )
    verified = commands.verify(settings(db_url, migrations_dir), fail_on_drift=True)
    assert verified.exit_code == 0
    drift = verified.check("drift")
    assert drift is not None and drift.ok is None and "earlier dbmigrate version" in drift.message

    assert commands.up(settings(db_url, migrations_dir)).error is None  # adds the column, records a baseline
    [(snapshot,)] = query(db_url, "SELECT snapshot FROM dbmigrate_history_state")  # the column added
    assert '"tables"' in str(snapshot)
    assert commands.verify(settings(db_url, migrations_dir)).check("drift").ok is True  # type: ignore[union-attr]


def test_show_schema_prints_the_snapshot_to_compare_two_databases(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT COLLATE NOCASE);"})
    commands.up(settings(sqlite_url, migrations_dir))
    shown = commands.verify(settings(sqlite_url, migrations_dir), show_schema=True).details["verify"]["schema"]
    assert [t["name"] for t in shown["tables"]] == ["a"]
    assert shown["tables"][0]["columns"][1]["collation"] == "NOCASE"
    assert "schema" not in commands.verify(settings(sqlite_url, migrations_dir)).details["verify"]

    printed = run_cli("-d", sqlite_url, "--dir", str(migrations_dir), "verify", "--show-schema", cwd=migrations_dir)
    listing = printed.stdout.split("SCHEMA SNAPSHOT:\n", 1)[1].splitlines()
    assert listing[0] == 'table {"name": "a", "schema": null, "options": []}'
    assert listing[2].startswith('  column {"name": "v", "type": "TEXT", "nullable": true')


def test_a_run_that_leaves_an_integrity_failure_exits_5_saying_its_migrations_were_applied(
    pg_url: str, migrations_dir: Path
) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (v INTEGER);\nINSERT INTO a VALUES (1), (1);"})
    commands.up(settings(pg_url, migrations_dir))
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        execute(pg_url, ["CREATE UNIQUE INDEX CONCURRENTLY a_v_key ON a (v)"])  # left invalid
    write(migrations_dir, {"002_b.sql": "CREATE TABLE b (id INTEGER);"})

    result = commands.up(settings(pg_url, migrations_dir))
    assert result.exit_code == 5 and isinstance(result.error, errors.DriftError)
    assert [(m.version, m.status) for m in result.migrations] == [("2", "applied")]
    assert result.error.message.startswith(
        "✗ 1 migration(s) applied, but the schema check after them found 1 problem(s): invalid_index a.a_v_key"
    )
    assert commands.status(settings(pg_url, migrations_dir)).details["status"]["pending"] == []


def test_a_virtual_table_of_a_module_not_loaded_is_left_out_with_a_warning(
    sqlite_url: str, migrations_dir: Path
) -> None:
    write(
        migrations_dir,
        {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE VIRTUAL TABLE docs USING fts5(body);"},
    )
    before = commands.up(settings(sqlite_url, migrations_dir)).details["verify"]["fingerprint"]
    database = dburl.parse(sqlite_url).database
    with sqlite3.connect(str(database)) as conn:  # as an extension's module (SpatiaLite's, say) would leave it
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
            "VALUES ('table', 'geo', 'geo', 0, 'CREATE VIRTUAL TABLE geo USING not_loaded_here(id, box)')"
        )

    verified = commands.verify(settings(sqlite_url, migrations_dir), fail_on_drift=True)
    assert verified.exit_code == 0, verified.error
    assert verified.details["verify"]["fingerprint"] == before
    assert verified.details["verify"]["warnings"] == [
        "unreadable_virtual_table geo: virtual table geo uses module not_loaded_here, which is not loaded here: "
        "it is left out of the snapshot and fingerprint"
    ]


def test_a_run_rolled_back_entirely_keeps_the_baseline(sqlite_url: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"})
    commands.up(settings(sqlite_url, migrations_dir))
    execute(sqlite_url, ["CREATE TABLE hand_made (id INTEGER)"])
    write(
        migrations_dir,
        {
            "002_b.up.sql": "CREATE TABLE b (id INTEGER);",
            "002_b.down.sql": "DROP TABLE b;",
            "003_c.sql": "CREATE TABLE c (id INTEGER);\nINSERT INTO missing VALUES (1);",
        },
    )
    failed = commands.up(settings(sqlite_url, migrations_dir))
    assert failed.exit_code == 1 and failed.details["rolled_back"] == ["2"]
    assert commands.verify(settings(sqlite_url, migrations_dir), fail_on_drift=True).exit_code == 5
