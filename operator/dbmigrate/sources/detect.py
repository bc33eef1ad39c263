"""Which migration framework a project uses, decided from its files, with the reason shown in ``status``.

Detection looks at the working directory (the project) only; ``--dir`` names where SQL files are, not a project.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

from dbmigrate import errors

#: ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")`` (Django's template) or ``os.environ[...] = "x"``.
_DJANGO_SETTINGS = re.compile(
    r"DJANGO_SETTINGS_MODULE['\"]\s*(?:,|(?P<assigned>\]\s*=))\s*['\"](?P<module>[\w.]+)['\"]"
)
_TITLES = {"alembic": "an Alembic", "django": "a Django", "rails": "a Rails", "flyway": "a Flyway", "sql": "a SQL"}


@dataclasses.dataclass(frozen=True)
class Detection:
    framework: str
    reason: str
    #: For Django, the settings module: $DJANGO_SETTINGS_MODULE when set, else the one manage.py names.
    settings_module: str | None = None

    @property
    def project(self) -> str:
        """``an Alembic project``, for messages."""
        return f"{_TITLES.get(self.framework, f'a {self.framework}')} project"

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Marker:
    framework: str
    found: str
    settings_module: str | None = None


def detect(
    *,
    project_dir: Path,
    migrations_dir: Path,
    forced: str = "auto",
    dir_source: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Detection:
    """The framework of the project in ``project_dir``, or the one forced with ``--framework``.

    Framework markers win over the default SQL directory because a framework project may also keep raw SQL around;
    a directory named with ``--dir`` (or ``dir:``) that holds SQL files wins over them, since the user asked for
    those files. The order (Alembic, Django, Rails, Flyway, plain SQL) puts the most specific marker first; the
    reason names every marker found and which ones were ignored.
    """
    environ = os.environ if environ is None else environ
    django = _django_settings(project_dir, environ)
    if forced != "auto":
        settings_module = django[0] if django else environ.get("DJANGO_SETTINGS_MODULE") or None
        if forced == "django" and settings_module is None:
            raise errors.UsageError(
                f"--framework django given but {project_dir / 'manage.py'} names no settings module",
                hint="set DJANGO_SETTINGS_MODULE, e.g. DJANGO_SETTINGS_MODULE=mysite.settings",
            )
        return Detection(framework=forced, reason="chosen with --framework", settings_module=settings_module)
    markers = _markers(project_dir, django)
    sql = _sql_count(migrations_dir)
    sql_found = f"{sql} SQL file(s) in {migrations_dir}"
    if markers and not (dir_source and sql):
        chosen, *others = markers
        ignored = [marker.found for marker in others] + ([f"{sql_found} (`--framework sql` runs them)"] if sql else [])
        return Detection(
            framework=chosen.framework,
            reason=f"found {chosen.found}" + (f"; ignored {', '.join(ignored)}" if ignored else ""),
            settings_module=chosen.settings_module,
        )
    if markers:
        skipped = ", ".join(marker.found for marker in markers)
        return Detection(framework="sql", reason=f"{sql_found} (given with {dir_source}); ignored {skipped}")
    if dir_source and not sql:
        elsewhere = _markers(migrations_dir, _django_settings(migrations_dir, {}))
        if elsewhere:
            raise errors.UsageError(
                f"{migrations_dir} holds no SQL files but is {_TITLES[elsewhere[0].framework]} project "
                f"(found {elsewhere[0].found}); frameworks are detected in the working directory only",
                hint=f"run dbmigrate from {migrations_dir} (cd into it) without --dir",
            )
    return Detection(framework="sql", reason=sql_found)


def _markers(project_dir: Path, django: tuple[str, str] | None) -> list[_Marker]:
    """Every framework marker in ``project_dir``, most specific first."""
    found: list[_Marker] = []
    if (project_dir / "alembic.ini").is_file():
        found.append(_Marker("alembic", str(project_dir / "alembic.ini")))
    if django is not None:
        module, origin = django
        found.append(_Marker("django", f"{project_dir / 'manage.py'} with settings {module} from {origin}", module))
    rails = sorted((project_dir / "db" / "migrate").glob("*.rb"))
    if rails:
        found.append(_Marker("rails", f"{len(rails)} Ruby migrations in {project_dir / 'db/migrate'}"))
    found += [
        _Marker("flyway", str(project_dir / name))
        for name in ("flyway.conf", "flyway.toml")
        if (project_dir / name).is_file()
    ][:1]
    return found


def _sql_count(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    with os.scandir(directory) as entries:
        return sum(1 for entry in entries if entry.name.endswith(".sql"))


def _django_settings(project_dir: Path, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The settings module of a Django project (one with manage.py) and where it came from, as ``manage.py``
    would pick it: its ``os.environ[...] = ...`` always, its ``setdefault`` only when the variable is not set."""
    manage = project_dir / "manage.py"
    if not manage.is_file():
        return None
    match = _DJANGO_SETTINGS.search(manage.read_text(errors="replace"))
    if match and match["assigned"]:
        return match["module"], "manage.py"
    if environ.get("DJANGO_SETTINGS_MODULE"):
        return environ["DJANGO_SETTINGS_MODULE"], "$DJANGO_SETTINGS_MODULE"
    return (match["module"], "manage.py") if match else None
