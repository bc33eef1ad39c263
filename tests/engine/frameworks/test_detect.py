"""Which framework a project is, and why: what the `status` reason tells the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbmigrate import errors
from dbmigrate.sources import detect

SETDEFAULT = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_a.settings")\n'
ASSIGNED = 'import os\nos.environ["DJANGO_SETTINGS_MODULE"] = "site_b.settings"\n'


def _detect(project: Path, environ: dict[str, str] | None = None, **flags: str) -> detect.Detection:
    return detect.detect(project_dir=project, migrations_dir=project / "migrations", environ=environ or {}, **flags)


def test_the_default_sql_directory_is_reported_as_ignored_next_to_alembic_ini(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    (tmp_path / "manage.py").write_text(SETDEFAULT)
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_a.sql").write_text("SELECT 1;\n")
    found = _detect(tmp_path)
    assert found.framework == "alembic"
    assert "ignored" in found.reason and "manage.py" in found.reason and "1 SQL file(s)" in found.reason


def test_django_settings_come_from_the_environment_unless_manage_py_assigns_them(tmp_path: Path) -> None:
    (tmp_path / "manage.py").write_text(SETDEFAULT)
    from_env = _detect(tmp_path, {"DJANGO_SETTINGS_MODULE": "prod.settings"})
    assert from_env.settings_module == "prod.settings" and "$DJANGO_SETTINGS_MODULE" in from_env.reason
    assert _detect(tmp_path).settings_module == "site_a.settings"
    (tmp_path / "manage.py").write_text(ASSIGNED)
    assigned = _detect(tmp_path, {"DJANGO_SETTINGS_MODULE": "prod.settings"})
    assert (assigned.framework, assigned.settings_module) == ("django", "site_b.settings")


def test_forced_django_takes_the_settings_module_from_the_environment(tmp_path: Path) -> None:
    forced = _detect(tmp_path, {"DJANGO_SETTINGS_MODULE": "prod.settings"}, forced="django")
    assert forced.settings_module == "prod.settings"
    with pytest.raises(errors.UsageError, match="DJANGO_SETTINGS_MODULE"):
        _detect(tmp_path, forced="django")


def test_a_dir_pointing_at_a_framework_project_says_detection_uses_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "alembic.ini").write_text("[alembic]\n")
    with pytest.raises(errors.UsageError, match="working directory") as refused:
        detect.detect(project_dir=tmp_path, migrations_dir=tmp_path / "app", dir_source="--dir", environ={})
    assert refused.value.hint is not None and str(tmp_path / "app") in refused.value.hint
