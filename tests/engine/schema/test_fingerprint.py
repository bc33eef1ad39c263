"""Fingerprints: equal for the same schema wherever and however it was built, different after any change."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator

import pytest
import sqlalchemy

from dbmigrate import dburl
from dbmigrate.schema import Column, Schema, Table
from dbmigrate.schema.fingerprint import canonical_json, fingerprint
from tests.engine.schema.test_catalog import dialect_of, snapshot
from tests.fixtures.databases import execute

USERS = "CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL, age int DEFAULT 0)"
ORDERS = "CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, total numeric(10,2){extra})"
FOREIGN_KEY = "CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"


def base_schema(dialect: str, *, reordered: bool = False) -> list[str]:
    """A small schema; ``reordered`` builds the same one with every independent step in another order."""
    if dialect == "sqlite":  # no ALTER TABLE ADD CONSTRAINT, but references may come before their table
        tables = [USERS, ORDERS.format(extra=f", {FOREIGN_KEY}")]
        foreign_key = []
    else:
        tables = [USERS, ORDERS.format(extra="")]
        foreign_key = [f"ALTER TABLE orders ADD {FOREIGN_KEY}"]
    indexes = [
        "CREATE INDEX users_email_idx ON users (email)",
        "CREATE INDEX orders_user_idx ON orders (user_id)",
    ]
    view = ["CREATE VIEW v_orders AS SELECT id, total FROM orders"]
    sequence = ["CREATE SEQUENCE invoice_seq START WITH 100"] if dialect == "postgresql" else []
    if reordered:
        return [*sequence, *tables[::-1], *indexes[::-1], *view, *foreign_key]
    return [*tables, *foreign_key, *indexes, *view, *sequence]


@contextlib.contextmanager
def another_database(url: str) -> Iterator[str]:
    """A second empty database on the same server as the fixture's (another file for SQLite)."""
    parsed = dburl.parse(url)
    dialect = dburl.dialect_of(parsed)
    if dialect == "sqlite":
        yield f"{url}.second"
        return
    name = f"{parsed.database}_second"
    quote = '"' if dialect == "postgresql" else "`"
    admin = sqlalchemy.create_engine(parsed, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        force = " WITH (FORCE)" if dialect == "postgresql" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {quote}{name}{quote}{force}")
        admin.dispose()


def test_fingerprint_is_sha256_of_the_canonical_json() -> None:
    schema = Schema(tables=(Table("t", None, (Column("id", "integer", False, None, 1),)),))
    digest = fingerprint(schema)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == "sha256:" + hashlib.sha256(canonical_json(schema).encode()).hexdigest()
    assert json.loads(canonical_json(schema)) == [
        [["t", None, [["id", "integer", False, None, 1, None, None, None]], [], [], [], []]],
        [],
        [],
        [],
        [],
    ]


def test_fingerprint_does_not_depend_on_the_order_objects_are_listed_in() -> None:
    a = Table("a", None, (Column("x", "int", True, None, 1), Column("y", "int", True, None, 2)))
    b = Table("b", "other", (Column("y", "int", True, None, 2), Column("x", "int", True, None, 1)))
    assert fingerprint(Schema(tables=(a, b))) == fingerprint(Schema(tables=(b, a)))


def test_same_ddl_in_two_databases_gives_the_same_fingerprint(db_url: str) -> None:
    dialect = dialect_of(db_url)
    execute(db_url, base_schema(dialect))
    first = fingerprint(snapshot(db_url))
    assert fingerprint(snapshot(db_url)) == first  # and again, on the same database

    with another_database(db_url) as other_url:  # another name, objects created in another order
        execute(other_url, base_schema(dialect, reordered=True))
        assert snapshot(other_url) == snapshot(db_url)
        assert fingerprint(snapshot(other_url)) == first


def test_a_dropped_column_leaves_no_trace(db_url: str) -> None:
    execute(db_url, ["CREATE TABLE t (a int, b int, c int)", "ALTER TABLE t DROP COLUMN b"])
    with another_database(db_url) as other_url:
        execute(other_url, ["CREATE TABLE t (a int, c int)"])
        assert fingerprint(snapshot(other_url)) == fingerprint(snapshot(db_url))


def test_data_and_sequence_values_do_not_change_the_fingerprint(db_url: str) -> None:
    dialect = dialect_of(db_url)
    serial = {
        "postgresql": "bigserial PRIMARY KEY",
        "mysql": "bigint AUTO_INCREMENT PRIMARY KEY",
        "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    }[dialect]
    execute(db_url, [*base_schema(dialect), f"CREATE TABLE counters (id {serial}, n int)"])
    before = fingerprint(snapshot(db_url))

    changes = ["INSERT INTO counters (n) VALUES (1), (2), (3)", "INSERT INTO users VALUES (1, 'a@b.c', 30)"]
    if dialect == "postgresql":
        changes += ["SELECT nextval('invoice_seq')", "SELECT setval('counters_id_seq', 500)", "ANALYZE"]
    execute(db_url, changes)
    assert fingerprint(snapshot(db_url)) == before


def _rebuild_users(columns: str) -> list[str]:
    return [
        "DROP TABLE users",
        f"CREATE TABLE users ({columns})",
        "CREATE INDEX users_email_idx ON users (email)",
    ]


def _rebuild_orders(extra: str) -> list[str]:
    return [
        "DROP VIEW v_orders",
        "DROP TABLE orders",
        ORDERS.format(extra=f", {FOREIGN_KEY}{extra}"),
        "CREATE INDEX orders_user_idx ON orders (user_id)",
        "CREATE VIEW v_orders AS SELECT id, total FROM orders",
    ]


_ANY = ("postgresql", "mysql", "sqlite")
_PG_MYSQL = ("postgresql", "mysql")
_PG_SQLITE = ("postgresql", "sqlite")
_USERS_COLUMNS = "id int PRIMARY KEY, email varchar(100) NOT NULL, age {age}"
_UNIQUE_EMAIL = "CREATE UNIQUE INDEX users_email_idx ON users (email)"
_ADD_FK_CASCADE = f"ALTER TABLE orders ADD {FOREIGN_KEY} ON DELETE CASCADE"
_VIEW_WHERE = "CREATE VIEW v_orders AS SELECT id, total FROM orders WHERE total > 0"

#: change → statements per dialect (a tuple of dialects: the same statements on each).
CHANGES: dict[str, dict[str | tuple[str, ...], list[str]]] = {
    "add table": {_ANY: ["CREATE TABLE extra (id int)"]},
    "add column": {_ANY: ["ALTER TABLE users ADD COLUMN nick varchar(20)"]},
    "drop column": {_ANY: ["ALTER TABLE users DROP COLUMN age"]},
    "rename column": {_ANY: ["ALTER TABLE users RENAME COLUMN age TO years"]},
    "column type": {
        "postgresql": ["ALTER TABLE users ALTER COLUMN age TYPE bigint"],
        "mysql": ["ALTER TABLE users MODIFY age bigint DEFAULT 0"],
        "sqlite": _rebuild_users(_USERS_COLUMNS.format(age="bigint DEFAULT 0")),
    },
    "column default": {
        _PG_MYSQL: ["ALTER TABLE users ALTER COLUMN age SET DEFAULT 1"],
        "sqlite": _rebuild_users(_USERS_COLUMNS.format(age="int DEFAULT 1")),
    },
    "column nullability": {
        "postgresql": ["ALTER TABLE users ALTER COLUMN age SET NOT NULL"],
        "mysql": ["ALTER TABLE users MODIFY age int NOT NULL DEFAULT 0"],
        "sqlite": _rebuild_users(_USERS_COLUMNS.format(age="int NOT NULL DEFAULT 0")),
    },
    "add index": {_ANY: ["CREATE INDEX users_age_idx ON users (age)"]},
    "index made unique": {
        _PG_SQLITE: ["DROP INDEX users_email_idx", _UNIQUE_EMAIL],
        "mysql": ["DROP INDEX users_email_idx ON users", _UNIQUE_EMAIL],
    },
    "index columns": {
        _PG_SQLITE: ["DROP INDEX orders_user_idx", "CREATE INDEX orders_user_idx ON orders (user_id, total)"],
        "mysql": [
            "CREATE INDEX orders_user_idx2 ON orders (user_id, total)",
            "DROP INDEX orders_user_idx ON orders",
            "ALTER TABLE orders RENAME INDEX orders_user_idx2 TO orders_user_idx",
        ],
    },
    "partial index predicate": {
        _PG_SQLITE: [
            "DROP INDEX orders_user_idx",
            "CREATE INDEX orders_user_idx ON orders (user_id) WHERE total > 0",
        ]
    },
    "add check constraint": {
        _PG_MYSQL: ["ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0)"],
        "sqlite": _rebuild_orders(", CONSTRAINT orders_total_check CHECK (total >= 0)"),
    },
    "foreign key action": {
        "postgresql": ["ALTER TABLE orders DROP CONSTRAINT orders_user_fk", _ADD_FK_CASCADE],
        "mysql": ["ALTER TABLE orders DROP FOREIGN KEY orders_user_fk", _ADD_FK_CASCADE],
        "sqlite": _rebuild_orders(" ON DELETE CASCADE"),
    },
    "view definition": {_ANY: ["DROP VIEW v_orders", _VIEW_WHERE]},
    "sequence increment": {"postgresql": ["ALTER SEQUENCE invoice_seq INCREMENT BY 5"]},
    "sequence bounds": {"postgresql": ["ALTER SEQUENCE invoice_seq MAXVALUE 100000"]},
}


def _statements(change: str, dialect: str) -> list[str] | None:
    for dialects, statements in CHANGES[change].items():
        if dialect == dialects or dialect in dialects:
            return statements
    return None


@pytest.mark.parametrize("change", CHANGES)
def test_every_kind_of_change_changes_the_fingerprint(db_url: str, change: str) -> None:
    dialect = dialect_of(db_url)
    statements = _statements(change, dialect)
    if statements is None:
        pytest.skip(f"{dialect} has no {change}")
    execute(db_url, base_schema(dialect))
    before = fingerprint(snapshot(db_url))
    execute(db_url, statements)
    assert fingerprint(snapshot(db_url)) != before


def test_following_the_integrity_remedies_does_not_change_the_fingerprint(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE TABLE p (id int PRIMARY KEY)",
            "CREATE TABLE c (id int, p_id int, v int)",
            "INSERT INTO c VALUES (1, NULL, 7), (2, NULL, 7)",
            "ALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID",
        ],
    )
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # duplicates: an invalid index is left behind
        execute(pg_url, ["CREATE UNIQUE INDEX CONCURRENTLY c_v_key ON c (v)"])
    left = snapshot(pg_url)
    assert left.table("c").index("c_v_key").valid is False  # still in the snapshot, for the integrity check

    execute(
        pg_url,
        [
            "ALTER TABLE c VALIDATE CONSTRAINT c_p_fk",
            "DROP INDEX CONCURRENTLY c_v_key",
            "UPDATE c SET v = 8 WHERE id = 2",
            "CREATE UNIQUE INDEX CONCURRENTLY c_v_key ON c (v)",
        ],
    )
    assert fingerprint(snapshot(pg_url)) == fingerprint(left)


#: Objects beyond tables, views and sequences, per dialect: triggers, routines, types, collations, generated columns.
EXTENDED: dict[str, list[str]] = {
    "postgresql": [
        "CREATE TYPE mood AS ENUM ('happy', 'sad')",
        "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
        "CREATE TABLE p (id int PRIMARY KEY, name text, m mood, n posint,"
        " doubled int GENERATED ALWAYS AS (id * 2) STORED, CONSTRAINT p_name_key UNIQUE (name))",
        "CREATE TABLE c (id int PRIMARY KEY, p_id int CONSTRAINT c_p_fk REFERENCES p (id))",
        "CREATE FUNCTION add1(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1'",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER p_touch BEFORE UPDATE ON p FOR EACH ROW EXECUTE FUNCTION touch()",
        "CREATE MATERIALIZED VIEW mv AS SELECT id, m FROM p",
        "CREATE INDEX p_name ON p (name)",
        "CREATE TABLE ev (id int, at date NOT NULL) PARTITION BY RANGE (at)",
        "CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "CREATE TABLE par (id int)",
        "CREATE TABLE chi (x int) INHERITS (par)",
    ],
    "mysql": [
        "CREATE TABLE p (id int PRIMARY KEY, name varchar(20), doubled int AS (id * 2) STORED) ENGINE=InnoDB",
        "CREATE FUNCTION add1(i int) RETURNS int DETERMINISTIC RETURN i + 1",
        "CREATE PROCEDURE proc1(IN x int) SELECT x",
        "CREATE TRIGGER p_touch BEFORE UPDATE ON p FOR EACH ROW SET NEW.name = NEW.name",
    ],
    "sqlite": [
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, doubled INT GENERATED ALWAYS AS (id * 2) VIRTUAL)",
        "CREATE TRIGGER p_touch AFTER UPDATE ON p BEGIN SELECT 1; END",
        "CREATE INDEX p_name ON p (name)",
    ],
}

_REBUILD_P = ["DROP TRIGGER p_touch", "DROP TABLE p"]
_TRIGGER = "CREATE TRIGGER p_touch AFTER UPDATE ON p BEGIN SELECT 1; END"
EXTENDED_CHANGES: dict[str, dict[str, list[str]]] = {
    "trigger dropped": {
        "postgresql": ["DROP TRIGGER p_touch ON p"],
        "mysql": ["DROP TRIGGER p_touch"],
        "sqlite": ["DROP TRIGGER p_touch"],
    },
    "trigger disabled": {"postgresql": ["ALTER TABLE p DISABLE TRIGGER p_touch"]},
    "trigger body": {
        "postgresql": [
            "DROP TRIGGER p_touch ON p",
            "CREATE TRIGGER p_touch AFTER UPDATE ON p FOR EACH ROW EXECUTE FUNCTION touch()",
        ],
        "mysql": ["DROP TRIGGER p_touch", "CREATE TRIGGER p_touch BEFORE UPDATE ON p FOR EACH ROW SET NEW.name = 'x'"],
        "sqlite": ["DROP TRIGGER p_touch", "CREATE TRIGGER p_touch AFTER UPDATE ON p BEGIN SELECT 2; END"],
    },
    "function body": {
        "postgresql": ["CREATE OR REPLACE FUNCTION add1(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 2'"],
        "mysql": ["DROP FUNCTION add1", "CREATE FUNCTION add1(i int) RETURNS int DETERMINISTIC RETURN i + 2"],
    },
    "trigger function body": {
        "postgresql": [
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"
        ],
    },
    "procedure dropped": {"mysql": ["DROP PROCEDURE proc1"]},
    "function overload added": {
        "postgresql": ["CREATE FUNCTION add1(i bigint) RETURNS bigint LANGUAGE sql AS 'SELECT i + 1'"]
    },
    "enum value added": {"postgresql": ["ALTER TYPE mood ADD VALUE 'angry'"]},
    "enum value renamed": {"postgresql": ["ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'"]},
    "domain constraint": {"postgresql": ["ALTER DOMAIN posint ADD CONSTRAINT big CHECK (VALUE > 10)"]},
    "column collation": {
        "postgresql": ['ALTER TABLE p ALTER COLUMN name TYPE text COLLATE "POSIX"'],
        "mysql": ["ALTER TABLE p MODIFY name varchar(20) COLLATE utf8mb4_bin"],
        "sqlite": [
            *_REBUILD_P,
            "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, "
            "doubled INT GENERATED ALWAYS AS (id * 2) VIRTUAL)",
            _TRIGGER,
            "CREATE INDEX p_name ON p (name)",
        ],
    },
    "table engine": {"mysql": ["ALTER TABLE p ENGINE=MyISAM"]},
    "table collation": {"mysql": ["ALTER TABLE p COLLATE utf8mb4_bin"]},
    "constraint deferrable": {"postgresql": ["ALTER TABLE c ALTER CONSTRAINT c_p_fk DEFERRABLE INITIALLY DEFERRED"]},
    "foreign key match full": {
        "postgresql": [
            "ALTER TABLE c DROP CONSTRAINT c_p_fk",
            "ALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id) MATCH FULL",
        ],
    },
    "unique nulls not distinct": {
        "postgresql": [
            "ALTER TABLE p DROP CONSTRAINT p_name_key",
            "ALTER TABLE p ADD CONSTRAINT p_name_key UNIQUE NULLS NOT DISTINCT (name)",
        ],
    },
    "materialized view index": {"postgresql": ["CREATE INDEX mv_m ON mv (m)"]},
    "unlogged table": {"postgresql": ["ALTER TABLE c SET UNLOGGED"]},
    "index collation": {
        "postgresql": ["DROP INDEX p_name", 'CREATE INDEX p_name ON p (name COLLATE "POSIX")'],
        "sqlite": ["DROP INDEX p_name", "CREATE INDEX p_name ON p (name COLLATE NOCASE)"],
    },
    "strict table": {
        "sqlite": [
            *_REBUILD_P,
            "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, "
            "doubled INT GENERATED ALWAYS AS (id * 2) VIRTUAL) STRICT",
            _TRIGGER,
            "CREATE INDEX p_name ON p (name)",
        ]
    },
    "partition detached": {"postgresql": ["ALTER TABLE ev DETACH PARTITION ev_2024"]},
    "partition bounds": {
        "postgresql": [
            "ALTER TABLE ev DETACH PARTITION ev_2024",
            "ALTER TABLE ev ATTACH PARTITION ev_2024 FOR VALUES FROM ('2023-01-01') TO ('2025-01-01')",
        ]
    },
    "inheritance": {"postgresql": ["ALTER TABLE chi NO INHERIT par"]},
    "generated expression": {
        "postgresql": [
            "DROP MATERIALIZED VIEW mv",
            "ALTER TABLE p DROP COLUMN doubled",
            "ALTER TABLE p ADD COLUMN doubled int GENERATED ALWAYS AS (id * 3) STORED",
            "CREATE MATERIALIZED VIEW mv AS SELECT id, name FROM p",
        ],
        "mysql": ["ALTER TABLE p MODIFY doubled int AS (id * 3) STORED"],
        "sqlite": [
            *_REBUILD_P,
            "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, doubled INT GENERATED ALWAYS AS (id * 3) VIRTUAL)",
            _TRIGGER,
            "CREATE INDEX p_name ON p (name)",
        ],
    },
}


@pytest.mark.parametrize("change", EXTENDED_CHANGES)
def test_changes_to_triggers_routines_types_and_storage_change_the_fingerprint(db_url: str, change: str) -> None:
    dialect = dialect_of(db_url)
    statements = EXTENDED_CHANGES[change].get(dialect)
    if statements is None:
        pytest.skip(f"{dialect} has no {change}")
    execute(db_url, EXTENDED[dialect])
    before = snapshot(db_url)
    with another_database(db_url) as other_url:  # and the same objects elsewhere fingerprint the same
        execute(other_url, EXTENDED[dialect])
        assert fingerprint(snapshot(other_url)) == fingerprint(before)
    execute(db_url, statements)
    assert fingerprint(snapshot(db_url)) != fingerprint(before)
