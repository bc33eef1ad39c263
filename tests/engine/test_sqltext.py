"""Statement splitting that respects strings, identifiers, comments and dollar quoting."""

from __future__ import annotations

from dbmigrate.sqltext import split_statements


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
    assert split_statements("-- nothing\n/* here */\n", dialect="postgresql") == []
