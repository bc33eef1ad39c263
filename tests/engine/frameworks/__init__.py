"""Framework projects (Alembic, Django, Rails, Flyway) run through dbmigrate's glue on real databases.

Helpers shared by these tests: copying a sample project, resolving settings and detection as the CLI does,
calling the glue's actions, and looking at the database afterwards.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy

from dbmigrate import config, dburl, migrating, outcome
from dbmigrate.frameworks import run
from dbmigrate.sources import detect
from dbmigrate.sqltext import Statement
from tests.fixtures.databases import query  # noqa: F401  (re-exported for the framework tests)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def copy_sample(name: str, destination: Path) -> Path:
    """A private copy of ``tests/samples/<name>``, so tests never write into the repository."""
    return Path(shutil.copytree(SAMPLES / name, destination / name))


def settings(url: str, project: Path, **flags: str) -> config.Settings:
    """Settings as the CLI resolves them in ``project`` with ``--database url`` (and ``flags``), ignoring the
    environment."""
    return config.resolve(database=url, cwd=project, lock_wait=5.0, environ={}, **flags)  # type: ignore[arg-type]


def detection(project_settings: config.Settings) -> detect.Detection:
    return detect.detect(project_dir=project_settings.project_dir, migrations_dir=project_settings.migrations_dir)


@dataclasses.dataclass
class Recorder:
    """Progress that remembers the events, to check what the terminal report would have shown."""

    events: list[tuple[str, object]] = dataclasses.field(default_factory=list)

    def checks(self, checks: Sequence[outcome.Check]) -> None:
        self.events.append(("checks", [check.name for check in checks]))

    def migration_started(self, *, index: int, total: int, label: str) -> None:
        self.events.append(("started", (index, total, label)))

    def statement_started(self, statement: Statement) -> None:
        self.events.append(("statement", statement.text))

    def migration_finished(self, *, seconds: float) -> None:
        self.events.append(("finished", seconds))

    def migration_failed(self, *, seconds: float, message: str) -> None:
        self.events.append(("failed", message))

    def notice(self, message: str) -> None:
        self.events.append(("notice", message))


def up(
    project_settings: config.Settings,
    *,
    target: str | None = None,
    report: Recorder | None = None,
    result: outcome.Outcome | None = None,
    rollback_on_failure: bool = True,
) -> outcome.Outcome:
    """``dbmigrate up``; pass ``result`` to look at it after a failure."""
    result = result or outcome.Outcome(action="up")
    options = migrating.RunOptions(target=target, rollback_on_failure=rollback_on_failure)
    run.up(project_settings, detection(project_settings), options=options, result=result, report=report or Recorder())
    return result


def down(
    project_settings: config.Settings,
    *,
    target: str | None = None,
    steps: int | None = None,
    allow_destructive: bool = True,
) -> outcome.Outcome:
    """``dbmigrate down``, by default with the --allow-destructive every framework ``down`` needs."""
    result = outcome.Outcome(action="down")
    options = migrating.RunOptions(target=target, steps=steps, allow_destructive=allow_destructive)
    run.down(project_settings, detection(project_settings), options=options, result=result, report=Recorder())
    return result


def status(project_settings: config.Settings) -> dict[str, Any]:
    result = outcome.Outcome(action="status")
    run.status(project_settings, detection(project_settings), result=result)
    document: dict[str, Any] = result.details["status"]
    return document


def tables(url: str) -> set[str]:
    engine = sqlalchemy.create_engine(dburl.parse(url), poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            return set(sqlalchemy.inspect(conn).get_table_names())
    finally:
        engine.dispose()
