"""Alembic projects, driven through Alembic's own API one revision at a time so each is timed and reported.

dbmigrate hands the project's ``env.py`` the database twice, and env.py should honour either:

* ``sqlalchemy.url`` (the main option) is set to our URL, which the stock env.py reads with
  ``engine_from_config``;
* ``config.attributes["connection"]`` holds an open SQLAlchemy connection (Alembic's "sharing a
  connection" cookbook recipe): an env.py that uses it when present needs no URL at all.

An env.py that ignores both (say, it reads its own environment variable) migrates the database *it* names.

The applied revisions are read by running env.py as ``alembic current`` does, so the options its
``context.configure()`` passes (a custom ``version_table``, ``version_table_schema``) are the ones read; targets
(``+1``, ``-1``, ``<rev>@-1``, ``heads``, ``base``) are resolved by Alembic against those revisions, as its
``upgrade``/``downgrade`` commands resolve them.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import URL

from dbmigrate import config, dburl, dialects, errors, state
from dbmigrate.frameworks import base, output
from dbmigrate.sources import detect

_BASE_TARGETS = ("base", "0")
#: What Alembic's sample alembic.ini holds until someone edits it: not a database.
_PLACEHOLDER = "driver://user:pass@localhost/dbname"


@contextlib.contextmanager
def adapter(settings: config.Settings, detection: detect.Detection) -> Iterator[base.Adapter]:
    """An adapter on a connection of its own, not dbmigrate's autocommit one: revisions get transactions."""
    cfg = _config(settings.project_dir)
    engine = sqlalchemy.create_engine(settings.url, poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            # The bounds every statement of a SQL run gets; plain SETs outlive the transaction they begin.
            dialects.for_name(settings.dialect).set_timeouts(
                conn, lock_timeout=settings.apply.lock_timeout, statement_timeout=settings.apply.statement_timeout
            )
            conn.commit()
            # ConfigParser interpolates %, which URL-escaped passwords contain.
            cfg.set_main_option("sqlalchemy.url", settings.url.render_as_string(hide_password=False).replace("%", "%%"))
            cfg.attributes["connection"] = conn
            yield AlembicAdapter(cfg, conn, url=settings.url)
    finally:
        engine.dispose()


def configured_url(project_dir: Path) -> URL | None:
    """alembic.ini's ``sqlalchemy.url`` (None when unset); a SQLite path in it is relative to the project, where
    ``alembic`` runs. A value that is no database URL is a usage error saying so."""
    ini = project_dir / "alembic.ini"
    raw = _config(project_dir).get_main_option("sqlalchemy.url")
    if not raw or raw.strip() == _PLACEHOLDER:
        return None
    try:
        url = dburl.parse(raw)
    except errors.UsageError as exc:
        raise errors.UsageError(f"{ini}: sqlalchemy.url is not a database dbmigrate can use: {exc.message}") from None
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_absolute():
        url = url.set(database=str(project_dir / url.database))
    return url


def _config(project_dir: Path) -> Config:
    ini = project_dir / "alembic.ini"
    if not ini.is_file():
        raise errors.UsageError(
            f"{ini} does not exist", hint="run dbmigrate from the Alembic project's directory (where alembic.ini is)"
        )
    cfg = Config(str(ini), stdout=sys.stderr)  # Alembic prints to stdout; keep it for the JSON document.
    try:
        location = cfg.get_main_option("script_location")
    except configparser.Error as exc:
        raise errors.UsageError(f"{ini} is not a valid ini file: {' '.join(str(exc).split())}") from None
    if location is None:
        raise errors.UsageError(f"{ini} has no script_location", hint="add `script_location = alembic` to it")
    # Alembic resolves relative paths (and prepend_sys_path = .) against the working directory, not the ini's.
    if ":" not in location and not Path(location).is_absolute():
        cfg.set_main_option("script_location", str(project_dir / location))
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return cfg


class AlembicAdapter:
    def __init__(self, cfg: Config, conn: sqlalchemy.Connection, *, url: URL) -> None:
        self._config = cfg
        self._conn = conn
        self._url = url
        self._heads: list[str] | None = None
        self._script = self._scripts(lambda: ScriptDirectory.from_config(cfg))
        # Every revision file is read now, so one that does not load is reported before anything runs.
        self._scripts(lambda: list(self._script.walk_revisions()))
        self.location = Path(self._script.dir)
        # Alembic treats only PostgreSQL's DDL as transactional (SQLite's ALTERs are emulated outside one).
        self._transactional = conn.dialect.name == "postgresql"

    def current(self) -> list[str]:
        if self._heads is None:
            heads: list[str] = []

            def read(revision: tuple[str, ...], context: Any) -> list[Any]:
                heads.extend(revision)
                return []

            with output.captured(io.StringIO()) as printed:  # env.py's log lines on a read are noise, not its errors
                self._env(read, printed=printed.getvalue)
            self._heads = heads
        return list(self._heads)

    def applied(self) -> list[str]:
        return [*self.unknown(), *(script.revision for script in reversed(self._applied_newest_first()))]

    def unknown(self) -> list[str]:
        return [head for head in self.current() if not self._known(head)]

    def describe(self) -> str | None:
        return None

    def history(self) -> list[dict[str, object]] | None:
        return [
            {"version": script.revision, "name": (script.doc or "").strip(), "applied_at": None}
            for script in reversed(self._applied_newest_first())
        ]

    def steps_pending(self, target: str | None) -> list[base.Step]:
        destination = target or "heads"
        revisions = self._resolve(destination, lambda heads: self._script._upgrade_revs(destination, heads))
        return [self._step(revision.revision) for revision in revisions]

    def steps_to_revert(self, target: str | None, steps: int | None) -> list[base.Step]:
        if target is None:
            return state.newest([self._step(script) for script in self._applied_newest_first()], steps)
        destination = "base" if target in _BASE_TARGETS else target
        revisions = self._resolve(destination, lambda heads: self._script._downgrade_revs(destination, heads))
        return [self._step(revision.revision) for revision in revisions]

    def apply(self, step: base.Step) -> None:
        self._run(command.upgrade, step.key)

    def revert(self, step: base.Step) -> None:
        # ``<rev>@-1`` takes exactly that head back one step and leaves other branches alone
        # (``downgrade <down_revision>`` would undo sibling branches too); newest-first order keeps each step
        # a head. A merge is undone by going down to one of its parents, which leaves all of them as heads.
        script = self._script.get_revision(step.key)
        parents = script.down_revision if script is not None else None
        self._run(command.downgrade, parents[0] if isinstance(parents, tuple | list) else f"{step.key}@-1")

    def _resolve(self, target: str, steps: Callable[[tuple[str, ...]], list[Any]]) -> list[Any]:
        """Alembic's own steps from the applied heads, refused as Alembic refuses them."""
        unknown = self.unknown()
        if unknown:
            raise errors.DriftError(
                f"the database is at Alembic revision {', '.join(unknown)}, which no file in {self.location} "
                "defines: the database is ahead of this code, or the revision file was removed",
                hint="run the code that has that revision, or restore its file",
            )
        heads = tuple(self.current())
        try:
            return steps(heads)
        except (CommandError, RevisionError) as exc:
            raise errors.UsageError(f"Alembic target {target!r}: {' '.join(str(exc).split())}") from None

    def _run(self, action: Callable[[Config, str], None], revision: str) -> None:
        self._heads = None
        self._transaction(lambda: action(self._config, revision))

    def _env(self, read: Callable[[tuple[str, ...], Any], list[Any]], *, printed: Callable[[], str]) -> None:
        """Run env.py with ``read`` in place of the migrations, as ``alembic current`` does."""

        def run() -> None:
            with EnvironmentContext(self._config, self._script, fn=read, dont_mutate=True):
                self._script.run_env()

        try:
            self._transaction(run)
        except Exception as exc:
            said = output.mask(printed().strip(), self._url)
            raise errors.UsageError(
                f"{self.location / 'env.py'} failed while reading the applied revisions: "
                f"{output.mask(_words(exc), self._url)}" + (f"\n{said}" if said else "")
            ) from None

    def _transaction(self, call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException:
            if self._conn.in_transaction():
                self._conn.rollback()
            raise
        if self._conn.in_transaction():
            self._conn.commit()  # an env.py on our connection leaves the step's transaction to its owner

    def _applied_newest_first(self) -> list[Script]:
        heads = tuple(head for head in self.current() if self._known(head))
        return self._scripts(lambda: list(self._script.iterate_revisions(heads, "base"))) if heads else []

    def _known(self, revision: str) -> bool:
        try:
            return self._script.get_revision(revision) is not None
        except (CommandError, RevisionError):
            return False

    def _scripts(self, read: Callable[[], Any]) -> Any:
        """``read`` of the revision files, whose problems (a syntax error, a down_revision naming no file, a
        malformed env) are the user's to fix: a usage error naming them, not a traceback."""
        try:
            return read()
        except (CommandError, RevisionError, KeyError, ImportError, SyntaxError) as exc:
            raise errors.UsageError(f"cannot read the Alembic revisions: {_words(exc)}") from None

    def _step(self, script: Script) -> base.Step:
        path = Path(script.path)
        return base.Step(
            key=script.revision,
            label=path.name,
            path=path,
            name=(script.doc or script.revision).strip(),
            transactional=self._transactional,
        )


def _words(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
