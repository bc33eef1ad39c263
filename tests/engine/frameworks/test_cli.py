"""The real ``dbmigrate`` command on a framework project, as a user runs it from the project directory.

These pass once ``commands`` hands framework projects to ``dbmigrate.frameworks.run``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.frameworks import copy_sample, tables
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
