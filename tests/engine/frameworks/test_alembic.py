"""Alembic projects run for real, one timed revision at a time, under dbmigrate's lock and report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy

from dbmigrate import database, dburl, errors, outcome
from tests.engine.frameworks import (
    Recorder,
    copy_sample,
    down,
    query,
    settings,
    status,
    tables,
    up,
)

REVISIONS = ["ae1027a6acf", "1975ea83b712", "27c6a30d7c24"]
FILES = ["ae1027a6acf_add_users.py", "1975ea83b712_add_orders.py", "27c6a30d7c24_index_user_email.py"]

BROKEN_REVISION = '''"""half done

Revision ID: 5f0c0ffee000
Revises: 27c6a30d7c24
"""
import sqlalchemy as sa
from alembic import op

revision = "5f0c0ffee000"
down_revision = "27c6a30d7c24"


def upgrade() -> None:
    op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO no_such_table VALUES (1)")


def downgrade() -> None:
    op.drop_table("audit")
'''


SIDE_BRANCH = '''"""side branch, parallel to the index revision"""
import sqlalchemy as sa
from alembic import op

revision = "b1b1b1b1b1b1"
down_revision = "1975ea83b712"


def upgrade() -> None:
    op.create_table("side", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("side")
'''

MERGE = '''"""merge the branches"""
revision = "c9c9c9c9c9c9"
down_revision = ("b1b1b1b1b1b1", "27c6a30d7c24")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample("alembic_project", tmp_path)


def _indexes(url: str, table: str) -> set[str]:
    engine = sqlalchemy.create_engine(dburl.parse(url), poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            return {str(index["name"]) for index in sqlalchemy.inspect(conn).get_indexes(table)}
    finally:
        engine.dispose()


def test_status_up_status_applies_each_revision_as_a_timed_step(db_url: str, project: Path) -> None:
    config = settings(db_url, project)
    before = status(config)
    assert before["current_version"] is None and before["applied"] == []
    assert [p["version"] for p in before["pending"]] == REVISIONS
    assert [p["file"] for p in before["pending"]] == FILES

    report = Recorder()
    result = up(config, report=report)

    pending = result.check("pending")
    assert pending is not None and pending.message == "3 pending migrations"
    assert [(m.version, m.file, m.direction, m.status) for m in result.migrations] == [
        (rev, file, "up", "applied") for rev, file in zip(REVISIONS, FILES, strict=True)
    ]
    assert all(m.seconds >= 0 for m in result.migrations) and result.history_updated
    assert [e[1] for e in report.events if e[0] == "started"] == [(i, 3, f) for i, f in enumerate(FILES, 1)]
    assert sum(e[0] == "finished" for e in report.events) == 3
    assert {"users", "orders", "alembic_version"} <= tables(db_url)
    assert "ix_users_email" in _indexes(db_url, "users")
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("27c6a30d7c24",)]
    after = status(config)
    assert after["current_version"] == "27c6a30d7c24"
    assert after["applied"] == REVISIONS and after["pending"] == []
    assert up(config).migrations == []


def test_down_reverts_one_revision_then_down_to_base(db_url: str, project: Path) -> None:
    config = settings(db_url, project)
    up(config)

    one = down(config)
    assert [(m.version, m.direction, m.status) for m in one.migrations] == [("27c6a30d7c24", "down", "reverted")]
    assert "ix_users_email" not in _indexes(db_url, "users")
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("1975ea83b712",)]

    rest = down(config, target="base")
    assert [m.version for m in rest.migrations] == ["1975ea83b712", "ae1027a6acf"]
    assert not {"users", "orders"} & tables(db_url)
    assert status(config)["applied"] == []


def test_up_to_a_target_stops_there_and_down_steps_counts(sqlite_url: str, project: Path) -> None:
    config = settings(sqlite_url, project)
    result = up(config, target="1975ea83b712")
    assert [m.version for m in result.migrations] == REVISIONS[:2]
    assert [p["version"] for p in status(config)["pending"]] == REVISIONS[2:]
    assert [m.version for m in down(config, steps=2).migrations] == ["1975ea83b712", "ae1027a6acf"]
    with pytest.raises(errors.UsageError, match="only 0 applied"):
        down(config)
    with pytest.raises(errors.UsageError, match="Alembic target 'feedface': Can't locate revision"):
        up(config, target="feedface")


def test_failed_revision_is_rolled_back_and_reported(pg_url: str, project: Path) -> None:
    (project / "alembic" / "versions" / "5f0c0ffee000_half_done.py").write_text(BROKEN_REVISION)
    config = settings(pg_url, project)
    report = Recorder()
    result = outcome.Outcome(action="up")
    with pytest.raises(errors.MigrationError, match="no_such_table") as failure:
        up(config, result=result, report=report, rollback_on_failure=False)
    assert failure.value.message.startswith("5f0c0ffee000_half_done.py: ")
    assert "127.0.0.1" not in failure.value.message
    assert report.events[-1] == ("failed", failure.value.message)
    assert [(m.file, m.status) for m in result.migrations] == [(f, "applied") for f in FILES] + [
        ("5f0c0ffee000_half_done.py", "failed")
    ]
    assert result.migrations[-1].error == failure.value.message
    # The good revisions stay applied; PostgreSQL's transactional DDL undid the broken one's table.
    assert "audit" not in tables(pg_url)
    assert query(pg_url, "SELECT version_num FROM alembic_version") == [("27c6a30d7c24",)]


def test_a_second_runner_waits_for_our_run_lock(db_url: str, project: Path) -> None:
    config = settings(db_url, project)
    impatient = dataclasses.replace(config, lock_wait=0.5)
    with database.connect(config.url) as (conn, dialect):
        dialect.acquire_lock(conn, key=f"dbmigrate:{config.history_table}", timeout=5)
        try:
            with pytest.raises(errors.LockTimeoutError):
                up(impatient)
        finally:
            dialect.release_lock(conn, key=f"dbmigrate:{config.history_table}")
    assert "users" not in tables(db_url)
    assert len(up(config).migrations) == 3


def test_the_backup_gate_refuses_before_any_revision_runs(sqlite_url: str, project: Path) -> None:
    config = settings(sqlite_url, project, backup_policy="require")
    with pytest.raises(errors.SafetyGateError, match="no backup provider"):
        up(config)
    assert "users" not in tables(sqlite_url)
    skipped = up(settings(sqlite_url, project, backup_policy="skip"))
    backup = skipped.check("backup")
    assert backup is not None and backup.ok is None and "skipped" in backup.message
    assert len(skipped.migrations) == 3


def test_branches_and_merges_revert_exactly_one_revision_per_step(sqlite_url: str, project: Path) -> None:
    versions = project / "alembic" / "versions"
    (versions / "b1b1b1b1b1b1_side.py").write_text(SIDE_BRANCH)
    (versions / "c9c9c9c9c9c9_merge.py").write_text(MERGE)
    config = settings(sqlite_url, project)
    assert len(up(config).migrations) == 5
    assert status(config)["current_version"] == "c9c9c9c9c9c9"

    assert [m.version for m in down(config).migrations] == ["c9c9c9c9c9c9"]
    assert sorted(status(config)["current_version"].split(",")) == ["27c6a30d7c24", "b1b1b1b1b1b1"]
    # Reverting one branch's head leaves the other branch applied.
    assert [m.version for m in down(config).migrations] == ["27c6a30d7c24"]
    assert "side" in tables(sqlite_url) and "ix_users_email" not in _indexes(sqlite_url, "users")
    assert status(config)["current_version"] == "b1b1b1b1b1b1"
    assert [m.version for m in down(config, target="ae1027a6acf").migrations] == [
        "b1b1b1b1b1b1",
        "1975ea83b712",
    ]
    assert status(config)["applied"] == ["ae1027a6acf"] and "side" not in tables(sqlite_url)
