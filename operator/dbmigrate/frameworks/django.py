"""Django projects, migrated in-process with Django's own executor, one migration at a time.

Django is set up once per process: ``sys.path`` gets the project directory, ``DJANGO_SETTINGS_MODULE`` the
module named in ``manage.py``, and ``DATABASES["default"]`` is replaced by dbmigrate's database before any
connection opens. A later run in the same process may use another database but not another settings module
(Django cannot be set up twice). Each step sends ``pre_migrate``/``post_migrate`` as ``manage.py migrate``
does, so content types and permissions follow the schema. Only the ``default`` database is migrated.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.exceptions import (
    AmbiguityError,
    BadMigrationError,
    InconsistentMigrationHistory,
    NodeNotFoundError,
)
from django.db.migrations.executor import MigrationExecutor
from sqlalchemy.engine import URL

from dbmigrate import config, dburl, errors, state
from dbmigrate.frameworks import base
from dbmigrate.sources import detect

_ENGINES = {
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}
_ALL = ("0", "zero")

#: A Django migration's graph key: (app label, migration name).
Key = tuple[str, str]


@contextlib.contextmanager
def adapter(settings: config.Settings, detection: detect.Detection) -> Iterator[base.Adapter]:
    _setup(settings, detection)
    try:
        yield DjangoAdapter(connections[DEFAULT_DB_ALIAS])
    finally:
        connections.close_all()


def _setup(settings: config.Settings, detection: detect.Detection) -> None:
    module = detection.settings_module
    if module is None:
        raise errors.UsageError(f"{settings.project_dir / 'manage.py'} names no DJANGO_SETTINGS_MODULE")
    database = _database(settings.url)
    if database["ENGINE"] == _ENGINES["mysql"]:
        import pymysql  # Django's MySQL backend imports MySQLdb (mysqlclient); PyMySQL stands in for it.

        pymysql.install_as_MySQLdb()
    if str(settings.project_dir) not in sys.path:
        sys.path.insert(0, str(settings.project_dir))
    if apps.ready:
        if module != django_settings.SETTINGS_MODULE:
            raise errors.UsageError(
                f"Django is already set up with {django_settings.SETTINGS_MODULE} here, not {module}",
                hint="run each Django project in a dbmigrate process of its own",
            )
        connections.close_all()
        with contextlib.suppress(AttributeError):
            del connections[DEFAULT_DB_ALIAS]  # the next access opens a connection from the new settings
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = module
    try:
        databases = django_settings.DATABASES
    except ImportError as exc:
        raise errors.UsageError(f"cannot import the Django settings module {module}: {exc}") from None
    previous = databases.get(DEFAULT_DB_ALIAS, {})
    # The project's OPTIONS only make sense for the engine they were written for.
    options = previous.get("OPTIONS", {}) if previous.get("ENGINE") == database["ENGINE"] else {}
    databases[DEFAULT_DB_ALIAS] = {**database, "OPTIONS": options}
    # Fills in Django's defaults (TIME_ZONE, CONN_MAX_AGE, ...) in place: connections reads this same dict.
    connections.configure_settings(databases)
    try:
        django.setup()
    except (ImportError, ImproperlyConfigured) as exc:
        raise errors.UsageError(f"Django could not start with {module}: {exc}") from None


def _database(url: URL) -> dict[str, Any]:
    return {
        "ENGINE": _ENGINES[dburl.dialect_of(url)],
        "NAME": url.database or "",
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
    }


class DjangoAdapter:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def current(self) -> list[str]:
        newest: dict[str, str] = {}
        for key in self.applied():
            newest[key.partition(".")[0]] = key
        return list(newest.values())

    def applied(self) -> list[str]:
        executor = self._executor()
        done = executor.loader.applied_migrations
        return [_name(m) for m in _all_in_order(executor) if (m.app_label, m.name) in done]

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
                hint=f"use `dbmigrate down --target {target}`",
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
                hint=f"use `dbmigrate up --target {target}`",
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
        except (BadMigrationError, NodeNotFoundError, ImportError) as exc:
            raise errors.UsageError(f"cannot read the Django migrations: {exc}") from None

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
