"""Tests of the destructive-change analysis: a table-driven corpus plus line numbers, opt-outs and gating."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbmigrate.safety.lint import RULES, Finding, Severity, blocking, lint_sql
from dbmigrate.safety.state import SchemaState

CORPUS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "lint_corpus.yaml").read_text())


def _kinds(findings: list[Finding]) -> list[str]:
    return sorted(f"{finding.rule}/{finding.severity.value}" for finding in findings)


def _state(case: dict[str, Any]) -> SchemaState:
    pairs = (key.rsplit(".", 1) for key in case.get("column_types", {}))
    types = {(table, column): case["column_types"][f"{table}.{column}"] for table, column in pairs}
    return SchemaState(case["dialect"], types)


def test_corpus_is_big_and_covers_every_dialect() -> None:
    assert len(CORPUS) >= 60
    assert {case["dialect"] for case in CORPUS} == {"postgresql", "mysql", "sqlite"}


def test_corpus_only_names_known_rules_with_their_severity() -> None:
    for case in CORPUS:
        for expected in case["expect"]:
            rule, severity = expected.split("/")
            assert RULES[rule] == Severity(severity), expected


@pytest.mark.parametrize("case", CORPUS, ids=[f"{i:03d}-{c['dialect']}" for i, c in enumerate(CORPUS)])
def test_corpus(case: dict[str, Any]) -> None:
    findings = lint_sql(case["sql"], dialect=case["dialect"], file="m.sql", state=_state(case))
    assert _kinds(findings) == sorted(case["expect"]), [finding.reason for finding in findings]


def test_finding_fields_and_json() -> None:
    sql = "SELECT 1;\n\n  ALTER TABLE users\n    DROP COLUMN email;\n"
    [finding] = lint_sql(sql, dialect="postgresql", file="db/V2__drop.sql")
    assert finding == Finding(
        rule="drop_column",
        severity=Severity.DESTRUCTIVE,
        file="db/V2__drop.sql",
        line=3,
        statement="ALTER TABLE users DROP COLUMN email",
        reason=finding.reason,
    )
    assert "email" in finding.reason and "expand/contract" in finding.reason
    assert finding.to_json() == {
        "rule": "drop_column",
        "severity": "destructive",
        "file": "db/V2__drop.sql",
        "line": 3,
        "statement": "ALTER TABLE users DROP COLUMN email",
        "reason": finding.reason,
        "allowed": False,
    }


def test_line_numbers_in_a_multi_statement_file_with_an_offset() -> None:
    sql = (
        "-- header comment\n"
        "CREATE TABLE a (id int);\n"
        "DROP TABLE b; TRUNCATE c;\n"
        "\n"
        "/* a block\n comment */\n"
        "DELETE\n  FROM d;\n"
        "UPDATE e SET x = 1 WHERE y = 2;\n"
        "UPDATE f\n SET x = 1;"
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql", first_line=10)
    assert [(f.rule, f.line) for f in findings] == [
        ("drop_table", 12),
        ("truncate", 12),
        ("delete_without_where", 16),
        ("update_without_where", 19),
    ]
    assert findings[2].statement == "DELETE FROM d"


def test_statement_is_collapsed_and_truncated() -> None:
    columns = ", ".join(f"c{i}" for i in range(200))
    [finding] = lint_sql(f"UPDATE t\n\tSET ({columns}) = (1)", dialect="postgresql", file="m.sql")
    assert finding.statement.startswith("UPDATE t SET (c0, c1,")
    assert len(finding.statement) == 200 and finding.statement.endswith("…")


def test_allow_comment_before_the_statement() -> None:
    sql = "-- dbmigrate:allow drop_column\nALTER TABLE users DROP COLUMN email;\nALTER TABLE users DROP COLUMN name;"
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.rule, f.allowed) for f in findings] == [("drop_column", True), ("drop_column", False)]
    assert blocking(findings) == [findings[1]]


def test_allow_for_another_rule_does_not_cover() -> None:
    sql = "-- dbmigrate:allow drop_table\nALTER TABLE users DROP COLUMN email"
    [finding] = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert finding.rule == "drop_column" and not finding.allowed
    assert blocking([finding]) == [finding]


def test_allow_several_rules_and_all() -> None:
    sql = (
        "/* dbmigrate:allow rename_column, drop_column -- the app stopped using it in v42 */\n"
        "ALTER TABLE t RENAME COLUMN a TO b, DROP COLUMN c;\n"
        "-- dbmigrate:allow all\n"
        "DROP TABLE x CASCADE;\n"
        "-- dbmigrate:allow truncate drop_table\n"
        "TRUNCATE y;"
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.rule, f.allowed) for f in findings] == [
        ("rename_column", True),
        ("drop_column", True),
        ("drop_table", True),
        ("truncate", True),
    ]
    assert blocking(findings) == []


def test_prose_in_the_rule_list_voids_the_directive_and_says_so() -> None:
    """Words of a reason that happen to be rule names ("all", "truncate") must not allow anything: a list holding a
    word that is not a rule allows nothing, and an unknown_allow_rule finding says why."""
    sql = (
        "-- dbmigrate:allow drop_column all readers were removed in v2\nALTER TABLE t DROP COLUMN c;\n"
        "-- dbmigrate:allow drop_column truncate of the old data happens later\nTRUNCATE u;\n"
        "-- dbmigrate:allow drop_table -- all readers were removed in v2\nDROP TABLE v;\n"
        "/* dbmigrate:allow drop_table\n   reviewed by the DBA, all fine */\nDROP TABLE w;"
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.rule, f.line, f.allowed) for f in findings] == [
        ("drop_column", 2, False),
        ("unknown_allow_rule", 2, False),
        ("truncate", 4, False),
        ("unknown_allow_rule", 4, False),
        ("drop_table", 6, True),  # the reason follows " -- "
        ("drop_table", 9, True),  # the list ends with the comment's first line
    ]
    assert "'readers'" in findings[1].reason and "allows nothing" in findings[1].reason
    assert blocking(findings) == [findings[0], findings[2]]


def test_a_directive_must_start_its_comment() -> None:
    """A mention of the directive inside other text, or glued to another word, is not one."""
    sql = (
        "-- NOTE: reviewers, never add dbmigrate:allow all here; this must go through --approve\nDROP TABLE t;\n"
        "-- xdbmigrate:allow all\nDROP TABLE u;\n"
        "-- dbmigrate:allowed all\nDROP TABLE v;\n"
        "/*dbmigrate:allow drop_table*/\nDROP TABLE w;\n"
        "#  DBMIGRATE:ALLOW drop_table\nDROP TABLE x;"
    )
    findings = lint_sql(sql, dialect="mysql", file="m.sql")
    assert [(f.rule, f.allowed) for f in findings] == [("drop_table", False)] * 3 + [("drop_table", True)] * 2


def test_allow_inside_the_statement_and_trailing_on_its_line() -> None:
    sql = (
        "ALTER TABLE t /* dbmigrate:allow drop_column */ DROP COLUMN c;\n"
        "DROP TABLE u; -- dbmigrate:allow drop_table\n"
        "DROP TABLE v;\n"
        "DROP TABLE w; # dbmigrate:allow drop_table\n"
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.rule, f.line, f.allowed) for f in findings][:3] == [
        ("drop_column", 1, True),
        ("drop_table", 2, True),
        ("drop_table", 3, False),  # the comment on line 2 belongs to line 2's statement, not to this one
    ]
    mysql = lint_sql("DROP TABLE u; # dbmigrate:allow drop_table\nDROP TABLE v;", dialect="mysql", file="m.sql")
    assert [(f.line, f.allowed) for f in mysql] == [(1, True), (2, False)]


def test_trailing_block_comment_belongs_to_the_statement_before_it() -> None:
    sql = (
        "DROP TABLE u; /* dbmigrate:allow drop_table\n   reviewed by the DBA */\n"
        "DROP TABLE v; /* not trailing: */ DROP TABLE w;\n"
        "-- dbmigrate:allow drop_table\n"
        "DROP TABLE x\n"
        "; -- dbmigrate:allow drop_table\n"
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.line, f.allowed) for f in findings] == [(1, True), (3, False), (3, False), (5, True)]


def test_allow_in_a_string_is_not_a_comment() -> None:
    sql = "INSERT INTO notes VALUES ('-- dbmigrate:allow all');\nDROP TABLE x"
    [finding] = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert finding.rule == "drop_table" and not finding.allowed


def test_unknown_rule_in_allow_comment_is_reported() -> None:
    sql = "-- dbmigrate:allow drop_colum\nALTER TABLE t DROP COLUMN c"
    findings = lint_sql(sql, dialect="postgresql", file="m.sql")
    assert [(f.rule, f.allowed) for f in findings] == [("drop_column", False), ("unknown_allow_rule", False)]
    assert "drop_colum" in findings[1].reason


def test_unparseable_is_never_safe_and_can_be_allowed() -> None:
    [finding] = lint_sql("SELEC 1 FROM", dialect="postgresql", file="m.sql")
    assert (finding.rule, finding.severity) == ("unparseable", Severity.RISKY)
    assert "cannot be called safe" in finding.reason
    [allowed] = lint_sql("-- dbmigrate:allow unparseable\nSELEC 1 FROM", dialect="postgresql", file="m.sql")
    assert allowed.allowed


def test_blocking_keeps_only_unallowed_destructive() -> None:
    def finding(rule: str, severity: Severity, allowed: bool) -> Finding:
        return Finding(rule, severity, "f.sql", 1, "s", "r", allowed=allowed)

    findings = [
        finding("drop_table", Severity.DESTRUCTIVE, False),
        finding("drop_column", Severity.DESTRUCTIVE, True),
        finding("rename_table", Severity.RISKY, False),
        finding("drop_view", Severity.INFO, False),
    ]
    assert blocking(findings) == [findings[0]]
    assert blocking(iter(findings)) == [findings[0]]
    assert blocking([]) == []


def test_column_types_narrowing_versus_widening() -> None:
    types = {("users", "email"): "varchar(100)", ("users", "id"): "integer", ("users", "score"): "bigint"}
    sql = (
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(20);\n"  # narrower
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);\n"  # wider than the new varchar(20): no finding
        "ALTER TABLE users ALTER COLUMN score TYPE smallint;\n"  # narrower
        "ALTER TABLE users ALTER COLUMN id TYPE numeric(20, 0);\n"  # wider, but rewrites the table
    )
    findings = lint_sql(sql, dialect="postgresql", file="m.sql", state=SchemaState("postgresql", types))
    assert [(f.rule, f.line) for f in findings] == [
        ("narrow_column_type", 1),
        ("narrow_column_type", 3),
        ("change_column_type", 4),
    ]
    assert "VARCHAR(100)" in findings[0].reason and "VARCHAR(20)" in findings[0].reason


def test_unreadable_given_type_counts_as_unknown() -> None:
    [finding] = lint_sql(
        "ALTER TABLE t ALTER COLUMN c TYPE varchar(10)",
        dialect="postgresql",
        file="m.sql",
        state=SchemaState("postgresql", {("t", "c"): "citext"}),
    )
    assert finding.rule == "change_column_type" and "unknown" in finding.reason


def test_renamed_new_table_keeps_its_exemption() -> None:
    sql = "CREATE TABLE t_new (id int);\nALTER TABLE t_new RENAME TO t;\nCREATE INDEX i ON t (id);"
    assert lint_sql(sql, dialect="postgresql", file="m.sql") == []


def test_empty_and_comment_only_text() -> None:
    assert lint_sql("", dialect="postgresql", file="m.sql") == []
    assert lint_sql("-- nothing here\n/* at all */\n", dialect="mysql", file="m.sql") == []


def test_no_sqlglot_warnings_are_printed(caplog: pytest.LogCaptureFixture) -> None:
    lint_sql("ALTER TABLE t VALIDATE CONSTRAINT c; DO $$ BEGIN END $$", dialect="postgresql", file="m.sql")
    assert not [record for record in caplog.records if record.name == "sqlglot"]


def test_large_file_is_linear() -> None:
    """Linting 2x the statements takes about 2x the time (no quadratic behaviour in splitting or allow lookup)."""
    unit = "ALTER TABLE t ADD COLUMN c{i} int;\nUPDATE t SET c{i} = 1 WHERE id = {i};\n"

    def seconds(count: int) -> float:
        sql = "".join(unit.format(i=i) for i in range(count))
        start = time.perf_counter()
        lint_sql(sql, dialect="postgresql", file="m.sql")
        return time.perf_counter() - start

    seconds(200)  # warm up
    small, large = seconds(1000), seconds(4000)
    assert large < small * 8  # linear would be 4x; quadratic 16x


def test_qualified_names_find_the_types_of_the_connections_own_schema() -> None:
    """Types keyed bare are the connection's own schema's: ``public.t`` (PostgreSQL, where every other schema is
    listed) or ``app.t`` (MySQL, own schema named) finds them; a schema of its own does not borrow them."""
    pg = SchemaState("postgresql", {("t", "d"): "timestamp", ("other.t", "d"): "date"})
    sql = "ALTER TABLE public.t ALTER COLUMN d TYPE date; ALTER TABLE other.t ALTER COLUMN d TYPE timestamp"
    narrowed, widened = lint_sql(sql, dialect="postgresql", file="m.sql", state=pg)
    assert narrowed.rule == "narrow_column_type" and "TIMESTAMP to DATE" in narrowed.reason
    assert widened.rule == "change_column_type" and "from DATE to TIMESTAMP rewrites" in widened.reason
    mysql = SchemaState("mysql", {("t", "n"): "decimal(12,2)"}, own_schema="app")
    sql = "ALTER TABLE app.t MODIFY n DECIMAL(10,0); ALTER TABLE archive.t MODIFY n DECIMAL(10,0)"
    findings = lint_sql(sql, dialect="mysql", file="m.sql", state=mysql)
    assert [(f.rule, f.severity) for f in findings] == [
        ("narrow_column_type", Severity.DESTRUCTIVE),
        ("change_column_type", Severity.RISKY),  # archive.t: its type is unknown
    ]
