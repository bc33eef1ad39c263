"""The real ``dbmigrate`` command on a framework project, as a user runs it from the project directory.

These pass once ``commands`` hands framework projects to ``dbmigrate.frameworks.run``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.frameworks import copy_sample, query, tables
from tests.fixtures.databases import execute
from tests.fixtures.migrations import run_cli


def test_up_and_status_on_an_alembic_project_from_its_directory(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    applied = run_cli("up", "-o", "json", cwd=project, env={"DATABASE_URL": url})

    assert applied.returncode == 0, applied.stdout + applied.stderr
    document = json.loads(applied.stdout)
    assert document["ok"] is True and document["framework"]["framework"] == "alembic"
    assert [(m["file"], m["status"]) for m in document["migrations"]] == [
        ("ae1027a6acf_add_users.py", "applied"),
        ("1975ea83b712_add_orders.py", "applied"),
        ("27c6a30d7c24_index_user_email.py", "applied"),
    ]
    assert {"users", "orders", "alembic_version"} <= tables(url)

    listed = run_cli("status", "-o", "json", cwd=project, env={"DATABASE_URL": url})
    assert listed.returncode == 0, listed.stdout + listed.stderr
    status = json.loads(listed.stdout)
    assert "alembic.ini" in status["framework"]["reason"]
    assert status["status"]["current_version"] == "27c6a30d7c24" and status["status"]["pending"] == []


def test_an_explicit_dir_of_sql_files_wins_over_alembic_ini(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    (project / "db").mkdir()
    (project / "db" / "001_notes.up.sql").write_text("CREATE TABLE notes (id integer);\n")
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    applied = run_cli("up", "--dir", "db", "-o", "json", cwd=project, env={"DATABASE_URL": url})

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert json.loads(applied.stdout)["framework"]["framework"] == "sql"
    assert "notes" in tables(url) and "alembic_version" not in tables(url)
    reason = json.loads(run_cli("status", "--dir", "db", "-o", "json", cwd=project, env={"DATABASE_URL": url}).stdout)[
        "framework"
    ]["reason"]
    assert "db" in reason and "alembic.ini" in reason and "ignored" in reason


def _json(completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _revision(revision: str, down: str | None, upgrade: str, downgrade: str = "pass") -> str:
    return (
        f'"""{revision}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {revision!r}\ndown_revision = {down!r}\n\n\n"
        f"def upgrade() -> None:\n    {upgrade}\n\n\ndef downgrade() -> None:\n    {downgrade}\n"
    )


def test_without_a_database_the_project_s_own_is_used_never_dbmigrate_s_sqlite(tmp_path: Path) -> None:
    alembic = copy_sample("alembic_project", tmp_path)
    applied = run_cli("up", "-o", "json", cwd=alembic)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _json(applied)["database"]["source"] == "alembic.ini"
    assert "users" in tables(f"sqlite:///{alembic / 'alembic_sample.sqlite3'}")
    assert not (alembic / "dbmigrate.sqlite3").exists()

    django = copy_sample("django_project", tmp_path)
    listed = run_cli("status", cwd=django)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "from Django settings" in listed.stdout and not (django / "dbmigrate.sqlite3").exists()

    (alembic / "alembic.ini").write_text(
        (alembic / "alembic.ini").read_text().replace("sqlite:///alembic_sample.sqlite3", "")
    )
    refused = run_cli("up", cwd=alembic)
    assert refused.returncode == 2 and "--database" in refused.stdout and "Traceback" not in refused.stderr

    other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    overridden = run_cli("status", "--database", other, cwd=django)
    assert "--database overrides the database in Django settings" in overridden.stdout


def test_down_needs_allow_destructive_and_up_says_it_did_not_analyse(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    applied = _json(run_cli("up", "-o", "json", "--database", url, cwd=project))
    assert any(c["name"] == "destructive" and "not checked" in c["message"] for c in applied["checks"])

    refused = run_cli("down", "--steps", "2", "--database", url, cwd=project)
    assert refused.returncode == 3 and "--allow-destructive" in refused.stdout
    assert "orders" in tables(url)

    reverted = run_cli("down", "--steps", "2", "--allow-destructive", "--database", url, cwd=project)
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert "2 migrations to revert" in reverted.stdout and "orders" not in tables(url)


def test_alembic_targets_resolve_against_the_applied_heads_as_alembic_does(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    _write(
        project / "alembic" / "versions" / "b1b1b1b1b1b1_side.py",
        _revision("b1b1b1b1b1b1", "1975ea83b712", 'op.create_table("side", sa.Column("id", sa.Integer))'),
    )
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        allow = ["--allow-destructive"] if args[0] == "down" else []
        return run_cli(*args, *allow, "-o", "json", "--database", url, cwd=project)

    first = cli("up", "+1")
    assert first.returncode == 0, first.stdout
    assert [m["version"] for m in _json(first)["migrations"]] == ["ae1027a6acf"]
    assert [m["version"] for m in _json(cli("up", "27c6a30d7c24"))["migrations"]] == ["1975ea83b712", "27c6a30d7c24"]
    # b1b1b1b1b1b1 is on a sibling branch and not applied: Alembic refuses it as a downgrade target.
    sibling = cli("down", "b1b1b1b1b1b1")
    assert sibling.returncode == 2 and "not a valid downgrade target" in _json(sibling)["error"]["message"]
    assert [m["version"] for m in _json(cli("down", "-1"))["migrations"]] == ["27c6a30d7c24"]
    assert [m["version"] for m in _json(cli("down", "1975ea83b712@-1"))["migrations"]] == ["1975ea83b712"]
    assert _json(cli("status"))["status"]["applied"] == ["ae1027a6acf"]


def test_a_failed_run_reverts_what_it_applied_through_alembic(pg_url: str, tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    _write(
        project / "alembic" / "versions" / "5f0c0ffee000_broken.py",
        _revision("5f0c0ffee000", "27c6a30d7c24", 'op.execute("INSERT INTO no_such_table VALUES (1)")'),
    )
    failed = run_cli("up", "--database", pg_url, cwd=project)
    assert failed.returncode == 1
    assert "Rollback: ✓ Rolled back 3 migration(s)" in failed.stdout
    assert query(pg_url, "SELECT count(*) FROM alembic_version") == [(0,)] and "users" not in tables(pg_url)

    kept = run_cli("up", "--no-rollback-on-failure", "--database", pg_url, cwd=project)
    assert kept.returncode == 1 and query(pg_url, "SELECT version_num FROM alembic_version") == [("27c6a30d7c24",)]


def test_a_failure_after_ddl_on_mariadb_says_what_may_be_left(mysql_url: str, tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    _write(
        project / "alembic" / "versions" / "5f0c0ffee000_broken.py",
        _revision(
            "5f0c0ffee000",
            "27c6a30d7c24",
            'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))\n'
            '    op.execute("INSERT INTO no_such_table VALUES (1)")',
        ),
    )
    failed = _json(run_cli("up", "-o", "json", "--database", mysql_url, cwd=project))
    assert failed["exit_code"] == 1 and "part of it may have been applied" in failed["error"]["hint"]
    assert "audit" in tables(mysql_url)  # what the hint asks the user to check
    assert any(c["name"] == "rollback" and "half-applied" in c["message"] for c in failed["checks"])


def test_session_timeouts_bound_framework_statements(pg_url: str, tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    _write(
        project / "alembic" / "versions" / "5f0c0ffee000_slow.py",
        _revision("5f0c0ffee000", "27c6a30d7c24", 'op.execute("SELECT pg_sleep(5)")'),
    )
    slow = run_cli("up", "-o", "json", "--statement-timeout", "0.5", "--database", pg_url, cwd=project)
    assert slow.returncode == 1 and "statement timeout" in _json(slow)["error"]["message"]


def test_secrets_of_the_url_never_show_in_framework_output(secret_pg_url: tuple[str, str, str], tmp_path: Path) -> None:
    url, _, password = secret_pg_url
    project = copy_sample("alembic_project", tmp_path)
    env = project / "alembic" / "env.py"
    env.write_text(
        env.read_text().replace(
            "config = context.config\n",
            'config = context.config\nprint("url is", config.get_main_option("sqlalchemy.url"))\n',
        )
    )
    in_query = url.replace(f":{password}@", "@") + f"?password={password}"
    for given in (url, in_query):
        shown = run_cli("up", "--database", given, cwd=project)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "url is" in shown.stderr and password not in shown.stdout + shown.stderr
        run_cli("down", "base", "--allow-destructive", "--database", given, cwd=project)


def test_django_takes_the_url_options_and_a_password_given_as_one(
    secret_pg_url: tuple[str, str, str], tmp_path: Path
) -> None:
    url, _, password = secret_pg_url
    execute(url, ["CREATE SCHEMA shop"])
    project = copy_sample("django_project", tmp_path)
    given = url.replace(f":{password}@", "@") + f"?password={password}&options=-csearch_path%3Dshop&sslmode=disable"
    applied = run_cli("up", "--database", given, cwd=project)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    found = query(url, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'inventory_item'")
    assert found == [("shop",)]


def test_django_settings_module_from_the_environment_is_used(tmp_path: Path) -> None:
    project = copy_sample("django_project", tmp_path)
    settings_file = project / "shopsite" / "settings.py"
    (project / "shopsite" / "staging.py").write_text(settings_file.read_text().replace("sample.sqlite3", "staging.db"))
    listed = run_cli("up", cwd=project, env={"DJANGO_SETTINGS_MODULE": "shopsite.staging"})
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "inventory_item" in tables(f"sqlite:///{project / 'staging.db'}")
    reason = _json(run_cli("status", "-o", "json", cwd=project, env={"DJANGO_SETTINGS_MODULE": "shopsite.staging"}))
    assert "shopsite.staging from $DJANGO_SETTINGS_MODULE" in reason["framework"]["reason"]


def test_alembic_reads_the_version_table_env_py_configures(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    env = project / "alembic" / "env.py"
    env.write_text(
        env.read_text().replace("target_metadata=None)", 'target_metadata=None, version_table="shop_version")')
    )
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    assert run_cli("up", "--database", url, cwd=project).returncode == 0
    listed = _json(run_cli("status", "-o", "json", "--database", url, cwd=project))
    assert listed["status"]["current_version"] == "27c6a30d7c24" and listed["status"]["pending"] == []
    assert query(url, "SELECT version_num FROM shop_version") == [("27c6a30d7c24",)]


BROKEN_PROJECTS = {
    "alembic revision with a syntax error": (
        "alembic_project",
        "alembic/versions/5f0c0ffee000_bad.py",
        "revision = '5f0c0ffee000'\ndef upgrade(:\n",
        "SyntaxError",
    ),
    "alembic down_revision naming no file": (
        "alembic_project",
        "alembic/versions/5f0c0ffee000_orphan.py",
        _revision("5f0c0ffee000", "feedfeedfeed", "pass"),
        "feedfeedfeed",
    ),
    "malformed alembic.ini": ("alembic_project", "alembic.ini", "script_location = alembic\n", "not a valid ini"),
    "django settings raising": (
        "django_project",
        "shopsite/settings.py",
        "from django.core.exceptions import ImproperlyConfigured\nraise ImproperlyConfigured('set SECRET_KEY')\n",
        "ImproperlyConfigured: set SECRET_KEY",
    ),
    "django migration with a syntax error": (
        "django_project",
        "inventory/migrations/0004_bad.py",
        "class Migration(:\n",
        "SyntaxError",
    ),
}


@pytest.mark.parametrize("case", BROKEN_PROJECTS, ids=list(BROKEN_PROJECTS))
def test_a_broken_project_is_a_clear_usage_error_not_a_traceback(case: str, tmp_path: Path) -> None:
    sample, path, text, said = BROKEN_PROJECTS[case]
    project = copy_sample(sample, tmp_path)
    (project / path).write_text(text)
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    for action in ("status", "up"):
        shown = run_cli(action, "-o", "json", "--database", url, cwd=project)
        assert shown.returncode == 2 and "Traceback" not in shown.stderr, shown.stderr
        assert said in _json(shown)["error"]["message"]


def test_a_database_ahead_of_the_code_lists_the_revision_as_missing(tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    assert run_cli("up", "--database", url, cwd=project).returncode == 0
    execute(url, ["UPDATE alembic_version SET version_num = 'feedface9999'"])
    listed = run_cli("status", "--database", url, cwd=project)
    assert listed.returncode == 0, listed.stdout
    assert "applied but the file is missing: feedface9999" in listed.stdout
    refused = run_cli("up", "--database", url, cwd=project)
    assert refused.returncode == 5 and "ahead of this code" in refused.stdout


def test_forcing_alembic_without_alembic_ini_says_it_does_not_exist(tmp_path: Path) -> None:
    shown = run_cli("status", "--framework", "alembic", "--database", f"sqlite:///{tmp_path / 'a.db'}", cwd=tmp_path)
    assert shown.returncode == 2 and f"{tmp_path / 'alembic.ini'} does not exist" in shown.stdout


def test_history_shows_the_framework_s_own_record(tmp_path: Path) -> None:
    alembic = copy_sample("alembic_project", tmp_path)
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    run_cli("up", "--database", url, cwd=alembic)
    listed = run_cli("history", "--database", url, cwd=alembic)
    assert listed.returncode == 0 and "No migrations recorded yet" not in listed.stdout
    assert [line.split()[0] for line in listed.stdout.splitlines()[2:]] == [
        "ae1027a6acf",
        "1975ea83b712",
        "27c6a30d7c24",
    ]

    django = copy_sample("django_project", tmp_path)
    run_cli("up", cwd=django)
    rows = _json(run_cli("history", "-o", "json", cwd=django))["history"]
    assert [row["version"] for row in rows][-1] == "inventory.0003_seed_items"
    assert all(row["applied_at"] for row in rows)


def test_session_timeouts_bound_django_statements(pg_url: str, tmp_path: Path) -> None:
    project = copy_sample("django_project", tmp_path)
    _write(
        project / "inventory" / "migrations" / "0004_slow.py",
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        '    dependencies = [("inventory", "0003_seed_items")]\n'
        '    operations = [migrations.RunSQL("SELECT pg_sleep(5)")]\n',
    )
    slow = run_cli("up", "-o", "json", "--statement-timeout", "0.5", "--database", pg_url, cwd=project)
    document = _json(slow)
    assert slow.returncode == 1 and "statement timeout" in document["error"]["message"]
    assert document["framework"]["directory"] == str(project)


@pytest.mark.parametrize("flag", ["--fail-on-drift", "--out-of-order", "--dry-run"])
def test_a_flag_only_sql_projects_honour_is_refused_not_ignored(flag: str, tmp_path: Path) -> None:
    project = copy_sample("alembic_project", tmp_path)
    refused = run_cli("up", flag, cwd=project, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"})
    assert refused.returncode == 2 and flag in refused.stdout and "SQL migrations only" in refused.stdout
    assert not (tmp_path / "app.sqlite3").exists() or "users" not in tables(f"sqlite:///{tmp_path / 'app.sqlite3'}")
