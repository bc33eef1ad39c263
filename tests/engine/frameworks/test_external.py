"""Rails and Flyway projects: delegated to their CLI when installed, refused with a clear error when not.

No Ruby or Flyway is installed here, so the delegated runs use stand-in scripts on PATH that report what they
received; they prove the database reaches the tool through environment variables only and that the password
never shows in its arguments or its (passed on) output.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dbmigrate import errors, outcome
from tests.engine.frameworks import detection, down, settings, status, up
from tests.fixtures.migrations import run_cli

FAKE_FLYWAY = """#!/bin/sh
printf '%s\\n' "$@" > "$0.args"
printf '%s' "$FLYWAY_PASSWORD" > "$0.password"
echo "flyway $1 url=$FLYWAY_URL user=$FLYWAY_USER password=$FLYWAY_PASSWORD"
exit "${FAKE_EXIT:-0}"
"""

FAKE_RUBY = """#!/bin/sh
printf '%s\\n' "$@" > "$0.args"
echo "ruby ran ${1##*/} $2 with DATABASE_URL=$DATABASE_URL"
"""


def _tool(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holding only a directory of our own: no rails, ruby or flyway."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.fixture
def rails_project(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    (project / "db" / "migrate").mkdir(parents=True)
    (project / "db" / "migrate" / "20240101000000_create_users.rb").write_text(
        "class CreateUsers < ActiveRecord::Migration[7.1]\n  def change\n    create_table :users\n  end\nend\n"
    )
    return project


@pytest.fixture
def flyway_project(tmp_path: Path) -> Path:
    project = tmp_path / "billing"
    (project / "sql").mkdir(parents=True)
    (project / "flyway.conf").write_text("flyway.locations=filesystem:sql\n")
    (project / "sql" / "V1__create_invoices.sql").write_text("CREATE TABLE invoices (id INTEGER);\n")
    return project


def test_rails_without_rails_names_what_is_missing(sqlite_url: str, rails_project: Path, empty_path: Path) -> None:
    config = settings(sqlite_url, rails_project)
    assert detection(config).framework == "rails"
    with pytest.raises(errors.UsageError) as refused:
        up(config)
    assert "rails and ruby are not on PATH" in refused.value.message
    assert refused.value.hint is not None and "bundle install" in refused.value.hint
    with pytest.raises(errors.UsageError, match="rails"):
        status(config)


def test_flyway_without_flyway_suggests_the_native_reader(
    sqlite_url: str, flyway_project: Path, empty_path: Path
) -> None:
    config = settings(sqlite_url, flyway_project)
    assert detection(config).framework == "flyway"
    with pytest.raises(errors.UsageError) as refused:
        up(config)
    assert "flyway is not on PATH" in refused.value.message
    assert refused.value.hint is not None and "--framework sql" in refused.value.hint


def test_flyway_gets_the_database_from_the_environment_only(
    secret_pg_url: tuple[str, str, str],
    flyway_project: Path,
    empty_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    url, user, password = secret_pg_url
    flyway = _tool(empty_path, "flyway", FAKE_FLYWAY)
    config = settings(url, flyway_project)

    result = up(config, target="1")

    assert [(m.file, m.status) for m in result.migrations] == [("flyway migrate -target=1", "applied")]
    assert flyway.with_suffix(".args").read_text().split() == ["migrate", "-target=1"]
    assert flyway.with_suffix(".password").read_text() == password
    output = capfd.readouterr()
    database = url.rsplit("/", 1)[1]
    line = f"flyway migrate url=jdbc:postgresql://127.0.0.1:5432/{database} user={user} password=***"
    assert line in output.err
    assert password not in output.out + output.err

    listing = status(config)
    assert listing["output"] == line.replace("migrate", "info", 1) and listing["pending"] == []
    with pytest.raises(errors.UsageError, match="flyway undo"):
        down(config)


def test_a_failing_delegated_run_is_reported_without_the_password(
    secret_pg_url: tuple[str, str, str],
    flyway_project: Path,
    empty_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _, password = secret_pg_url
    _tool(empty_path, "flyway", FAKE_FLYWAY)
    monkeypatch.setenv("FAKE_EXIT", "3")
    config = settings(url, flyway_project)
    result = outcome.Outcome(action="up")
    with pytest.raises(errors.MigrationError) as failure:
        up(config, result=result)
    assert failure.value.message.startswith("flyway migrate: exited with 3:\nflyway migrate url=")
    assert password not in failure.value.message and "password=***" in failure.value.message
    assert [(m.file, m.status, m.error) for m in result.migrations] == [
        ("flyway migrate", "failed", failure.value.message)
    ]


def test_rails_runs_the_binstub_with_database_url(
    sqlite_url: str, rails_project: Path, empty_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ruby = _tool(empty_path, "ruby", FAKE_RUBY)
    _tool(rails_project / "bin", "rails", "#!/usr/bin/env ruby\n")
    config = settings(sqlite_url, rails_project)

    result = down(config, steps=2)

    assert [(m.file, m.status) for m in result.migrations] == [("rails db:rollback STEP=2", "reverted")]
    assert ruby.with_suffix(".args").read_text().split() == [
        str(rails_project / "bin" / "rails"),
        "db:rollback",
        "STEP=2",
    ]
    database = sqlite_url.removeprefix("sqlite:///")
    assert f"ruby ran rails db:rollback with DATABASE_URL=sqlite3:{database}" in capfd.readouterr().err


def test_flyway_keeps_the_url_options(pg_url: str, flyway_project: Path, empty_path: Path) -> None:
    _tool(empty_path, "flyway", FAKE_FLYWAY)
    listing = status(settings(f"{pg_url}?sslmode=disable", flyway_project))["output"]
    assert f"url=jdbc:postgresql://127.0.0.1:5432/{pg_url.rsplit('/', 1)[1]}?sslmode=disable " in listing


def test_status_text_shows_the_tool_s_listing_not_counts_it_does_not_know(
    sqlite_url: str, flyway_project: Path, empty_path: Path
) -> None:
    _tool(empty_path, "flyway", FAKE_FLYWAY)
    shown = run_cli("status", "--database", sqlite_url, cwd=flyway_project, env={"PATH": str(empty_path)})
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "flyway info url=jdbc:sqlite:" in shown.stdout and "0 applied" not in shown.stdout
