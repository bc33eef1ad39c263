"""Django projects, migrated in-process with Django's own executor, one migration at a time.

Django is set up once per process: ``sys.path`` gets the project directory, ``DJANGO_SETTINGS_MODULE`` the
settings module (the environment's, else the one ``manage.py`` names), and ``DATABASES["default"]`` is replaced
by dbmigrate's database, its URL options becoming ``OPTIONS``, before any connection opens. A later run in the
same process may use another database but not another settings module (Django cannot be set up twice). Each step
sends ``pre_migrate``/``post_migrate`` as ``manage.py migrate`` does, so content types and permissions follow the
schema. Only the ``default`` database is migrated.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import django
import sqlalchemy
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.signals import connection_created
from django.db.migrations.exceptions import (
    AmbiguityError,
    InconsistentMigrationHistory,
)
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from sqlalchemy.engine import URL

from dbmigrate import config, dburl, dialects, errors, state
from dbmigrate.frameworks import base
from dbmigrate.sources import detect

_ENGINES = {
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}
#: Django's engines (``postgresql_psycopg2`` is its old name) → the URL scheme of the same database.
_SCHEMES = {
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.postgresql_psycopg2": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.db.backends.sqlite3": "sqlite",
}
#: URL options that are the password (libpq's, PyMySQL's), which Django takes as PASSWORD rather than an option.
_PASSWORD_OPTIONS = ("password", "passwd")
_ALL = ("0", "zero")
#: What the project's settings say ``DATABASES["default"]`` is, kept from before dbmigrate replaced it.
_DECLARED: dict[str, dict[str, Any]] = {}

#: A Django migration's graph key: (app label, migration name).
Key = tuple[str, str]


@contextlib.contextmanager
def adapter(settings: config.Settings, detection: detect.Detection) -> Iterator[base.Adapter]:
    _setup(settings, detection)

    def bound(sender: Any, connection: Any, **kwargs: Any) -> None:
        """The bounds every statement of a SQL run gets, on each connection Django opens for the run."""
        dialects.for_name(settings.dialect).set_timeouts(
            cast(sqlalchemy.Connection, _DriverSQL(connection)),
            lock_timeout=settings.apply.lock_timeout,
            statement_timeout=settings.apply.statement_timeout,
        )

    connection_created.connect(bound, weak=False, dispatch_uid="dbmigrate-timeouts")
    try:
        yield DjangoAdapter(connections[DEFAULT_DB_ALIAS], location=settings.project_dir)
    finally:
        connection_created.disconnect(dispatch_uid="dbmigrate-timeouts")
        connections.close_all()


class _DriverSQL:
    """The part of a SQLAlchemy connection :meth:`Dialect.set_timeouts` uses, on a Django connection, so the
    session settings are the SQL path's own rather than a copy of them."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.dialect = type("Server", (), {"is_mariadb": bool(getattr(connection, "mysql_is_mariadb", False))})

    def exec_driver_sql(self, statement: str) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(statement)


def configured_url(settings: config.Settings, detection: detect.Detection) -> URL | None:
    """The project's own ``DATABASES["default"]`` as a URL (None when it has none), as its settings declare it;
    an engine dbmigrate does not connect to is a usage error saying so."""
    declared = _declared(settings, _module(settings, detection))
    if not declared:
        return None
    engine = str(declared.get("ENGINE", ""))
    if engine not in _SCHEMES:
        raise errors.UsageError(
            f"the Django settings' DATABASES['default'] uses {engine or 'no ENGINE'}, "
            "which dbmigrate does not connect to (it supports PostgreSQL, MySQL/MariaDB and SQLite)"
        )
    name = str(declared.get("NAME") or "")
    if _SCHEMES[engine] == "sqlite" and name and not Path(name).is_absolute():
        name = str(settings.project_dir / name)  # Django opens it from the working directory, the project
    options = {key: value for key, value in declared.get("OPTIONS", {}).items() if isinstance(value, str)}
    return dburl.parse(
        URL.create(
            _SCHEMES[engine],
            username=declared.get("USER") or None,
            password=declared.get("PASSWORD") or None,
            host=declared.get("HOST") or None,
            port=int(declared["PORT"]) if declared.get("PORT") else None,
            database=name or None,
            query=options,
        ).render_as_string(hide_password=False)
    )


def _module(settings: config.Settings, detection: detect.Detection) -> str:
    if detection.settings_module is None:
        raise errors.UsageError(
            f"{settings.project_dir / 'manage.py'} names no DJANGO_SETTINGS_MODULE",
            hint="set DJANGO_SETTINGS_MODULE, e.g. DJANGO_SETTINGS_MODULE=mysite.settings",
        )
    return detection.settings_module


def _declared(settings: config.Settings, module: str) -> dict[str, Any]:
    """Import the settings module (once: Django keeps it) and return its ``DATABASES["default"]`` as written."""
    if module not in _DECLARED:
        if str(settings.project_dir) not in sys.path:
            sys.path.insert(0, str(settings.project_dir))
        if not apps.ready:
            os.environ["DJANGO_SETTINGS_MODULE"] = module
        try:
            databases = django_settings.DATABASES
        except Exception as exc:  # the settings module's own code: ImproperlyConfigured, SyntaxError, anything
            raise errors.UsageError(f"cannot load the Django settings module {module}: {_words(exc)}") from None
        _DECLARED[module] = dict(databases.get(DEFAULT_DB_ALIAS, {}))
    return _DECLARED[module]


def _setup(settings: config.Settings, detection: detect.Detection) -> None:
    module = _module(settings, detection)
    database = _database(settings.url)
    if database["ENGINE"] == _ENGINES["mysql"]:
        import pymysql  # Django's MySQL backend imports MySQLdb (mysqlclient); PyMySQL stands in for it.

        pymysql.install_as_MySQLdb()
    if apps.ready:
        if module != django_settings.SETTINGS_MODULE:
            raise errors.UsageError(
                f"Django is already set up with {django_settings.SETTINGS_MODULE} here, not {module}",
                hint="run each Django project in a dbmigrate process of its own",
            )
        connections.close_all()
        with contextlib.suppress(AttributeError):
            del connections[DEFAULT_DB_ALIAS]  # the next access opens a connection from the new settings
    previous = _declared(settings, module)
    # The project's OPTIONS only make sense for the engine they were written for; the URL's own options win.
    options = dict(previous.get("OPTIONS", {})) if previous.get("ENGINE") == database["ENGINE"] else {}
    databases = django_settings.DATABASES
    databases[DEFAULT_DB_ALIAS] = {**database, "OPTIONS": {**options, **database["OPTIONS"]}}
    # Fills in Django's defaults (TIME_ZONE, CONN_MAX_AGE, ...) in place: connections reads this same dict.
    connections.configure_settings(databases)
    try:
        django.setup()
    except Exception as exc:  # the project's apps and models are its own code
        raise errors.UsageError(f"Django could not start with {module}: {_words(exc)}") from None


def _database(url: URL) -> dict[str, Any]:
    """``DATABASES["default"]`` for ``url``: its query options (``sslmode``, ``options``, ``application_name``,
    ``ssl_ca``...) are the driver's connection options in Django as in SQLAlchemy, its ``?password=`` the
    password. SQLite's URL options are SQLAlchemy's own, not sqlite3's, so they are not passed on."""
    dialect = dburl.dialect_of(url)
    options = {} if dialect == "sqlite" else {key: value for key, value in url.query.items() if isinstance(value, str)}
    passwords = [options.pop(key) for key in _PASSWORD_OPTIONS if key in options]
    return {
        "ENGINE": _ENGINES[dialect],
        "NAME": url.database or "",
        "USER": url.username or "",
        "PASSWORD": url.password or next(iter(passwords), ""),
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
        "OPTIONS": options,
    }


def _words(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class DjangoAdapter:
    def __init__(self, connection: Any, *, location: Path) -> None:
        self._connection = connection
        self.location = location

    def current(self) -> list[str]:
        newest: dict[str, str] = {}
        for key in self.applied():
            newest[key.partition(".")[0]] = key
        return list(newest.values())

    def applied(self) -> list[str]:
        executor = self._executor()
        done = executor.loader.applied_migrations
        return [_name(m) for m in _all_in_order(executor) if (m.app_label, m.name) in done]

    def unknown(self) -> list[str]:
        executor = self._executor()
        return [
            f"{app}.{name}"
            for app, name in executor.loader.applied_migrations
            if (app, name) not in executor.loader.graph.nodes
        ]

    def history(self) -> list[dict[str, object]] | None:
        """django_migrations' rows in the order they were applied, with Django's own times."""
        recorded = MigrationRecorder(self._connection).applied_migrations().values()
        return [
            {"version": f"{row.app}.{row.name}", "name": row.name, "applied_at": row.applied.isoformat()}
            for row in sorted(recorded, key=lambda row: (row.applied, row.id))
        ]

    def describe(self) -> str | None:
        return None

    def steps_pending(self, target: str | None) -> list[base.Step]:
        executor = self._executor()
        try:
            executor.loader.check_consistent_history(self._connection)
        except InconsistentMigrationHistory as exc:
            raise errors.DriftError(
                f"Django's migration history is inconsistent: {exc}",
                hint="find how the dependency was skipped (a migration added or renamed after release), fix "
                "django_migrations before migrating",
            ) from None
        targets = executor.loader.graph.leaf_nodes() if target is None else [self._target(executor, target)]
        plan = executor.migration_plan(targets)
        if any(backwards for _, backwards in plan):
            raise errors.UsageError(
                f"{target} is older than what is applied; `up` never unapplies migrations",
                hint=f"use `dbmigrate down {target}`",
            )
        return [self._step(migration) for migration, _ in plan]

    def steps_to_revert(self, target: str | None, steps: int | None) -> list[base.Step]:
        executor = self._executor()
        done = executor.loader.applied_migrations
        applied = [self._step(m) for m in reversed(_all_in_order(executor)) if (m.app_label, m.name) in done]
        if target is None:
            return state.newest(applied, steps)
        if target in _ALL:
            return applied
        plan = executor.migration_plan([self._target(executor, target)])
        if not all(backwards for _, backwards in plan):
            raise errors.UsageError(
                f"{target} is not applied yet, so there is nothing above it to revert",
                hint=f"use `dbmigrate up {target}`",
            )
        return [self._step(migration) for migration, _ in plan]

    def apply(self, step: base.Step) -> None:
        self._migrate(step, backwards=False)

    def revert(self, step: base.Step) -> None:
        self._migrate(step, backwards=True)

    def _migrate(self, step: base.Step, *, backwards: bool) -> None:
        """One migration, with the signals and project states ``manage.py migrate`` uses."""
        executor = self._executor()  # fresh: the previous step changed what is applied
        key = _key(step.key)
        plan = [(executor.loader.graph.nodes[key], backwards)]
        alias = self._connection.alias
        before = executor._create_project_state(with_applied_migrations=True)
        emit_pre_migrate_signal(0, False, alias, apps=before.apps, plan=plan)
        after = executor.migrate([key], plan=plan, state=before.clone())
        after.clear_delayed_apps_cache()
        emit_post_migrate_signal(0, False, alias, apps=after.apps, plan=plan)

    def _executor(self) -> Any:
        try:
            return MigrationExecutor(self._connection)
        except DatabaseError as exc:  # reading django_migrations
            raise errors.MigrationError(f"database error: {_words(exc)}") from None
        except Exception as exc:  # the migration files are the project's code: a syntax error, a missing parent
            raise errors.UsageError(f"cannot read the Django migrations: {_words(exc)}") from None

    def _target(self, executor: Any, target: str) -> tuple[str, str | None]:
        app, _, prefix = target.partition(".")
        if not prefix:
            raise errors.UsageError(f"Django target {target!r} should be app.migration, e.g. shop.0002 or shop.zero")
        if app not in executor.loader.migrated_apps:
            known = ", ".join(sorted(executor.loader.migrated_apps))
            raise errors.UsageError(f"no Django app {app!r} with migrations (apps: {known})")
        if prefix == "zero":
            return app, None
        try:
            return app, executor.loader.get_migration_by_prefix(app, prefix).name
        except AmbiguityError:
            raise errors.UsageError(f"{target} matches more than one migration; give more of its name") from None
        except KeyError:
            raise errors.UsageError(f"no migration {prefix!r} in Django app {app!r}") from None

    def _step(self, migration: Any) -> base.Step:
        path = Path(str(sys.modules[migration.__module__].__file__))
        return base.Step(
            key=_name(migration),
            label=f"{migration.app_label}/{path.name}",
            path=path,
            name=_name(migration),
            reversible=all(operation.reversible for operation in migration.operations),
            transactional=bool(migration.atomic and self._connection.features.can_rollback_ddl),
        )


def _all_in_order(executor: Any) -> list[Any]:
    """Every migration in the order Django applies them on an empty database."""
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    return [migration for migration, _ in plan]


def _name(migration: Any) -> str:
    return f"{migration.app_label}.{migration.name}"


def _key(name: str) -> Key:
    app, _, migration = name.partition(".")
    return app, migration
