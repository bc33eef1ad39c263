"""Reading SQL migration directories in every supported layout, and refusing ambiguous ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dbmigrate import errors
from dbmigrate.sources import sqlfiles
from tests.fixtures.migrations import write


def test_up_down_pairs_and_lone_files_sorted_numerically(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "010_ten.up.sql": "CREATE TABLE ten (id int);",
            "010_ten.down.sql": "DROP TABLE ten;",
            "002_two.sql": "CREATE TABLE two (id int);",
            "README.md": "not a migration",
        },
    )
    migrations = sqlfiles.load(migrations_dir)
    assert [(m.version, m.name) for m in migrations] == [("2", "two"), ("10", "ten")]
    assert migrations[0].down is None
    assert migrations[1].down is not None and migrations[1].down.sql == "DROP TABLE ten;"
    assert migrations[1].checksum == hashlib.sha256(b"CREATE TABLE ten (id int);").hexdigest()


def test_names_may_hold_dots_and_the_words_up_and_down(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "003_users.v2.up.sql": "SELECT 1;",
            "003_users.v2.down.sql": "SELECT 2;",
            "004_up.sql": "SELECT 3;",
            "005_back.down.payload.sql": "SELECT 4;",
        },
    )
    migrations = sqlfiles.load(migrations_dir)
    assert [(m.version, m.name, m.down is not None) for m in migrations] == [
        ("3", "users.v2", True),
        ("4", "up", False),
        ("5", "back.down.payload", False),
    ]


def test_dbmate_sections_with_line_offsets_and_transaction_option(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "20240101120000_users.sql": "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (c);\n"
            "\n-- migrate:down\nDROP INDEX i;\n"
        },
    )
    (migration,) = sqlfiles.load(migrations_dir)
    assert migration.version == "20240101120000"
    assert migration.up.transactional is False
    assert migration.up.first_line == 1 and "CREATE INDEX CONCURRENTLY" in migration.up.sql
    assert migration.down is not None and migration.down.first_line == 4


def test_flyway_versions_with_undo_files(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "V1__init.sql": "CREATE TABLE a (id int);",
            "V1.1__more.sql": "CREATE TABLE b (id int);",
            "U1.1__more.sql": "DROP TABLE b;",
            "V1_10__later.sql": "CREATE TABLE c (id int);",
        },
    )
    migrations = sqlfiles.load(migrations_dir)
    assert [m.version for m in migrations] == ["1", "1.1", "1.10"]
    assert migrations[1].down is not None and migrations[2].down is None


def test_no_transaction_directive_in_leading_comments_only(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_a.sql": "-- creates an index\n-- dbmigrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
            "002_b.sql": "CREATE TABLE t2 (id int);\n-- dbmigrate:no-transaction\n",
        },
    )
    first, second = sqlfiles.load(migrations_dir)
    assert first.up.transactional is False
    assert second.up.transactional is True


def test_missing_directory_is_a_usage_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="does not exist") as caught:
        sqlfiles.load(tmp_path / "nope")
    assert caught.value.hint and "dbmigrate create" in caught.value.hint


def test_a_file_given_as_the_directory_is_said_to_be_one(tmp_path: Path) -> None:
    (tmp_path / "migrations.sql").write_text("SELECT 1;")
    with pytest.raises(errors.UsageError, match="is not a directory"):
        sqlfiles.load(tmp_path / "migrations.sql")


def test_a_broken_link_or_a_directory_named_like_a_migration_is_refused_not_skipped(migrations_dir: Path) -> None:
    """Kubernetes mounts ConfigMap files as symbolic links: one left dangling must not silently drop a migration."""
    write(migrations_dir, {"001_a.sql": "SELECT 1;", "004_d.sql": "SELECT 4;"})
    (migrations_dir / "002_b.sql").symlink_to(migrations_dir / "..data" / "002_b.sql")
    (migrations_dir / "003_c.sql").mkdir()
    with pytest.raises(errors.UsageError, match=r"not a readable file in .*: 002_b\.sql, 003_c\.sql"):
        sqlfiles.load(migrations_dir)


def test_empty_directory_is_a_usage_error(migrations_dir: Path) -> None:
    migrations_dir.mkdir()
    with pytest.raises(errors.UsageError, match="no migrations found"):
        sqlfiles.load(migrations_dir)


def test_duplicate_versions_are_listed(migrations_dir: Path) -> None:
    write(migrations_dir, {"001_a.sql": "SELECT 1;", "1_b.up.sql": "SELECT 2;", "002_c.sql": "SELECT 3;"})
    with pytest.raises(errors.UsageError, match="same version") as caught:
        sqlfiles.load(migrations_dir)
    assert "1_b.up.sql" in caught.value.message or "001_a.sql" in caught.value.message


def test_unparseable_names_are_all_listed(migrations_dir: Path) -> None:
    write(migrations_dir, {"001_ok.sql": "SELECT 1;", "add_users.sql": "x", "R__view.sql": "x"})
    with pytest.raises(errors.UsageError, match="cannot read the version") as caught:
        sqlfiles.load(migrations_dir)
    assert "add_users.sql" in caught.value.message and "R__view.sql" in caught.value.message


def test_down_file_without_up_file_is_refused(migrations_dir: Path) -> None:
    write(migrations_dir, {"001_ok.sql": "SELECT 1;", "002_gone.down.sql": "DROP TABLE x;"})
    with pytest.raises(errors.UsageError, match=r"002_gone\.down\.sql"):
        sqlfiles.load(migrations_dir)


@pytest.mark.parametrize("down", ["003_zzz.down.sql", "003_aaa.down.sql"])  # sorted after and before the up file
def test_a_down_file_named_unlike_its_up_file_is_refused(down: str, migrations_dir: Path) -> None:
    write(migrations_dir, {"003_c.up.sql": "CREATE TABLE c (id INTEGER);", down: "DROP TABLE other;"})
    with pytest.raises(errors.UsageError, match="different names") as caught:
        sqlfiles.load(migrations_dir)
    assert "003_c.up.sql" in caught.value.message and down in caught.value.message


def test_an_upper_case_extension_is_read_not_skipped(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "V1__a.sql": "SELECT 1;",
            "V2__b.SQL": "SELECT 2;",
            "003_c.UP.SQL": "SELECT 3;",
            "003_c.Down.Sql": "SELECT 4;",
        },
    )
    loaded = sqlfiles.load(migrations_dir)
    assert [(m.version, m.filename) for m in loaded] == [("1", "V1__a.sql"), ("2", "V2__b.SQL"), ("3", "003_c.UP.SQL")]
    assert loaded[2].down is not None and loaded[2].down.filename == "003_c.Down.Sql"


def test_invalid_utf8_names_the_file(migrations_dir: Path) -> None:
    migrations_dir.mkdir()
    (migrations_dir / "001_bad.sql").write_bytes(b"SELECT '\xff';")
    with pytest.raises(errors.UsageError, match=r"001_bad\.sql is not valid UTF-8"):
        sqlfiles.load(migrations_dir)


@pytest.mark.parametrize("size", [0, 65_535, 65_536, 65_537, 300_000])
def test_files_of_any_size_are_read_whole_and_checksummed_as_written(migrations_dir: Path, size: int) -> None:
    body = ("-- " + "x" * 60 + "\n") * (size // 64 + 1)
    raw = ("\ufeff" + body).encode()[:size] if size else b""
    migrations_dir.mkdir(exist_ok=True)
    (migrations_dir / "001_big.sql").write_bytes(raw)
    [migration] = sqlfiles.load(migrations_dir)
    assert migration.checksum == hashlib.sha256(raw).hexdigest()
    assert migration.up.sql == raw.decode("utf-8-sig")


@pytest.mark.parametrize(
    "down",
    ["-- 001_a.down.sql: undoes 001_a.up.sql\n-- Write the reverse change here.\n", "/* nothing\n yet */\n", "  \n"],
)
def test_a_down_file_of_only_comments_is_no_down_part(migrations_dir: Path, down: str) -> None:
    write(migrations_dir, {"001_a.up.sql": "CREATE TABLE a (id INTEGER);", "001_a.down.sql": down})
    assert sqlfiles.load(migrations_dir)[0].down is None


def test_a_down_file_with_sql_after_comments_or_comment_marks_in_strings_is_kept(migrations_dir: Path) -> None:
    write(
        migrations_dir,
        {
            "001_a.up.sql": "CREATE TABLE a (id INTEGER);",
            "001_a.down.sql": "-- undo\nDROP TABLE a;",
            "002_b.sql": "-- migrate:up\nCREATE TABLE b (id INTEGER);\n-- migrate:down\n-- nothing to undo\n",
            "003_c.up.sql": "SELECT 1;",
            "003_c.down.sql": "SELECT '-- not a comment';",
        },
    )
    first, second, third = sqlfiles.load(migrations_dir)
    assert first.down is not None and "DROP TABLE a" in first.down.sql
    assert second.down is None  # dbmate's down section, commented out
    assert third.down is not None
