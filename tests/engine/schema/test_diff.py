"""Diffs between snapshots: exactly the objects that changed, each described in one line."""

from __future__ import annotations

import dataclasses

from dbmigrate.schema import Column, Constraint, Index, Routine, Schema, Sequence, Table, Trigger, Type, View
from dbmigrate.schema.diff import SchemaChange, diff, summarize
from tests.engine.schema.test_catalog import dialect_of, snapshot
from tests.fixtures.databases import execute

ID = Column("id", "integer", False, None, 1)
EMAIL = Column("email", "text", False, None, 2)
PKEY = Constraint("users_pkey", "primary key", ("id",))
USERS = Table("users", None, (ID, EMAIL), constraints=(PKEY,))
SEQ = Sequence("s", None, "bigint", 1, 1, 1, 100, 1, False)


def _changes(before: Schema, after: Schema) -> list[tuple[str, str, str, str]]:
    return [(c.kind, c.object_type, c.name, c.detail) for c in diff(before, after)]


def test_identical_schemas_have_no_changes() -> None:
    schema = Schema(tables=(USERS,), sequences=(SEQ,))
    assert diff(schema, schema) == []
    assert summarize([]) == ""


def test_added_and_dropped_tables_are_one_change_each() -> None:
    orders = Table("orders", "shop", (ID,))
    assert _changes(Schema(tables=(USERS,)), Schema(tables=(orders,))) == [
        ("dropped", "table", "users", "columns (id, email)"),  # the own schema's objects come first
        ("added", "table", "shop.orders", "columns (id)"),
    ]


def test_column_changes_name_the_fields_that_changed() -> None:
    age = Column("age", "integer", True, None, 3)
    after = dataclasses.replace(
        USERS,
        columns=(
            ID,
            dataclasses.replace(EMAIL, type="character varying(255)", nullable=True, default="''::text"),
            Column("nick", "text", True, None, 3),
        ),
    )
    before = dataclasses.replace(USERS, columns=(ID, EMAIL, age))
    email_change = "type text → character varying(255); nullable no → yes; default none → ''::text"
    assert _changes(Schema(tables=(before,)), Schema(tables=(after,))) == [
        ("dropped", "column", "users.age", "integer null"),
        ("changed", "column", "users.email", email_change),
        ("added", "column", "users.nick", "text null"),
    ]


def test_dropping_a_column_moves_no_other_but_reordering_does() -> None:
    a, b, c = (Column(n, "int", True, None, i) for i, n in enumerate("abc", start=1))
    table = Table("t", None, (a, b, c))
    without_a = Table("t", None, (dataclasses.replace(b, ordinal=1), dataclasses.replace(c, ordinal=2)))
    assert _changes(Schema(tables=(table,)), Schema(tables=(without_a,))) == [("dropped", "column", "t.a", "int null")]

    a_last = Table(
        "t",
        None,
        (
            dataclasses.replace(b, ordinal=1),
            dataclasses.replace(c, ordinal=2),
            dataclasses.replace(a, ordinal=3),
        ),
    )
    assert _changes(Schema(tables=(table,)), Schema(tables=(a_last,))) == [
        ("changed", "column", "t.a", "position 1 → 3")
    ]


def test_index_constraint_view_and_sequence_changes() -> None:
    index = Index("users_email_idx", ("email",), unique=False, method="btree", valid=True)
    check = Constraint("users_email_check", "check", expression="email <> ''", validated=True)
    view = View("v", None, "SELECT id\n  FROM users")
    before = Schema(tables=(dataclasses.replace(USERS, indexes=(index,)),), views=(view,), sequences=(SEQ,))
    after = Schema(
        tables=(
            dataclasses.replace(
                USERS,
                indexes=(dataclasses.replace(index, unique=True, valid=False),),
                constraints=(PKEY, check),
            ),
        ),
        views=(dataclasses.replace(view, definition="SELECT id FROM users WHERE id > 0"),),
        sequences=(dataclasses.replace(SEQ, increment=10, owned_by="users.id"),),
    )
    assert _changes(before, after) == [
        ("changed", "index", "users.users_email_idx", "unique no → yes; valid yes → no"),
        ("added", "constraint", "users.users_email_check", "check (email <> '')"),
        ("changed", "view", "v", "definition SELECT id FROM users → SELECT id FROM users WHERE id > 0"),
        ("changed", "sequence", "s", "increment 1 → 10; owned by none → users.id"),
    ]


def test_summary_and_json() -> None:
    fk = Constraint(
        "o_fk",
        "foreign key",
        ("user_id",),
        ref_table="users",
        ref_columns=("id",),
        on_delete="cascade",
        on_update="no action",
        validated=False,
    )
    orders = Table("orders", None, (ID,), indexes=(Index("o_idx", ("id DESC",), unique=False, predicate="id > 0"),))
    changes = diff(
        Schema(tables=(orders,)), Schema(tables=(dataclasses.replace(orders, indexes=(), constraints=(fk,)),))
    )
    assert summarize(changes) == (
        "dropped index orders.o_idx: (id DESC) where id > 0\n"
        "added constraint orders.o_fk: foreign key (user_id) references users (id) on delete cascade "
        "on update no action not valid"
    )
    assert changes[0].to_json() == {
        "kind": "dropped",
        "object_type": "index",
        "name": "orders.o_idx",
        "detail": "(id DESC) where id > 0",
    }
    assert isinstance(changes[0], SchemaChange)


def test_diff_of_real_migration(db_url: str) -> None:
    dialect = dialect_of(db_url)
    execute(
        db_url,
        [
            "CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL, age int)",
            "CREATE TABLE legacy (id int)",
            "CREATE INDEX users_age_idx ON users (age)",
            "CREATE VIEW adults AS SELECT id FROM users WHERE age >= 18",
        ],
    )
    before = snapshot(db_url)
    drop_index = "DROP INDEX users_age_idx ON users" if dialect == "mysql" else "DROP INDEX users_age_idx"
    execute(
        db_url,
        [
            "ALTER TABLE users ADD COLUMN nick varchar(30)",
            "DROP TABLE legacy",
            drop_index,
            "CREATE UNIQUE INDEX users_email_idx ON users (email)",
            "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id))",
            "DROP VIEW adults",
            "CREATE VIEW adults AS SELECT id FROM users WHERE age >= 21",
        ],
    )
    changes = diff(before, snapshot(db_url))
    assert [(c.kind, c.object_type, c.name) for c in changes] == [
        ("dropped", "table", "legacy"),
        ("added", "table", "orders"),
        ("added", "column", "users.nick"),
        ("dropped", "index", "users.users_age_idx"),
        ("added", "index", "users.users_email_idx"),
        ("changed", "view", "adults"),
    ]
    assert changes[0].detail == "columns (id)"
    assert "21" in changes[-1].detail
    assert len(summarize(changes).splitlines()) == len(changes)


def test_long_definitions_show_where_they_differ() -> None:
    columns = ", ".join(f"column_{i}" for i in range(30))
    before = Schema(views=(View("v", None, f"SELECT {columns} FROM t WHERE a = 1"),))
    after = Schema(views=(View("v", None, f"SELECT {columns} FROM t WHERE a = 2"),))
    [change] = diff(before, after)
    assert change.detail == "definition …29 FROM t WHERE a = 1 → …29 FROM t WHERE a = 2"


def test_a_dotted_table_name_is_not_mistaken_for_a_schema_qualified_one() -> None:
    qualified = Table("b", "a", (ID,))  # table b of schema a
    dotted = Table("a.b", None, (EMAIL,))  # a table named "a.b" in the own schema
    dotted_column = Table("a", None, (dataclasses.replace(EMAIL, name="b.email"),))
    both = Schema(tables=(qualified, dotted, Table("a", None, (ID,))))
    assert _changes(both, Schema(tables=(qualified, dotted_column))) == [
        ("added", "column", "a.b.email", "text not null"),
        ("dropped", "column", "a.id", "integer not null"),
        ("dropped", "table", "a.b", "columns (email)"),
    ]


def test_triggers_routines_types_and_table_options_are_diffed() -> None:
    trigger = Trigger("t_touch", "CREATE TRIGGER t_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION f()")
    before = Schema(
        tables=(dataclasses.replace(USERS, triggers=(trigger,), options=("engine InnoDB",)),),
        routines=(Routine("add1", None, "function", "i integer", "… SELECT i + 1"),),
        types=(Type("mood", None, "enum", ("happy", "sad")),),
        views=(View("mv", None, "SELECT 1", materialized=True),),
    )
    after = Schema(
        tables=(dataclasses.replace(USERS, triggers=(dataclasses.replace(trigger, enabled="disabled"),)),),
        routines=(Routine("add1", None, "function", "i bigint", "… SELECT i + 1"),),
        types=(Type("mood", None, "enum", ("happy", "sad", "angry")),),
        views=(View("mv", None, "SELECT 1", materialized=True, indexes=(Index("mv_id", ("id",), unique=True),)),),
    )
    assert _changes(before, after) == [
        ("changed", "table", "users", "options (engine InnoDB) → ()"),
        ("changed", "trigger", "users.t_touch", "enabled none → disabled"),
        ("added", "index", "mv.mv_id", "unique (id)"),
        ("added", "routine", "add1(i bigint)", "function: … SELECT i + 1"),
        ("dropped", "routine", "add1(i integer)", "function: … SELECT i + 1"),
        ("changed", "type", "mood", "definition (happy, sad) → (happy, sad, angry)"),
    ]
