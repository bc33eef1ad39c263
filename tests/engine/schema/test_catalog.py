"""Schema snapshots read from the real catalogs of PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import json
import re
from collections.abc import Collection

import sqlalchemy

from dbmigrate import dburl
from dbmigrate.schema import Column, Constraint, Index, Schema, Sequence, Trigger, Type, model, read_schema
from tests.fixtures.databases import execute

# Helpers shared by the schema tests (imported by the other test modules of this package).


def engine(url: str) -> tuple[sqlalchemy.Engine, str]:
    """An engine for a fixture URL and our dialect name for it."""
    parsed = dburl.parse(url)
    return sqlalchemy.create_engine(parsed, poolclass=sqlalchemy.NullPool), dburl.dialect_of(parsed)


def snapshot(url: str, *, exclude_tables: Collection[str] = ()) -> Schema:
    eng, dialect = engine(url)
    with eng.connect() as conn:
        schema = read_schema(conn, dialect=dialect, exclude_tables=exclude_tables)
    eng.dispose()
    return schema


def dialect_of(url: str) -> str:
    return dburl.dialect_of(dburl.parse(url))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


PG_SAMPLE = [
    """CREATE TABLE users (
        id bigserial PRIMARY KEY,
        email varchar(255) NOT NULL,
        name text,
        age integer DEFAULT 18 CHECK (age >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key UNIQUE (email)
    )""",
    """CREATE TABLE orders (
        id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        total numeric(10,2) NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'new',
        doubled numeric GENERATED ALWAYS AS (total * 2) STORED,
        CONSTRAINT orders_total_check CHECK (total >= 0)
    )""",
    "CREATE INDEX orders_user_idx ON orders (user_id, id DESC) INCLUDE (total)",
    "CREATE UNIQUE INDEX orders_open_idx ON orders (user_id) WHERE status = 'open'",
    "CREATE INDEX users_lower_email_idx ON users USING hash (lower(email))",
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
    "CREATE SEQUENCE invoice_numbers INCREMENT BY 10 START WITH 1000 MAXVALUE 999999 CACHE 5",
]


def test_postgresql_snapshot(pg_url: str) -> None:
    execute(pg_url, PG_SAMPLE)
    schema = snapshot(pg_url)

    assert [t.qualified_name for t in schema.tables] == ["orders", "users"]
    users, orders = schema.table("users"), schema.table("orders")
    assert users.schema is None  # public, the current schema: unqualified
    assert users.columns == (
        Column("id", "bigint", False, "nextval('users_id_seq'::regclass)", 1),
        Column("email", "character varying(255)", False, None, 2),
        Column("name", "text", True, None, 3),
        Column("age", "integer", True, "18", 4),
        Column("created_at", "timestamp with time zone", False, "now()", 5),
    )
    assert orders.column("id") == Column("id", "integer", False, None, 1, identity="always")
    assert orders.column("status").default == "'new'::text"
    assert orders.column("doubled") == Column(
        "doubled", "numeric", True, None, 5, generated="(total * (2)::numeric) stored"
    )

    assert users.constraints == (
        Constraint("users_age_check", "check", expression="age >= 0", validated=True),
        Constraint("users_email_key", "unique", ("email",), validated=True),
        Constraint("users_pkey", "primary key", ("id",), validated=True),
    )
    assert orders.constraint("orders_user_id_fkey") == Constraint(
        "orders_user_id_fkey",
        "foreign key",
        ("user_id",),
        ref_table="users",
        ref_columns=("id",),
        on_delete="cascade",
        on_update="no action",
        validated=True,
    )
    assert orders.constraint("orders_total_check").expression == "total >= 0::numeric"

    # Indexes behind the primary key and unique constraint are the constraints, not extra indexes.
    assert [i.name for i in users.indexes] == ["users_lower_email_idx"]
    assert users.index("users_lower_email_idx") == Index(
        "users_lower_email_idx", ("lower(email::text)",), unique=False, method="hash", valid=True
    )
    assert orders.indexes == (
        Index(
            "orders_open_idx",
            ("user_id",),
            unique=True,
            method="btree",
            predicate="status = 'open'::text",
            valid=True,
        ),
        Index(
            "orders_user_idx",
            ("user_id", "id DESC"),
            unique=False,
            method="btree",
            include=("total",),
            valid=True,
        ),
    )

    assert [v.name for v in schema.views] == ["big_orders"]
    assert "WHERE orders.total > 100" in squash(schema.view("big_orders").definition)

    assert schema.sequences == (
        Sequence("invoice_numbers", None, "bigint", 1000, 10, 1, 999999, 5, False),
        Sequence("orders_id_seq", None, "integer", 1, 1, 1, 2147483647, 1, False, owned_by="orders.id"),
        Sequence("users_id_seq", None, "bigint", 1, 1, 1, 9223372036854775807, 1, False, owned_by="users.id"),
    )


def test_postgresql_other_schemas_are_qualified_and_extensions_left_out(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE TABLE users (id int PRIMARY KEY)",
            "CREATE SCHEMA audit",
            'CREATE TABLE audit.log (id int PRIMARY KEY, user_id int REFERENCES users, "Mixed Case" text)',
            "CREATE INDEX log_user_idx ON audit.log (user_id)",
            "CREATE VIEW audit.recent AS SELECT id FROM audit.log",
            "CREATE EXTENSION pg_stat_statements",  # creates views of its own in public
        ],
    )
    schema = snapshot(pg_url)
    assert [t.qualified_name for t in schema.tables] == ["users", "audit.log"]
    log = schema.table("audit.log")
    assert log.schema == "audit"
    assert [c.name for c in log.columns] == ["id", "user_id", "Mixed Case"]
    assert log.constraint("log_user_id_fkey").ref_table == "users"
    assert log.index("log_user_idx").columns == ("user_id",)
    assert [v.qualified_name for v in schema.views] == ["audit.recent"]


def test_postgresql_exclusion_constraint_and_non_default_index_options(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE EXTENSION btree_gist",
            "CREATE TABLE bookings (room int, during tstzrange, note text,"
            " CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&))",
            "CREATE INDEX note_pattern_idx ON bookings (note text_pattern_ops NULLS FIRST, room DESC NULLS LAST)",
        ],
    )
    bookings = snapshot(pg_url).table("bookings")
    assert bookings.constraint("no_overlap").kind == "exclude"
    assert bookings.constraint("no_overlap").expression == "EXCLUDE USING gist (room WITH =, during WITH &&)"
    assert [i.name for i in bookings.indexes] == ["note_pattern_idx"]
    assert bookings.index("note_pattern_idx").columns == (
        "note text_pattern_ops NULLS FIRST",
        "room DESC NULLS LAST",
    )


def test_postgresql_triggers_routines_types_and_options(pg_url: str) -> None:
    execute(
        pg_url,
        [
            "CREATE TYPE mood AS ENUM ('happy', 'sad')",
            "CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0)",
            'CREATE TABLE p (id int PRIMARY KEY, name text COLLATE "C", m mood,'
            " CONSTRAINT p_name_key UNIQUE NULLS NOT DISTINCT (name))",
            "CREATE UNLOGGED TABLE c (id int, p_id int CONSTRAINT c_p_fk REFERENCES p MATCH FULL"
            " DEFERRABLE INITIALLY DEFERRED)",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER p_touch BEFORE UPDATE ON p FOR EACH ROW EXECUTE FUNCTION touch()",
            "ALTER TABLE p DISABLE TRIGGER p_touch",
            "CREATE MATERIALIZED VIEW mv AS SELECT id, m FROM p",
            "CREATE UNIQUE INDEX mv_id ON mv (id)",
        ],
    )
    schema = snapshot(pg_url)
    p, c = schema.table("p"), schema.table("c")
    assert p.column("name").collation == '"C"' and p.column("m").collation is None
    assert p.constraint("p_name_key").options == ("nulls not distinct",)
    assert c.constraint("c_p_fk").options == ("deferrable", "initially deferred", "match full")
    assert c.options == ("unlogged",) and p.options == ()
    assert p.triggers == (
        Trigger(
            "p_touch",
            "CREATE TRIGGER p_touch BEFORE UPDATE ON p FOR EACH ROW EXECUTE FUNCTION touch()",
            enabled="disabled",
        ),
    )
    assert schema.view("mv").indexes == (Index("mv_id", ("id",), unique=True, method="btree", valid=True),)
    touch = schema.routine("touch()")
    assert (touch.kind, touch.signature) == ("function", "")
    assert "RETURNS trigger" in (touch.definition or "")
    assert model.from_json(json.loads(json.dumps(schema.to_json()))) == schema  # as the state table keeps it
    assert schema.types == (
        Type("mood", None, "enum", ("happy", "sad")),
        Type("posint", None, "domain", ("integer", "not null", "default 1", "posint_check CHECK (VALUE > 0)")),
    )


MYSQL_SAMPLE = [
    """CREATE TABLE users (
        id bigint AUTO_INCREMENT PRIMARY KEY,
        email varchar(255) NOT NULL,
        name text,
        age int DEFAULT 18,
        created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        CONSTRAINT users_age_check CHECK (age >= 0),
        UNIQUE KEY users_email_key (email)
    )""",
    """CREATE TABLE orders (
        id int AUTO_INCREMENT PRIMARY KEY,
        user_id bigint NOT NULL,
        total decimal(10,2) NOT NULL DEFAULT 0,
        status varchar(20) NOT NULL DEFAULT 'new',
        doubled decimal(12,2) AS (total * 2) STORED,
        CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
        CONSTRAINT orders_total_check CHECK (total >= 0)
    )""",
    "CREATE INDEX orders_user_idx ON orders (user_id, id DESC)",
    "CREATE INDEX orders_status_idx ON orders (status(8))",
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
]


def test_mysql_snapshot(mysql_url: str) -> None:
    execute(mysql_url, MYSQL_SAMPLE)
    schema = snapshot(mysql_url)

    assert [t.name for t in schema.tables] == ["orders", "users"]
    users, orders = schema.table("users"), schema.table("orders")
    assert users.columns == (
        Column("id", "bigint(20)", False, None, 1, identity="auto_increment"),
        Column("email", "varchar(255)", False, None, 2, collation="utf8mb4_general_ci"),
        Column("name", "text", True, None, 3, collation="utf8mb4_general_ci"),
        Column("age", "int(11)", True, "18", 4),
        Column("created_at", "timestamp", False, "current_timestamp() on update current_timestamp()", 5),
    )
    assert users.options == ("engine InnoDB", "collation utf8mb4_general_ci")
    assert orders.column("total") == Column("total", "decimal(10,2)", False, "0.00", 3)
    assert orders.column("status").default == "'new'"
    assert orders.column("doubled").generated == "`total` * 2 stored"

    assert users.constraints == (
        Constraint("PRIMARY", "primary key", ("id",)),
        Constraint("users_age_check", "check", expression="`age` >= 0"),
    )
    assert orders.constraint("orders_user_fk") == Constraint(
        "orders_user_fk",
        "foreign key",
        ("user_id",),
        ref_table="users",
        ref_columns=("id",),
        on_delete="cascade",
        on_update="restrict",
    )
    # A UNIQUE key is a unique index in MySQL.
    assert users.indexes == (Index("users_email_key", ("email",), unique=True, method="btree"),)
    assert orders.index("orders_user_idx").columns == ("user_id", "id DESC")
    assert orders.index("orders_status_idx").columns == ("status(8)",)
    # MySQL dropped the index it made for the foreign key when orders_user_idx came to serve it.
    assert [i.name for i in orders.indexes] == ["orders_status_idx", "orders_user_idx"]

    view = schema.view("big_orders")
    assert "`orders`.`total` > 100" in view.definition
    database = dburl.parse(mysql_url).database
    assert database and database not in view.definition
    assert schema.sequences == ()


def test_mariadb_system_versioned_tables_and_sequences_are_read(mysql_url: str) -> None:
    execute(
        mysql_url,
        [
            "CREATE TABLE hist (id int PRIMARY KEY, v int) WITH SYSTEM VERSIONING",
            "CREATE INDEX hist_v ON hist (v)",
            "CREATE SEQUENCE invoice_seq START WITH 100 INCREMENT BY 5 CACHE 7",
            "SELECT NEXTVAL(invoice_seq)",  # a value is data: not in the snapshot
        ],
    )
    schema = snapshot(mysql_url)
    hist = schema.table("hist")
    assert hist.options == ("engine InnoDB", "collation utf8mb4_general_ci", "system versioning")
    assert [c.name for c in hist.columns] == ["id", "v"]
    assert [i.name for i in hist.indexes] == ["hist_v"]
    assert [t.name for t in schema.tables] == ["hist"]  # the sequence is no table
    assert schema.sequences == (Sequence("invoice_seq", None, "bigint", 100, 5, 1, 9223372036854775806, 7, False),)


def test_mysql_tables_whose_names_differ_only_in_case_stay_apart(mysql_url: str) -> None:
    execute(
        mysql_url,
        [
            "CREATE TABLE `T` (a int NOT NULL, b int NOT NULL, c int, PRIMARY KEY (a, b), KEY idx (b, c))",
            "CREATE TABLE `t` (x int NOT NULL, y int, PRIMARY KEY (x), KEY idx (y), KEY idx2 (x, y),"
            " CONSTRAINT t_fk FOREIGN KEY (x, y) REFERENCES `T` (a, b), CONSTRAINT c CHECK (y > 0))",
        ],
    )
    schema = snapshot(mysql_url)
    upper, lower = schema.table("T"), schema.table("t")
    assert upper.constraints == (Constraint("PRIMARY", "primary key", ("a", "b")),)
    assert upper.indexes == (Index("idx", ("b", "c"), unique=False, method="btree"),)
    assert lower.constraint("PRIMARY").columns == ("x",)
    assert lower.constraint("t_fk").ref_table == "T"
    assert lower.constraint("c").kind == "check"
    assert [(i.name, i.columns) for i in lower.indexes] == [("idx", ("y",)), ("idx2", ("x", "y"))]


SQLITE_SAMPLE = [
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email varchar(255) NOT NULL UNIQUE,
        name text,
        age integer DEFAULT 18 CHECK (age >= 0),
        created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
    )""",
    """CREATE TABLE orders (
        id integer NOT NULL,
        user_id integer NOT NULL REFERENCES users ON DELETE CASCADE,
        total numeric(10,2) NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'new',
        doubled numeric GENERATED ALWAYS AS (total * 2) STORED,
        PRIMARY KEY (id, user_id),
        CONSTRAINT orders_total_check CHECK (total >= 0 AND status <> 'x)')
    )""",
    "CREATE INDEX orders_user_idx ON orders (user_id, id DESC)",
    "CREATE UNIQUE INDEX orders_open_idx ON orders (user_id) WHERE status = 'open'",
    "CREATE INDEX users_lower_email_idx ON users (lower(email), name)",
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
]


def test_sqlite_snapshot(sqlite_url: str) -> None:
    execute(sqlite_url, [*SQLITE_SAMPLE, "INSERT INTO users (email) VALUES ('a@example.com')"])
    schema = snapshot(sqlite_url)

    assert [t.name for t in schema.tables] == ["orders", "users"]  # not sqlite_sequence
    users, orders = schema.table("users"), schema.table("orders")
    assert users.columns == (
        Column("id", "INTEGER", True, None, 1, identity="autoincrement"),
        Column("email", "varchar(255)", False, None, 2),
        Column("name", "TEXT", True, None, 3),
        Column("age", "INTEGER", True, "18", 4),
        Column("created_at", "timestamp", False, "CURRENT_TIMESTAMP", 5),
    )
    assert orders.column("status").default == "'new'"
    assert orders.column("doubled").generated == "total * 2 stored"

    assert users.constraints == (
        Constraint("users_check1", "check", expression="age >= 0"),
        Constraint("users_email_key", "unique", ("email",)),
        Constraint("users_pkey", "primary key", ("id",)),
    )
    assert orders.constraints == (
        Constraint("orders_pkey", "primary key", ("id", "user_id")),
        Constraint("orders_total_check", "check", expression="total >= 0 AND status <> 'x)'"),
        Constraint(
            "orders_user_id_fkey",
            "foreign key",
            ("user_id",),
            ref_table="users",
            ref_columns=("id",),  # implied: the referenced table's primary key
            on_delete="cascade",
            on_update="no action",
        ),
    )
    assert orders.indexes == (
        Index("orders_open_idx", ("user_id",), unique=True, predicate="status = 'open'"),
        Index("orders_user_idx", ("user_id", "id DESC"), unique=False),
    )
    assert users.indexes == (Index("users_lower_email_idx", ("lower(email)", "name"), unique=False),)
    assert schema.view("big_orders").definition == SQLITE_SAMPLE[-1]


def test_mariadb_on_update_column_without_default(mysql_url: str) -> None:
    execute(mysql_url, ["CREATE TABLE t (id int, touched datetime NULL ON UPDATE current_timestamp)"])
    assert snapshot(mysql_url).table("t").column("touched").default == "on update current_timestamp()"


def test_sqlite_foreign_keys_and_unique_constraints_on_the_same_columns_keep_apart(sqlite_url: str) -> None:
    execute(
        sqlite_url,
        [
            "CREATE TABLE x (id INTEGER PRIMARY KEY)",
            "CREATE TABLE y (id INTEGER PRIMARY KEY)",
            "CREATE TABLE c (a INTEGER REFERENCES x (id) UNIQUE, UNIQUE (a), FOREIGN KEY (a) REFERENCES y (id))",
        ],
    )
    c = snapshot(sqlite_url).table("c")
    assert [(k.name, k.kind, k.ref_table) for k in c.constraints] == [
        ("c_a_fkey", "foreign key", "y"),
        ("c_a_fkey1", "foreign key", "x"),
        ("c_a_key", "unique", None),  # SQLite keeps one index for the same UNIQUE written twice
    ]


def test_exclude_tables_leaves_out_their_indexes_constraints_and_sequences(db_url: str) -> None:
    serial = {"postgresql": "bigserial", "mysql": "bigint AUTO_INCREMENT", "sqlite": "INTEGER"}[dialect_of(db_url)]
    execute(
        db_url,
        [
            f"CREATE TABLE dbmigrate_history (id {serial} PRIMARY KEY, version varchar(50) NOT NULL UNIQUE)",
            "CREATE INDEX dbmigrate_history_version_idx ON dbmigrate_history (version, id)",
            "CREATE TABLE users (id int PRIMARY KEY)",
        ],
    )
    everything = snapshot(db_url)
    assert [t.name for t in everything.tables] == ["dbmigrate_history", "users"]

    schema = snapshot(db_url, exclude_tables=["dbmigrate_history"])
    assert [t.name for t in schema.tables] == ["users"]
    assert schema.sequences == ()  # PostgreSQL: the bigserial's sequence went with its table
    assert schema == Schema(tables=(everything.table("users"),))


def test_reads_each_kind_of_object_in_one_query_whatever_the_number_of_tables(db_url: str) -> None:
    def statements_to_read(tables: int) -> int:
        execute(db_url, [f"CREATE TABLE t{i}_{tables} (id int PRIMARY KEY, v int)" for i in range(tables)])
        eng, dialect = engine(db_url)
        counted: list[str] = []
        sqlalchemy.event.listen(eng, "before_cursor_execute", lambda *args: counted.append(args[2]))
        with eng.connect() as conn:
            counted.clear()  # not the connection's own set-up
            read_schema(conn, dialect=dialect)
        eng.dispose()
        return len(counted)

    few = statements_to_read(2)
    assert few <= 13
    assert statements_to_read(40) == few
