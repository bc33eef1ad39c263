"""Where settings come from: flags over DATABASE_URL over dbmigrate.yaml over the SQLite default."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbmigrate import config, errors


def test_default_is_an_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    settings = config.resolve(environ={}, cwd=tmp_path)
    assert settings.url_source == "default"
    assert settings.url.database == str(tmp_path / "dbmigrate.sqlite3")
    assert settings.migrations_dir == tmp_path / "migrations"
    assert settings.history_table == "dbmigrate_history"


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    (tmp_path / "dbmigrate.yaml").write_text("database: mysql://u:p@h/file\ndir: sql\nlock_timeout: 2\n")
    env = {"DATABASE_URL": "postgres://u:p@h/env"}
    assert config.resolve(environ={}, cwd=tmp_path).url.database == "file"
    from_env = config.resolve(environ=env, cwd=tmp_path)
    assert (from_env.url.database, from_env.url_source) == ("env", "DATABASE_URL")
    assert from_env.migrations_dir == tmp_path / "sql"
    assert from_env.apply.lock_timeout == 2
    flagged = config.resolve(database="sqlite:///x.db", lock_timeout=0, environ=env, cwd=tmp_path)
    assert flagged.url_source == "--database"
    assert flagged.apply.lock_timeout is None  # 0 means no limit


def test_session_pooler_from_the_flag_or_the_file(tmp_path: Path) -> None:
    assert config.resolve(environ={}, cwd=tmp_path).session_pooler is False
    assert config.resolve(session_pooler=True, environ={}, cwd=tmp_path).session_pooler is True
    (tmp_path / "dbmigrate.yaml").write_text("session_pooler: true\n")
    assert config.resolve(environ={}, cwd=tmp_path).session_pooler is True


def test_unknown_keys_in_the_config_file_are_errors(tmp_path: Path) -> None:
    (tmp_path / "dbmigrate.yaml").write_text("databse: sqlite:///typo.db\n")
    with pytest.raises(errors.UsageError, match="databse"):
        config.resolve(environ={}, cwd=tmp_path)


def test_malformed_yaml_is_a_usage_error_that_quotes_no_secret(tmp_path: Path) -> None:
    """PyYAML's message quotes the lines around the error: in this file, that is where the password is."""
    (tmp_path / "dbmigrate.yaml").write_text("database: 'postgres://u:hunter2@db/app\n")
    with pytest.raises(errors.UsageError, match=r"not valid YAML \(line 1, column 11\)") as caught:
        config.resolve(environ={}, cwd=tmp_path)
    assert "hunter2" not in str(caught.value)


def test_a_config_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "dbmigrate.yaml").write_bytes(b"database: \xff\n")
    with pytest.raises(errors.UsageError, match="is not valid UTF-8"):
        config.resolve(environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "environ", "file", "source"),
    [
        ({"database": ""}, {}, None, "--database"),
        ({}, {"DATABASE_URL": " "}, None, "DATABASE_URL"),
        ({}, {}, "database: ''\n", "database in dbmigrate.yaml"),
    ],
)
def test_a_database_setting_given_empty_is_refused_not_taken_for_the_default(
    kwargs: dict[str, str], environ: dict[str, str], file: str | None, source: str, tmp_path: Path
) -> None:
    """`-d "$DB"` with DB unset in CI must not migrate a new local SQLite file and report success."""
    if file is not None:
        (tmp_path / "dbmigrate.yaml").write_text(file)
    with pytest.raises(errors.UsageError, match=f"{source} is set but empty"):
        config.resolve(environ=environ, cwd=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_a_port_that_is_not_a_number_is_a_usage_error_only_when_used(tmp_path: Path) -> None:
    environ = {"DBMIGRATE_DB_HOST": "db", "DBMIGRATE_DB_PORT": "abc"}
    with pytest.raises(errors.UsageError, match="DBMIGRATE_DB_PORT must be a port number, not 'abc'"):
        config.resolve(environ=environ, cwd=tmp_path)
    assert config.resolve(database="sqlite:///x.db", environ=environ, cwd=tmp_path).url_source == "--database"


@pytest.mark.parametrize(("text", "kind"), [("- database: sqlite:///a.db\n", "list"), ("sqlite:///a.db\n", "str")])
def test_a_config_file_without_key_value_settings_says_so(text: str, kind: str, tmp_path: Path) -> None:
    (tmp_path / "dbmigrate.yaml").write_text(text)
    with pytest.raises(errors.UsageError, match=f"must hold settings as `key: value` lines, not a {kind}"):
        config.resolve(environ={}, cwd=tmp_path)


def test_invalid_history_table_name_is_refused(tmp_path: Path) -> None:
    from dbmigrate.dialects import base

    with pytest.raises(errors.UsageError, match="invalid table name"):
        base.validate_identifier("history; DROP TABLE users")
