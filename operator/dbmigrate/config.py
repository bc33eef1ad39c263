"""Settings of a run, from (highest first) command-line flags, the environment, ``dbmigrate.yaml``, defaults.

``DATABASE_URL`` is the variable every platform already sets; with nothing configured the database is the embedded
default, a SQLite file ``dbmigrate.sqlite3`` in the working directory, so a first try needs no server.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from dbmigrate import applying, dburl, errors, history
from dbmigrate.backups import gate

if TYPE_CHECKING:
    from dbmigrate.config_file import FileConfig

CONFIG_FILE = "dbmigrate.yaml"
DEFAULT_DATABASE = "sqlite:///dbmigrate.sqlite3"
FRAMEWORKS = ("auto", "sql", "alembic", "django", "rails", "flyway")


@dataclasses.dataclass(frozen=True)
class BackupSettings:
    """The backup gate: ``policy`` None means none was configured (reported as not checked, never as passed)."""

    policy: str | None = None
    max_age: timedelta = timedelta(hours=1)
    directory: Path | None = None
    command: str | None = None


@dataclasses.dataclass(frozen=True)
class Settings:
    url: URL
    #: Where the URL came from (``--database``, ``DATABASE_URL``, ``dbmigrate.yaml`` or ``default``).
    url_source: str
    project_dir: Path
    migrations_dir: Path
    framework: str
    history_table: str
    lock_wait: float
    apply: applying.Options
    #: The URL is a connection pooler in session mode, which is safe to run through (see Dialect.check_session).
    session_pooler: bool = False
    backup: BackupSettings = BackupSettings()
    #: Who named the migrations directory (``--dir`` or ``dbmigrate.yaml``); None for the default ``migrations``.
    migrations_dir_source: str | None = None

    @property
    def dialect(self) -> str:
        return dburl.dialect_of(self.url)


def resolve(
    *,
    database: str | None = None,
    directory: str | None = None,
    framework: str | None = None,
    history_table: str | None = None,
    config_file: str | None = None,
    lock_wait: float | None = None,
    lock_timeout: float | None = None,
    statement_timeout: float | None = None,
    lock_retries: int | None = None,
    session_pooler: bool | None = None,
    backup_policy: str | None = None,
    backup_max_age: str | None = None,
    backup_dir: str | None = None,
    backup_command: str | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge flags (the keyword arguments), the environment and the config file into validated settings."""
    environ = dict(os.environ) if environ is None else environ
    cwd = cwd or Path.cwd()
    read = _read_file(Path(config_file) if config_file else cwd / CONFIG_FILE, required=bool(config_file))
    file_config: Any = read if read is not None else _NoFile()
    raw_url, url_source = _database_url(database, environ, file_config)
    url = dburl.parse(raw_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_absolute():
        url = url.set(database=str(cwd / url.database))
    migrations_dir = Path(directory or file_config.dir or "migrations")
    backup_directory = backup_dir or file_config.backup_dir
    backup = BackupSettings(
        policy=backup_policy or file_config.backup_policy,
        max_age=gate.parse_duration(backup_max_age or file_config.backup_max_age or "1h"),
        directory=None if backup_directory is None else cwd / backup_directory,
        command=backup_command or file_config.backup_command,
    )
    if backup.policy not in (None, *gate.POLICIES):
        raise errors.UsageError(f"--backup-policy must be one of {', '.join(gate.POLICIES)}")
    defaults = applying.Options()
    return Settings(
        url=url,
        url_source=url_source,
        project_dir=cwd,
        migrations_dir=migrations_dir if migrations_dir.is_absolute() else cwd / migrations_dir,
        framework=framework or file_config.framework or "auto",
        history_table=history_table or file_config.history_table or history.DEFAULT_TABLE,
        lock_wait=_pick(lock_wait, file_config.lock_wait, 60.0),
        apply=applying.Options(
            # 0 means "no bound", as in PostgreSQL's own settings.
            lock_timeout=_pick(lock_timeout, file_config.lock_timeout, defaults.lock_timeout) or None,
            statement_timeout=_pick(statement_timeout, file_config.statement_timeout, defaults.statement_timeout)
            or None,
            lock_retries=int(_pick(lock_retries, file_config.lock_retries, defaults.lock_retries) or 0),
        ),
        backup=backup,
        session_pooler=bool(session_pooler or file_config.session_pooler),
        migrations_dir_source="--dir" if directory else CONFIG_FILE if file_config.dir else None,
    )


def _read_file(path: Path, *, required: bool) -> FileConfig | None:
    """The config file's settings; YAML and pydantic load only when there is a file to read."""
    if not path.is_file():
        if required:
            raise errors.UsageError(f"config file {path} {'is not a file' if path.exists() else 'does not exist'}")
        return None
    import pydantic
    import yaml

    from dbmigrate.config_file import FileConfig

    try:
        data: Any = yaml.safe_load(path.read_text()) or {}
    except UnicodeDecodeError as exc:
        raise errors.UsageError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise errors.UsageError(f"{path} is not valid YAML{_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise errors.UsageError(f"{path} must hold settings as `key: value` lines, not a {type(data).__name__}")
    try:
        return FileConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise errors.UsageError(f"{path}: {problems}") from None


def _yaml_problem(exc: Exception) -> str:
    """Where and what the YAML problem is, without PyYAML's quote of the lines around it: in this file, those hold
    the database URL and its password."""
    import yaml

    if not isinstance(exc, yaml.MarkedYAMLError):
        return ""
    mark = exc.context_mark or exc.problem_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"{where}: {' '.join(filter(None, (exc.problem, exc.context)))}"


def _database_url(database: str | None, environ: dict[str, str], file_config: Any) -> tuple[str, str]:
    """The database URL and where it came from, by precedence. A setting given empty is refused: `-d "$DB"` with
    DB unset in CI must not quietly mean the embedded SQLite default and report success."""
    given: tuple[tuple[str, Callable[[], str | None]], ...] = (
        ("--database", lambda: database),
        ("DATABASE_URL", lambda: environ.get("DATABASE_URL")),
        ("DBMIGRATE_DB_* variables", lambda: _url_from_parts(environ)),  # read only when nothing above is set
        (CONFIG_FILE, lambda: file_config.database),
    )
    for source, read in given:
        value = read()
        if value is not None:
            if not value.strip():
                name = f"database in {CONFIG_FILE}" if source == CONFIG_FILE else source
                raise errors.UsageError(
                    f"{name} is set but empty", hint="give a database URL, or leave it unset for the SQLite default"
                )
            return value, source
    return DEFAULT_DATABASE, "default"


def _url_from_parts(environ: dict[str, str]) -> str | None:
    """A URL from DBMIGRATE_DB_ENGINE/HOST/PORT/NAME/USER/PASSWORD: how Secrets with separate keys arrive."""
    host = environ.get("DBMIGRATE_DB_HOST")
    if not host:
        return None
    url = URL.create(
        environ.get("DBMIGRATE_DB_ENGINE", "postgresql"),
        username=environ.get("DBMIGRATE_DB_USER"),
        password=environ.get("DBMIGRATE_DB_PASSWORD"),
        host=host,
        port=_port(environ.get("DBMIGRATE_DB_PORT")),
        database=environ.get("DBMIGRATE_DB_NAME"),
    )
    return url.render_as_string(hide_password=False)


def _port(text: str | None) -> int | None:
    if not text:
        return None
    if not text.strip().isdigit():
        raise errors.UsageError(f"DBMIGRATE_DB_PORT must be a port number, not {text!r}")
    return int(text)


class _NoFile:
    """Stands in for an absent config file: every key unset."""

    def __getattr__(self, name: str) -> None:
        return None


def _pick(*values: float | None) -> Any:
    """The first value that is not None (0 is a real setting: no timeout)."""
    return next((value for value in values if value is not None), None)
