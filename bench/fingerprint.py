"""How long a snapshot + fingerprint of a large PostgreSQL schema takes, against ``pg_dump --schema-only``.

Creates a scratch database on the local server (``scripts/services.sh``) with TABLES generated tables, each
with six columns, a primary key, one or two indexes and foreign keys to earlier tables, then times both (best
of three, connecting included) and drops the database. The target is a ratio of at most 0.5.

    .venv/bin/python bench/fingerprint.py [--tables 2000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from dbmigrate.schema import read_schema
from dbmigrate.schema.fingerprint import fingerprint

USER = os.environ.get("DBMIGRATE_TEST_USER", "dbmigrate")
PASSWORD = os.environ.get("DBMIGRATE_TEST_PASSWORD", "dbmigrate")
HOST, PORT = "127.0.0.1", 5432
TARGET_RATIO = 0.5


def generated_schema(tables: int) -> str:
    """DDL for ``tables`` tables; table i references one or two of the tables before it."""
    statements = []
    for i in range(tables):
        refs = sorted({i // 2, i * 7 // 10}) if i else []
        ref_columns = "".join(f", ref_{j} bigint REFERENCES t_{j} (id) ON DELETE CASCADE" for j in refs)
        statements.append(
            f"CREATE TABLE t_{i} (id bigserial PRIMARY KEY, name text NOT NULL, "
            f"amount numeric(12,2) NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now(), "
            f"note varchar(200){ref_columns}, CHECK (amount >= 0))"
        )
        statements.append(f"CREATE INDEX t_{i}_name_idx ON t_{i} (name)")
        if i % 2:
            statements.append(f"CREATE UNIQUE INDEX t_{i}_note_key ON t_{i} (lower(note)) WHERE note IS NOT NULL")
    return ";\n".join(statements)


def best_of(runs: int, *actions: Callable[[], object]) -> list[float]:
    """The shortest wall-clock time of each action over ``runs`` rounds, running the actions in turn."""
    best = [float("inf")] * len(actions)
    for _ in range(runs):
        for i, action in enumerate(actions):
            started = time.perf_counter()
            action()
            best[i] = min(best[i], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=2000)
    args = parser.parse_args()

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = f"host={HOST} port={PORT} user={USER} password={PASSWORD} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        started = time.perf_counter()
        with psycopg.connect(f"host={HOST} port={PORT} user={USER} password={PASSWORD} dbname={name}") as conn:
            conn.execute(generated_schema(args.tables))  # one transaction, one round trip
        print(f"created {args.tables} tables in {time.perf_counter() - started:.1f}s")

        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://{USER}:{PASSWORD}@{HOST}:{PORT}/{name}", poolclass=sqlalchemy.NullPool
        )
        digests = set()

        def snapshot() -> None:
            with engine.connect() as conn:
                schema = read_schema(conn, dialect="postgresql")
            digests.add(fingerprint(schema))

        def dump() -> None:
            subprocess.run(
                ["pg_dump", "-h", HOST, "-p", str(PORT), "-U", USER, "--schema-only", name],
                env={**os.environ, "PGPASSWORD": PASSWORD},
                stdout=subprocess.DEVNULL,
                check=True,
            )

        # Interleaved, so that load from elsewhere on the machine weighs on both alike.
        ours, theirs = best_of(3, snapshot, dump)
        engine.dispose()
        ratio = ours / theirs
        print(f"read_schema + fingerprint: {ours:.3f}s (best of 3), fingerprints seen: {len(digests)}")
        print(f"pg_dump --schema-only:     {theirs:.3f}s (best of 3)")
        print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x): {'OK' if ratio <= TARGET_RATIO else 'MISSED'}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
