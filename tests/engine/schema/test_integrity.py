"""Integrity checks: what failed or unfinished DDL leaves behind on PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy

from dbmigrate.schema.integrity import IntegrityProblem, problems
from tests.engine.schema.test_catalog import engine, snapshot
from tests.fixtures.databases import execute


def _problems(url: str) -> list[IntegrityProblem]:
    eng, dialect = engine(url)
    with eng.connect() as conn:
        found = problems(conn, dialect=dialect)
    eng.dispose()
    return found


def test_clean_schema_has_no_problems(db_url: str) -> None:
    execute(db_url, ["CREATE TABLE t (id int PRIMARY KEY, v int)", "CREATE UNIQUE INDEX t_v_idx ON t (v)"])
    assert _problems(db_url) == []


def test_failed_concurrent_index_build_leaves_an_invalid_index(pg_url: str) -> None:
    execute(pg_url, ["CREATE TABLE t (id int PRIMARY KEY, v int)", "INSERT INTO t VALUES (1, 7), (2, 7)"])
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # duplicate values: the build fails half-way
        execute(pg_url, ["CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v)"])

    assert snapshot(pg_url).table("t").index("t_v_key").valid is False
    [problem] = _problems(pg_url)
    assert problem.kind == "invalid_index" and not problem.warning
    assert problem.name == "t.t_v_key"
    assert "DROP INDEX CONCURRENTLY t_v_key" in problem.message

    execute(
        pg_url,
        ["DROP INDEX t_v_key", "UPDATE t SET v = 8 WHERE id = 2", "CREATE UNIQUE INDEX t_v_key ON t (v)"],
    )
    assert _problems(pg_url) == []


def test_not_valid_constraints_are_reported_until_validated(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE TABLE users (id int PRIMARY KEY)",
            'CREATE TABLE "Orders" (id int PRIMARY KEY, user_id int, total int)',
            'ALTER TABLE "Orders" ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID',
            'ALTER TABLE "Orders" ADD CONSTRAINT "Total positive" CHECK (total > 0) NOT VALID',
        ],
    )
    found = _problems(pg_url)
    assert [(p.kind, p.name, p.warning) for p in found] == [
        ("unvalidated_constraint", "Orders.Total positive", True),
        ("unvalidated_constraint", "Orders.orders_user_fk", True),
    ]
    assert found[0].message.endswith('ALTER TABLE "Orders" VALIDATE CONSTRAINT "Total positive"')
    assert snapshot(pg_url).table("Orders").constraint("orders_user_fk").validated is False

    execute(pg_url, ['ALTER TABLE "Orders" VALIDATE CONSTRAINT orders_user_fk'])
    assert [p.name for p in _problems(pg_url)] == ["Orders.Total positive"]
    assert found[0].to_json()["kind"] == "unvalidated_constraint"


def test_a_partitioned_index_created_on_only_the_parent_is_a_step_to_finish(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
            "CREATE INDEX events_at ON ONLY events (at)",
            "CREATE INDEX CONCURRENTLY events_2024_at ON events_2024 (at)",
            "ALTER INDEX events_at ATTACH PARTITION events_2024_at",
        ],
    )
    [problem] = _problems(pg_url)
    assert (problem.kind, problem.name, problem.warning) == ("unattached_partitioned_index", "events.events_at", True)
    assert problem.message == (
        "index events_at on partitioned table events is not attached on every partition yet (missing: "
        "events_2025): create the index on each (CONCURRENTLY) and run ALTER INDEX events_at ATTACH PARTITION "
        "<that index>"
    )
    assert "DROP INDEX" not in problem.message

    execute(
        pg_url,
        ["CREATE INDEX events_2025_at ON events_2025 (at)", "ALTER INDEX events_at ATTACH PARTITION events_2025_at"],
    )
    assert _problems(pg_url) == []
