"""Which migration framework a project uses, decided from its files, with the reason shown in ``status``."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from dbmigrate import errors

_DJANGO_SETTINGS = re.compile(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"](?P<module>[\w.]+)['\"]")


@dataclasses.dataclass(frozen=True)
class Detection:
    framework: str
    reason: str
    #: For Django, the settings module named in manage.py.
    settings_module: str | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def detect(*, project_dir: Path, migrations_dir: Path, forced: str = "auto") -> Detection:
    """The framework of the project in ``project_dir``, or the one forced with ``--framework``.

    Framework markers win over a SQL directory because a framework project may also keep raw SQL around; the order
    (Alembic, Django, Rails, Flyway, plain SQL) puts the most specific marker first.
    """
    settings_module = _django_settings(project_dir)
    if forced != "auto":
        if forced == "django" and settings_module is None:
            raise errors.UsageError(f"--framework django given but {project_dir}/manage.py names no settings module")
        return Detection(framework=forced, reason="chosen with --framework", settings_module=settings_module)
    if (project_dir / "alembic.ini").is_file():
        return Detection(framework="alembic", reason=f"found {project_dir / 'alembic.ini'}")
    if settings_module is not None:
        return Detection(
            framework="django",
            reason=f"found {project_dir / 'manage.py'} with settings {settings_module}",
            settings_module=settings_module,
        )
    rails = sorted((project_dir / "db" / "migrate").glob("*.rb"))
    if rails:
        return Detection(
            framework="rails", reason=f"found {len(rails)} Ruby migrations in {project_dir / 'db/migrate'}"
        )
    for name in ("flyway.conf", "flyway.toml"):
        if (project_dir / name).is_file():
            return Detection(framework="flyway", reason=f"found {project_dir / name}")
    count = 0
    if migrations_dir.is_dir():
        with os.scandir(migrations_dir) as entries:
            count = sum(1 for entry in entries if entry.name.endswith(".sql"))
    return Detection(framework="sql", reason=f"{count} SQL file(s) in {migrations_dir}")


def _django_settings(project_dir: Path) -> str | None:
    manage = project_dir / "manage.py"
    if not manage.is_file():
        return None
    match = _DJANGO_SETTINGS.search(manage.read_text(errors="replace"))
    return match["module"] if match else None
