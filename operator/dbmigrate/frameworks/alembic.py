"""Alembic projects, driven through Alembic's own API one revision at a time so each is timed and reported.

dbmigrate hands the project's ``env.py`` the database twice, and env.py should honour either:

* ``sqlalchemy.url`` (the main option) is set to our URL, which the stock env.py reads with
  ``engine_from_config``;
* ``config.attributes["connection"]`` holds an open SQLAlchemy connection (Alembic's "sharing a
  connection" cookbook recipe): an env.py that uses it when present needs no URL at all.

An env.py that ignores both (say, it reads its own environment variable) migrates the database *it* names.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from dbmigrate import config, errors, state
from dbmigrate.frameworks import base
from dbmigrate.sources import detect

_BASE_TARGETS = ("base", "0")


@contextlib.contextmanager
def adapter(settings: config.Settings, detection: detect.Detection) -> Iterator[base.Adapter]:
    """An adapter on a connection of its own, not dbmigrate's autocommit one: revisions get transactions."""
    engine = sqlalchemy.create_engine(settings.url, poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            yield AlembicAdapter(_config(settings, conn), conn)
    finally:
        engine.dispose()


def _config(settings: config.Settings, conn: sqlalchemy.Connection) -> Config:
    ini = settings.project_dir / "alembic.ini"
    # Alembic prints to stdout; keep it for the JSON document.
    cfg = Config(str(ini), stdout=sys.stderr, attributes={"connection": conn})
    # ConfigParser interpolates %, which URL-escaped passwords contain.
    cfg.set_main_option("sqlalchemy.url", settings.url.render_as_string(hide_password=False).replace("%", "%%"))
    location = cfg.get_main_option("script_location")
    if location is None:
        raise errors.UsageError(f"{ini} has no script_location", hint="add `script_location = alembic` to it")
    # Alembic resolves relative paths (and prepend_sys_path = .) against the working directory, not the ini's.
    if ":" not in location and not Path(location).is_absolute():
        cfg.set_main_option("script_location", str(settings.project_dir / location))
    if str(settings.project_dir) not in sys.path:
        sys.path.insert(0, str(settings.project_dir))
    return cfg


class AlembicAdapter:
    def __init__(self, cfg: Config, conn: sqlalchemy.Connection) -> None:
        self._config = cfg
        self._conn = conn
        try:
            self._script = ScriptDirectory.from_config(cfg)
        except CommandError as exc:
            raise errors.UsageError(f"cannot read the Alembic scripts: {exc}") from None
        # Alembic treats only PostgreSQL's DDL as transactional (SQLite's ALTERs are emulated outside one).
        self._transactional = conn.dialect.name == "postgresql"

    def current(self) -> list[str]:
        log = logging.getLogger("alembic.runtime.migration")
        level = log.level
        log.setLevel(logging.WARNING)  # our reads are not the project's migrations: no "Context impl" lines
        try:
            heads = MigrationContext.configure(self._conn).get_current_heads()
        finally:
            log.setLevel(level)
        self._conn.rollback()  # end the read's implicit transaction: env.py must find none open
        return list(heads)

    def applied(self) -> list[str]:
        return [script.revision for script in reversed(self._applied_newest_first())]

    def describe(self) -> str | None:
        return None

    def steps_pending(self, target: str | None) -> list[base.Step]:
        done = set(self.applied())
        wanted = self._ancestry(target or "heads")
        return [self._step(script) for script in reversed(wanted) if script.revision not in done]

    def steps_to_revert(self, target: str | None, steps: int | None) -> list[base.Step]:
        applied = [self._step(script) for script in self._applied_newest_first()]
        if target is None:
            return state.newest(applied, steps)
        keep = set() if target in _BASE_TARGETS else {script.revision for script in self._ancestry(target)}
        return [step for step in applied if step.key not in keep]

    def apply(self, step: base.Step) -> None:
        self._run(command.upgrade, step.key)

    def revert(self, step: base.Step) -> None:
        # ``<rev>@-1`` takes exactly that head back one step and leaves other branches alone
        # (``downgrade <down_revision>`` would undo sibling branches too); newest-first order keeps each step
        # a head. A merge is undone by going down to one of its parents, which leaves all of them as heads.
        script = self._script.get_revision(step.key)
        parents = script.down_revision if script is not None else None
        self._run(command.downgrade, parents[0] if isinstance(parents, tuple | list) else f"{step.key}@-1")

    def _run(self, action: Callable[[Config, str], None], revision: str) -> None:
        try:
            action(self._config, revision)
        except BaseException:
            if self._conn.in_transaction():
                self._conn.rollback()
            raise
        if self._conn.in_transaction():
            self._conn.commit()  # an env.py on our connection leaves the step's transaction to its owner

    def _applied_newest_first(self) -> list[Script]:
        heads = tuple(self.current())
        return self._ancestry(heads) if heads else []

    def _ancestry(self, upper: str | tuple[str, ...]) -> list[Script]:
        """``upper`` and everything below it, newest first (dependencies after their dependents)."""
        try:
            return list(self._script.iterate_revisions(upper, "base"))
        except (CommandError, RevisionError) as exc:
            raise errors.UsageError(f"unknown Alembic revision {upper!r}: {exc}") from None

    def _step(self, script: Script) -> base.Step:
        path = Path(script.path)
        return base.Step(
            key=script.revision,
            label=path.name,
            path=path,
            name=(script.doc or script.revision).strip(),
            transactional=self._transactional,
        )
