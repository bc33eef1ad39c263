"""Throughput of the destructive-change analysis on a ~5 MB PostgreSQL migration, against sqlglot's tokenizer.

The lint runs on every ``plan`` and ``up``, so it must stay a small multiple of merely tokenizing the SQL: it
splits the text (one tokenizer pass over the whole text), then tokenizes and parses each statement once. Besides
the whole-text tokenizer baseline this prints tokenizing (and linting) every statement separately, the linear
baseline: sqlglot's tokenizer slows down superlinearly on one multi-megabyte text (it copies its whole token list
at every statement-leading command keyword such as DO, and the garbage collector rescans the growing list), which
``split_statements`` and so ``lint_sql`` inherit on huge files.
Run: ``.venv/bin/python bench/lint_throughput.py [--mb 5] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlglot.dialects.dialect import Dialect

from dbmigrate.safety.lint import lint_sql
from dbmigrate.sqltext import split_statements

T = TypeVar("T")
_TYPES = ["bigint", "integer", "text", "varchar(255)", "boolean", "timestamptz", "numeric(12, 2)", "jsonb"]


def _table(rng: random.Random, n: int) -> str:
    columns = ",\n".join(
        f"    col_{i} {rng.choice(_TYPES)}{' NOT NULL' if rng.random() < 0.3 else ''}"
        for i in range(rng.randint(3, 12))
    )
    return f"-- table {n}\nCREATE TABLE app.table_{n} (\n    id bigserial PRIMARY KEY,\n{columns}\n);\n"


def _insert(rng: random.Random, n: int) -> str:
    rows = ",\n".join(f"    ({i}, 'name {i}; DROP TABLE x', {rng.random():.4f}, now())" for i in range(20))
    return f"INSERT INTO app.table_{n} (id, name, score, created_at) VALUES\n{rows};\n"


_STATEMENTS: list[Callable[[random.Random, int], str]] = [
    _table,
    _insert,
    lambda rng, n: f"CREATE INDEX CONCURRENTLY idx_{n} ON app.table_{n} (col_1, col_2) WHERE col_3 IS NOT NULL;\n",
    lambda rng, n: f"ALTER TABLE app.table_{n} ADD COLUMN extra_{n} text DEFAULT 'x' NOT NULL;\n",
    lambda rng, n: (
        f"UPDATE app.table_{n} SET col_1 = col_1 + 1, updated_at = now()\n"
        f"WHERE id IN (SELECT id FROM app.table_{n} WHERE col_2 > {n} ORDER BY id LIMIT 1000);\n"
    ),
    lambda rng, n: (
        f"ALTER TABLE app.table_{n} ADD CONSTRAINT fk_{n} FOREIGN KEY (col_1) REFERENCES app.parent (id) NOT VALID;\n"
        f"ALTER TABLE app.table_{n} VALIDATE CONSTRAINT fk_{n};\n"
    ),
    lambda rng, n: f"COMMENT ON COLUMN app.table_{n}.col_1 IS 'see ticket {n}';\n",
    lambda rng, n: (
        f"CREATE OR REPLACE VIEW app.view_{n} AS\n"
        f"  SELECT t.id, t.col_1, count(*) AS c FROM app.table_{n} t JOIN app.parent p ON p.id = t.col_1\n"
        f"  GROUP BY t.id, t.col_1 HAVING count(*) > 1;\n"
    ),
    lambda rng, n: f"DO $$ BEGIN RAISE NOTICE 'step {n}; DROP nothing'; END $$;\n",
    lambda rng, n: f"DROP INDEX CONCURRENTLY IF EXISTS app.old_idx_{n};\n",
    lambda rng, n: f"ALTER TABLE app.table_{n} RENAME COLUMN col_1 TO col_one;\n",
    lambda rng, n: f"DELETE FROM app.table_{n} WHERE created_at < now() - interval '90 days';\n",
]


def generate(megabytes: float, *, seed: int = 7) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    size, n = 0, 0
    while size < megabytes * 1_000_000:
        part = rng.choice(_STATEMENTS)(rng, n)
        parts.append(part)
        size += len(part)
        n += 1
    return "".join(parts)


def timed(run: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The best wall time of ``repeats`` runs, and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0, help="size of the generated SQL in MB (default 5)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per measurement; the best counts")
    args = parser.parse_args()

    sql = generate(args.mb)
    megabytes = len(sql.encode()) / 1_000_000
    postgres = Dialect.get_or_raise("postgres")

    tokenize, _ = timed(lambda: postgres.tokenize(sql), args.repeats)
    split, statements = timed(lambda: split_statements(sql, dialect="postgresql"), args.repeats)
    texts = [statement.text for statement in statements]
    tokenize_each, _ = timed(lambda: [postgres.tokenize(text) for text in texts], args.repeats)
    lint, findings = timed(lambda: lint_sql(sql, dialect="postgresql", file="bench.sql"), args.repeats)
    lint_each, _ = timed(lambda: [lint_sql(text, dialect="postgresql", file="b.sql") for text in texts], args.repeats)

    count = len(statements)
    print(f"input:               {megabytes:.2f} MB, {count} statements, {len(findings)} findings")
    for label, seconds in [
        ("tokenize whole text", tokenize),
        ("tokenize each stmt", tokenize_each),
        ("split_statements", split),
        ("lint_sql", lint),
        ("lint_sql each stmt", lint_each),
    ]:
        print(f"{label + ':':21}{seconds:7.2f} s {megabytes / seconds:6.2f} MB/s {count / seconds:9,.0f} statements/s")
    print(f"ratio lint/tokenize whole text: {lint / tokenize:.1f}x")
    print(f"ratio lint/tokenize each statement: {lint / tokenize_each:.1f}x")
    print(f"ratio lint each statement/tokenize each statement: {lint_each / tokenize_each:.1f}x")


if __name__ == "__main__":
    main()
