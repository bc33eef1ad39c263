"""Statement splitting that respects strings, identifiers, comments and dollar quoting."""

from __future__ import annotations

import pytest

from dbmigrate import errors
from dbmigrate.sqltext import Statement, copies_with_client, split_statements, transaction_body


def test_semicolons_inside_strings_comments_and_dollar_bodies_do_not_split() -> None:
    sql = (
        "-- header; comment\n"
        'CREATE TABLE "a;b" (id int);\n'
        "/* block; */ INSERT INTO t VALUES ('x;y');\n"
        "DO $$ BEGIN RAISE NOTICE 'a;b'; END $$;\n"
        "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql;\n"
        "-- trailing comment only\n"
    )
    statements = split_statements(sql, dialect="postgresql")
    assert [s.line for s in statements] == [2, 3, 4, 5]
    assert statements[0].text == '-- header; comment\nCREATE TABLE "a;b" (id int)'
    assert statements[2].text.endswith("END $$")


def test_mysql_backticks_and_hash_comments() -> None:
    statements = split_statements("# note; here\nCREATE TABLE `x;y` (id int);\nSELECT 1", dialect="mysql")
    assert [(s.line, s.text.splitlines()[-1]) for s in statements] == [
        (2, "CREATE TABLE `x;y` (id int)"),
        (3, "SELECT 1"),
    ]


def test_first_line_offsets_line_numbers_for_file_sections() -> None:
    (statement,) = split_statements("\n\nSELECT 1;", dialect="sqlite", first_line=10)
    assert statement.line == 12


def test_untokenizable_text_is_one_statement_for_the_database_to_judge() -> None:
    statements = split_statements("\nSELECT 'unterminated;\nSELECT 2;", dialect="postgresql")
    assert len(statements) == 1 and statements[0].line == 2


def test_only_comments_gives_no_statements() -> None:
    assert split_statements("-- nothing\n/* here */\n", dialect="postgresql") == ()


def test_line_ending_semicolons_inside_strings_comments_and_bodies_do_not_split() -> None:
    sql = (
        "CREATE TABLE a (  -- columns follow;\n"
        "  id INTEGER);\n"
        "INSERT INTO a VALUES ('first line;\n"
        "second line');\n"
        "CREATE FUNCTION f() RETURNS int AS $$\n"
        "BEGIN\n"
        "  PERFORM 1;\n"
        "  RETURN 2;\n"
        "END $$ LANGUAGE plpgsql;\n"
        "-- dbmigrate:allow drop_table;\n"
        "DROP TABLE a;\n"
    )
    statements = split_statements(sql, dialect="postgresql", first_line=5)
    assert [s.line for s in statements] == [5, 7, 9, 15]
    assert statements[0].text == "CREATE TABLE a (  -- columns follow;\n  id INTEGER)"
    assert statements[1].text.endswith("second line')")
    assert "RETURN 2;" in statements[2].text
    assert statements[3].text == "-- dbmigrate:allow drop_table;\nDROP TABLE a"


@pytest.mark.parametrize(
    ("text", "dialect", "expected"),
    [
        ("COPY t FROM STDIN", "postgresql", True),
        ("-- the rows\n/* from the app */ copy t (a, b) TO stdout WITH (FORMAT csv)", "postgresql", True),
        ("COPY t FROM '/srv/stdin.csv'", "postgresql", False),
        ("COPY \"stdin\" FROM '/srv/data.csv'", "postgresql", False),
        ("INSERT INTO copy_log VALUES ('COPY t FROM STDIN')", "postgresql", False),
        ("COPY t FROM STDIN", "mysql", False),
    ],
)
def test_copies_with_client_only_for_copy_from_stdin_or_to_stdout(text: str, dialect: str, expected: bool) -> None:
    assert copies_with_client(Statement(text, 1), dialect=dialect) is expected


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("CREATE TRIGGER t AFTER INSERT ON x BEGIN\n  INSERT INTO y VALUES (1);\n  DELETE FROM z;\nEND;", "sqlite"),
        (
            "CREATE PROCEDURE p() BEGIN\n  IF 1 THEN SELECT 1; END IF;\n  WHILE 0 DO SELECT 2; END WHILE;\n"
            "  CASE 1 WHEN 1 THEN SELECT 3; ELSE SELECT 4; END CASE;\n  SELECT CASE WHEN 1 THEN 5 END;\nEND;",
            "mysql",
        ),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE SQL\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;", "postgresql"),
    ],
    ids=["sqlite-trigger", "mysql-procedure", "postgresql-begin-atomic"],
)
def test_a_begin_end_body_of_a_create_is_not_split(sql: str, dialect: str) -> None:
    statements = split_statements(sql + "\nSELECT 9;", dialect=dialect)
    assert [s.text for s in statements] == [sql.rstrip(";"), "SELECT 9"]
    assert [s.line for s in statements] == [1, sql.count("\n") + 2]


def test_case_expressions_and_top_level_begin_still_split() -> None:
    sql = "CREATE VIEW v AS SELECT CASE WHEN 1 = 1 THEN 'a' END AS c;\nBEGIN;\nSELECT 1;\nEND;"
    assert [s.text for s in split_statements(sql, dialect="postgresql")] == [
        "CREATE VIEW v AS SELECT CASE WHEN 1 = 1 THEN 'a' END AS c",
        "BEGIN",
        "SELECT 1",
        "END",
    ]


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_a_sequence_starting_with_a_value_does_not_open_a_block(dialect: str) -> None:
    sql = "CREATE SEQUENCE s1 START WITH 100;\nCREATE TABLE t (id int);"
    assert [s.text for s in split_statements(sql, dialect=dialect)] == [
        "CREATE SEQUENCE s1 START WITH 100",
        "CREATE TABLE t (id int)",
    ]


@pytest.mark.parametrize(
    ("sql", "kept"),
    [
        ("BEGIN;\nSELECT 1;\nCOMMIT;", ["SELECT 1"]),
        ("START TRANSACTION;\nSELECT 1;\nEND;", ["SELECT 1"]),
        ("BEGIN WORK;\nSELECT 1;\nCOMMIT WORK;", ["SELECT 1"]),
        ("SAVEPOINT s;\nSELECT 1;\nROLLBACK TO SAVEPOINT s;\nRELEASE SAVEPOINT s;", None),
        ("SELECT 'commit';\nSELECT 1 AS \"begin\";\nSELECT prepared FROM t;", None),
    ],
)
def test_a_wrapping_transaction_is_dropped_and_savepoints_stay(sql: str, kept: list[str] | None) -> None:
    statements = split_statements(sql, dialect="postgresql")
    body = transaction_body(statements, dialect="postgresql", filename="f.sql")
    assert [s.text for s in body] == (kept if kept is not None else [s.text for s in statements])


@pytest.mark.parametrize(
    ("sql", "line"),
    [
        ("SELECT 1;\nCOMMIT;\nSELECT 2;", 2),
        ("BEGIN;\nSELECT 1;\nROLLBACK;", 1),
        ("SELECT 1;\nBEGIN;\nSELECT 2;\nCOMMIT;", 2),
        ("BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;", 3),
        ("BEGIN;\nSELECT 1;\nPREPARE TRANSACTION 'x';", 1),
        ("SELECT 1;\nCOMMIT PREPARED 'x';", 2),
    ],
)
def test_any_other_transaction_control_is_refused_naming_its_line(sql: str, line: int) -> None:
    with pytest.raises(errors.UsageError, match=rf"^f\.sql:{line}: `\w[^`]*` starts or ends a transaction"):
        transaction_body(split_statements(sql, dialect="postgresql"), dialect="postgresql", filename="f.sql")


@pytest.mark.parametrize(
    ("sql", "dialect", "refused"),
    [
        ("CREATE INDEX CONCURRENTLY i ON t (a)", "postgresql", True),
        ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)", "postgresql", True),
        ("DROP INDEX CONCURRENTLY i", "postgresql", True),
        ("REINDEX INDEX CONCURRENTLY i", "postgresql", True),
        ("VACUUM ANALYZE t", "postgresql", True),
        ("CREATE DATABASE other", "postgresql", True),
        ("ALTER SYSTEM SET work_mem = '8MB'", "postgresql", True),
        ("VACUUM", "sqlite", True),
        ("CREATE INDEX i ON t (a)", "postgresql", False),
        ("CREATE TABLE database_notes (system TEXT, vacuum TEXT)", "postgresql", False),
        ("SELECT 'VACUUM', 'CREATE INDEX CONCURRENTLY'", "postgresql", False),
    ],
)
def test_a_statement_that_cannot_run_in_a_transaction_is_refused_in_one(sql: str, dialect: str, refused: bool) -> None:
    statements = split_statements(f"SELECT 1;\n{sql};", dialect=dialect)
    if not refused:
        assert transaction_body(statements, dialect=dialect, filename="f.sql") == statements
        return
    with pytest.raises(errors.UsageError, match=r"^f\.sql:2: .* cannot run inside a transaction") as caught:
        transaction_body(statements, dialect=dialect, filename="f.sql")
    assert caught.value.hint is not None and "-- dbmigrate:no-transaction" in caught.value.hint
