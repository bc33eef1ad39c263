"""Applying 1,000 tiny migrations on local PostgreSQL: dbmigrate vs raw psql vs Alembic, same run, same DDL.

psql applies every file in its own transaction over one connection (what a hand-rolled script does); Alembic
applies the same DDL as 1,000 revisions. Also: `dbmigrate --help` cold start, and `status` / `up` of one more
migration with 10,000 already applied (cost must not grow with history).
Targets: dbmigrate ≤ 1.2× psql, ≥ 2× faster than Alembic; --help ≤ 0.3 s; status and up-one ≤ 0.5 s at 10,000.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import BIN, fresh_pg_database, pg_url, run, timed

COUNT = 1000
_LIBRARIES = "import sqlalchemy.dialects.postgresql.psycopg, psycopg, sqlglot.dialects.postgres"
SMALL = 100
REPEATS = 3


def ddl(n: int) -> str:
    return f"CREATE TABLE bench_{n} (id INTEGER PRIMARY KEY, label VARCHAR(40));\n"


def write_sql(directory: Path, count: int) -> None:
    directory.mkdir(parents=True)
    for n in range(1, count + 1):
        (directory / f"{n:05d}_t{n}.sql").write_text(ddl(n))


def write_history(directory: Path, count: int) -> None:
    """A long history on a small schema (one table, then data migrations): history size is what varies."""
    directory.mkdir(parents=True)
    (directory / "00001_ledger.sql").write_text("CREATE TABLE ledger (n INTEGER NOT NULL);\n")
    for n in range(2, count + 1):
        (directory / f"{n:05d}_entry{n}.sql").write_text(f"INSERT INTO ledger (n) VALUES ({n});\n")


def bench_dbmigrate(directory: Path) -> float:
    with fresh_pg_database() as name:
        return timed(lambda: run([str(BIN / "dbmigrate"), "up", "--dir", str(directory), "--database", pg_url(name)]))


def bench_psql(directory: Path) -> float:
    script = directory.parent / "all.psql"
    script.write_text(
        "\\set ON_ERROR_STOP on\n"
        + "".join(f"BEGIN;\n\\i {path}\nCOMMIT;\n" for path in sorted(directory.glob("*.sql")))
    )
    with fresh_pg_database() as name:
        return timed(lambda: run(["psql", "-q", "-h", "127.0.0.1", "-U", "dbmigrate", "-d", name, "-f", str(script)]))


def bench_alembic(root: Path, count: int) -> float:
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    (root / "alembic" / "env.py").write_text(
        textwrap.dedent(
            """
            import os
            from alembic import context
            from sqlalchemy import create_engine
            engine = create_engine(os.environ["BENCH_URL"])
            with engine.connect() as connection:
                context.configure(connection=connection, transaction_per_migration=True)
                with context.begin_transaction():
                    context.run_migrations()
            """
        )
    )
    for n in range(1, count + 1):
        down = f"'{n - 1:05d}'" if n > 1 else "None"
        (versions / f"{n:05d}_t{n}.py").write_text(
            f"from alembic import op\nrevision = '{n:05d}'\ndown_revision = {down}\n"
            f"def upgrade():\n    op.execute({ddl(n)!r})\n"
        )
    with fresh_pg_database() as name:
        url = pg_url(name).replace("postgresql://", "postgresql+psycopg://")
        return timed(lambda: run([str(BIN / "alembic"), "upgrade", "head"], cwd=root, env_extra={"BENCH_URL": url}))


def bench_status(directory: Path, url: str) -> float:
    """`status` (best of 3) of an up-to-date database."""
    run([str(BIN / "dbmigrate"), "up", "--dir", str(directory), "--database", url])
    return min(
        timed(lambda: run([str(BIN / "dbmigrate"), "status", "--dir", str(directory), "--database", url]))
        for _ in range(3)
    )


def bench_history(directory: Path) -> tuple[float, float]:
    """`status`, then `up` of one more, with 10,000 migrations already applied (best of 3 for status)."""
    with fresh_pg_database() as name:
        url = pg_url(name)
        status = bench_status(directory, url)
        (directory / "10001_one_more.sql").write_text("INSERT INTO ledger (n) VALUES (10001);\n")
        up_one = timed(lambda: run([str(BIN / "dbmigrate"), "up", "--dir", str(directory), "--database", url]))
        return status, up_one


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_sql(root / "sql", COUNT)
        help_times = [timed(lambda: run([str(BIN / "dbmigrate"), "--help"])) for _ in range(5)]
        # The floor under every run on this machine: the interpreter importing the libraries the engine is built on.
        floor = min(timed(lambda: run([sys.executable, "-c", _LIBRARIES])) for _ in range(5))
        # Alternate the three, best of REPEATS each: on a shared 2-core machine single runs vary by 2x.
        runs: dict[str, list[float]] = {"dbmigrate": [], "psql": [], "alembic": []}
        for attempt in range(REPEATS):
            runs["psql"].append(bench_psql(root / "sql"))
            runs["dbmigrate"].append(bench_dbmigrate(root / "sql"))
            runs["alembic"].append(bench_alembic(root / f"alembic_project{attempt}", COUNT))
        ours, psql, alembic = min(runs["dbmigrate"]), min(runs["psql"]), min(runs["alembic"])
        # The marginal cost per migration (slope between 100 and 1,000 migrations) separates start-up cost
        # (imports, analysis, verification: paid once per run) from the per-migration cost.
        write_sql(root / "small", SMALL)
        small_ours = min(bench_dbmigrate(root / "small") for _ in range(REPEATS))
        small_psql = min(bench_psql(root / "small") for _ in range(REPEATS))
        write_history(root / "big", 10_000)
        status, up_one = bench_history(root / "big")
        # What grows with history, apart from the fixed start-up: status at 100 applied against 10,000.
        write_history(root / "short", SMALL)
        with fresh_pg_database() as name:
            short_status = bench_status(root / "short", pg_url(name))
    print(f"apply {COUNT} migrations (best of {REPEATS}): dbmigrate {ours:.2f}s, psql {psql:.2f}s, ", end="")
    print(f"alembic {alembic:.2f}s")
    print(f"  dbmigrate / psql    = {ours / psql:.2f}x   (target <= 1.2x)")
    print(f"  alembic / dbmigrate = {alembic / ours:.2f}x   (target >= 2x)")
    marginal_ours = (ours - small_ours) / (COUNT - SMALL) * 1000
    marginal_psql = (psql - small_psql) / (COUNT - SMALL) * 1000
    print(
        f"  per migration (slope {SMALL}->{COUNT}): dbmigrate {marginal_ours:.2f} ms, psql {marginal_psql:.2f} ms "
        f"= {marginal_ours / marginal_psql:.2f}x; "
        f"dbmigrate fixed start-up cost {small_ours - SMALL * marginal_ours / 1000:.2f}s"
    )
    print(f"dbmigrate --help cold start: median {statistics.median(help_times):.3f}s (target <= 0.3s)")
    print(f"floor: python importing SQLAlchemy, psycopg and sqlglot, nothing else: {floor:.2f}s")
    print(f"with 10,000 applied: status {status:.2f}s, up of one more {up_one:.2f}s (target <= 0.5s each)")
    growth = (status - short_status) / (10_000 - SMALL) * 1e6
    print(f"  status with {SMALL} applied {short_status:.2f}s: history adds {growth:.0f} us per applied migration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
