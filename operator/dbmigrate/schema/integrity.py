"""Leftovers of interrupted or partial DDL that a schema check should flag (PostgreSQL only).

A failed ``CREATE INDEX CONCURRENTLY`` leaves an invalid index behind: the planner ignores it, yet every write
still maintains it, and a unique one still rejects rows; a failure. A constraint added ``NOT VALID`` (the safe
first step of adding a foreign key or check to a big table) is not enforced on existing rows until ``VALIDATE
CONSTRAINT`` runs: a warning, since the second step may well be a later migration. MySQL and SQLite have
neither state; SQLite warns of the virtual tables left out of the snapshot, whose module is not loaded.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import sqlalchemy

from dbmigrate.schema.catalog import rows, sqlite
from dbmigrate.schema.catalog.postgresql import USER_RELATION
from dbmigrate.schema.model import qualify

ProblemKind = Literal[
    "invalid_index", "unattached_partitioned_index", "unvalidated_constraint", "unreadable_virtual_table"
]

# An index still being built concurrently is invalid too, but not (yet) a problem. An index made ON ONLY a
# partitioned table (relkind 'I') stays invalid until an index of each partition is attached to it: the partitions
# still missing one are listed.
_INVALID_INDEXES = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, i.relname, x.indexrelid::regclass::text, c.oid::regclass::text,
       CASE WHEN i.relkind = 'I' THEN ARRAY(
           SELECT p.inhrelid::regclass::text FROM pg_inherits p
           WHERE p.inhparent = c.oid AND NOT EXISTS (
               SELECT 1 FROM pg_inherits a JOIN pg_index ax ON ax.indexrelid = a.inhrelid
               WHERE a.inhparent = x.indexrelid AND ax.indrelid = p.inhrelid)
           ORDER BY 1) END
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT x.indisvalid AND {USER_RELATION}
  AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = x.indexrelid)
ORDER BY 1, 2, 3
"""

_UNVALIDATED_CONSTRAINTS = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, k.conname, c.oid::regclass::text,
       quote_ident(k.conname)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT k.convalidated AND {USER_RELATION}
ORDER BY 1, 2, 3
"""


@dataclasses.dataclass(frozen=True)
class IntegrityProblem:
    """One problem: ``name`` is ``table.index`` or ``table.constraint``; ``message`` says what to do; a
    ``warning`` is a step of a documented procedure still to finish, not a failure."""

    kind: ProblemKind
    name: str
    message: str
    warning: bool = False

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def problems(conn: sqlalchemy.Connection, *, dialect: str) -> list[IntegrityProblem]:
    """Invalid indexes (failures) and NOT VALID constraints (warnings) in PostgreSQL's user schemas; SQLite's
    unreadable virtual tables (warnings); nothing on MySQL."""
    if dialect == "sqlite":
        return [_unreadable(name, module) for name, module in sqlite.unreadable_virtual_tables(conn).items()]
    if dialect != "postgresql":
        return []
    found = []
    # Messages name objects as SQL needs them written (quoted where necessary), for copying into a migration.
    for schema, table, index, index_sql, table_sql, unattached in rows(conn, _INVALID_INDEXES):
        if unattached is not None:
            found.append(_unattached(f"{qualify(schema, table)}.{index}", index_sql, table_sql, unattached))
            continue
        found.append(
            IntegrityProblem(
                kind="invalid_index",
                name=f"{qualify(schema, table)}.{index}",
                message=(
                    f"index {index_sql} is invalid (a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY "
                    "failed): queries do not use it but writes still maintain it; run "
                    f"DROP INDEX CONCURRENTLY {index_sql} and create it again"
                ),
            )
        )
    for schema, table, constraint, table_sql, constraint_sql in rows(conn, _UNVALIDATED_CONSTRAINTS):
        found.append(
            IntegrityProblem(
                kind="unvalidated_constraint",
                name=f"{qualify(schema, table)}.{constraint}",
                message=(
                    f"constraint {constraint_sql} on {table_sql} is NOT VALID: existing rows were never "
                    f"checked; run ALTER TABLE {table_sql} VALIDATE CONSTRAINT {constraint_sql}"
                ),
                warning=True,
            )
        )
    return found


def _unattached(name: str, index_sql: str, table_sql: str, partitions: list[str]) -> IntegrityProblem:
    """Step 1 of building an index on a partitioned table without locking it: not a failed build, so no DROP."""
    missing = f" (missing: {', '.join(partitions)})" if partitions else ""
    return IntegrityProblem(
        kind="unattached_partitioned_index",
        name=name,
        message=(
            f"index {index_sql} on partitioned table {table_sql} is not attached on every partition yet{missing}: "
            f"create the index on each (CONCURRENTLY) and run ALTER INDEX {index_sql} ATTACH PARTITION <that index>"
        ),
        warning=True,
    )


def _unreadable(name: str, module: str) -> IntegrityProblem:
    return IntegrityProblem(
        kind="unreadable_virtual_table",
        name=name,
        message=(
            f"virtual table {name} uses module {module}, which is not loaded here: it is left out of the "
            "snapshot and fingerprint"
        ),
        warning=True,
    )
