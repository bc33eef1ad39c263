"""Rails and Flyway projects, delegated to their own command-line tools.

dbmigrate cannot run Ruby migrations or Flyway's Java ones itself, so each action is one run of the
project's tool (``bin/rails db:migrate``, ``flyway migrate``) inside dbmigrate's lock and report. The
database reaches the tool through environment variables only (``DATABASE_URL`` for Rails; ``FLYWAY_URL``, with
the URL's options such as ``sslmode`` as JDBC parameters, ``FLYWAY_USER`` and ``FLYWAY_PASSWORD`` for Flyway),
never its arguments, which any user on the machine can list; its output is passed on with the secrets masked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL

from dbmigrate import config, dburl, errors
from dbmigrate.frameworks import base, output
from dbmigrate.sources import detect

_OUTPUT_TAIL_LINES = 20
_RAILS_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql2", "sqlite": "sqlite3"}


@contextlib.contextmanager
def adapter(settings: config.Settings, detection: detect.Detection) -> Iterator[base.Adapter]:
    if detection.framework == "rails":
        yield Delegated(settings, command=_rails_command(settings.project_dir), env=_rails_env(settings.url))
    else:
        yield Delegated(settings, command=_flyway_command(), env=_flyway_env(settings.url), flyway=True)


class Delegated:
    """One tool run per action: the tool, not dbmigrate, decides which migrations are pending."""

    def __init__(self, settings: config.Settings, *, command: list[str], env: dict[str, str], flyway: bool = False):
        self._settings = settings
        self._command = command
        self._env = env
        self._flyway = flyway
        self.location = settings.project_dir if flyway else settings.project_dir / "db" / "migrate"

    def current(self) -> list[str]:
        return []

    def applied(self) -> list[str]:
        return []

    def unknown(self) -> list[str]:
        return []

    def history(self) -> list[dict[str, object]] | None:
        return None

    def describe(self) -> str:
        return self._call(["info"] if self._flyway else ["db:migrate:status"], stream=False)

    def steps_pending(self, target: str | None) -> list[base.Step]:
        if self._flyway:
            return [self._step(["migrate", *([f"-target={target}"] if target else [])])]
        return [self._step(["db:migrate", *([f"VERSION={target}"] if target else [])])]

    def steps_to_revert(self, target: str | None, steps: int | None) -> list[base.Step]:
        if self._flyway:
            raise errors.UsageError(
                "Flyway reverts only with `flyway undo`, a paid Flyway edition",
                hint="with U<version>__*.sql undo files next to the V files, "
                "`dbmigrate down --framework sql` reverts them natively",
            )
        if target is not None:
            return [self._step(["db:migrate", f"VERSION={target}"])]
        return [self._step(["db:rollback", f"STEP={1 if steps is None else steps}"])]

    def apply(self, step: base.Step) -> None:
        self._call(step.key.split(), stream=True)

    def revert(self, step: base.Step) -> None:
        self._call(step.key.split(), stream=True)

    def _step(self, arguments: list[str]) -> base.Step:
        label = self._shown(arguments)
        return base.Step(key=" ".join(arguments), label=label, name=label, reversible=not self._flyway)

    def _shown(self, arguments: list[str]) -> str:
        return " ".join([Path(self._command[-1]).name, *arguments])

    def _call(self, arguments: list[str], *, stream: bool) -> str:
        """Run the tool, passing its output on (masked) as it comes; its last lines name a failure."""
        args = [*self._command, *arguments]
        lines: list[str] = []
        with subprocess.Popen(
            args,
            cwd=self._settings.project_dir,
            env={**os.environ, **self._env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(output.mask(line.rstrip("\n"), self._settings.url))
                if stream:
                    print(lines[-1], file=sys.stderr, flush=True)
        if process.returncode != 0:
            tail = "\n".join(lines[-_OUTPUT_TAIL_LINES:])
            raise errors.MigrationError(f"exited with {process.returncode}:\n{tail}")
        return "\n".join(lines)


def _rails_command(project_dir: Path) -> list[str]:
    binstub = project_dir / "bin" / "rails"
    ruby = shutil.which("ruby")
    if binstub.is_file() and ruby:
        return [ruby, str(binstub)]
    rails = shutil.which("rails")
    if rails and ruby:
        return [rails]
    missing = " and ".join(name for name, found in (("rails", rails or binstub.is_file()), ("ruby", ruby)) if not found)
    raise errors.UsageError(
        f"this is a Rails project ({project_dir / 'db/migrate'} holds Ruby migrations), which dbmigrate runs "
        f"through Rails, but {missing} {'is' if ' and ' not in missing else 'are'} not on PATH",
        hint="install Ruby and the project's gems (`bundle install`, which provides bin/rails), "
        "or run dbmigrate where the app's Ruby environment is (its container image)",
    )


def _flyway_command() -> list[str]:
    flyway = shutil.which("flyway")
    if flyway is None:
        raise errors.UsageError(
            "this is a Flyway project (flyway.conf / flyway.toml), which dbmigrate hands to the Flyway CLI, "
            "but flyway is not on PATH",
            hint="install the Flyway command-line tool (https://documentation.red-gate.com/fd/command-line), "
            "or use `--framework sql --dir <your V__ files' directory>`: dbmigrate reads Flyway's SQL files natively",
        )
    return [flyway]


def _rails_env(url: URL) -> dict[str, str]:
    dialect = dburl.dialect_of(url)
    if dialect == "sqlite":
        return {"DATABASE_URL": f"sqlite3:{url.database}"}
    return {"DATABASE_URL": url.set(drivername=_RAILS_SCHEMES[dialect]).render_as_string(hide_password=False)}


def _flyway_env(url: URL) -> dict[str, str]:
    """The JDBC URL keeps the URL's options (``sslmode``, ``options``, ...), which the JDBC drivers take under
    the same names; a password given as an option travels as FLYWAY_PASSWORD like any other."""
    dialect = dburl.dialect_of(url)
    secret = set(dburl.secrets(url))
    options = [(key, value) for key, value in url.query.items() if isinstance(value, str) and value not in secret]
    query = f"?{urllib.parse.urlencode(options)}" if options else ""
    if dialect == "sqlite":
        jdbc = f"jdbc:sqlite:{url.database}"
    else:
        kind = "mariadb" if url.get_backend_name() == "mariadb" else dialect
        port = f":{url.port}" if url.port else ""
        jdbc = f"jdbc:{kind}://{url.host or 'localhost'}{port}/{url.database or ''}{query}"
    password = url.password or next(iter(dburl.secrets(url)), "")
    return {"FLYWAY_URL": jdbc, "FLYWAY_USER": url.username or "", "FLYWAY_PASSWORD": password}
