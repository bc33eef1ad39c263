"""Django projects migrated in-process by Django's executor, one timed migration at a time.

Django can be set up once per process, so the sample is copied once for this module; each test still gets a
fresh database, which dbmigrate swaps in as ``DATABASES["default"]``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dbmigrate import errors, outcome
from tests.engine.frameworks import (
    Recorder,
    copy_sample,
    down,
    query,
    settings,
    status,
    tables,
    up,
)

ALL = [
    "contenttypes.0001_initial",
    "contenttypes.0002_remove_content_type_name",
    "inventory.0001_initial",
    "inventory.0002_item_sku_stock",
    "inventory.0003_seed_items",
]

IRREVERSIBLE_MIGRATION = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_seed_items")]
    operations = [migrations.RunPython(migrations.RunPython.noop)]
"""

BROKEN_MIGRATION = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_seed_items")]
    operations = [
        migrations.RunSQL("CREATE TABLE half_done (id integer)"),
        migrations.RunSQL("SELECT * FROM no_such_table"),
    ]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample("django_project", tmp_path_factory.mktemp("django"))


@pytest.fixture
def extra_migration(project: Path) -> Iterator[Callable[[str, str], None]]:
    """Adds a fourth migration for one test, removed again so the module's other tests never see it."""
    written: list[Path] = []

    def write(name: str, source: str) -> None:
        path = project / "inventory" / "migrations" / f"{name}.py"
        path.write_text(source)
        written.append(path)
        importlib.invalidate_caches()

    yield write
    for path in written:
        path.unlink()
        sys.modules.pop(f"inventory.migrations.{path.stem}", None)
    importlib.invalidate_caches()


def test_status_up_status_applies_each_migration_and_records_it(db_url: str, project: Path) -> None:
    config = settings(db_url, project)
    before = status(config)
    assert before["current_version"] is None and before["applied"] == []
    assert [p["version"] for p in before["pending"]] == ALL
    assert before["pending"][-1]["file"] == "inventory/0003_seed_items.py"

    report = Recorder()
    result = up(config, report=report)

    assert [(m.version, m.direction, m.status) for m in result.migrations] == [(k, "up", "applied") for k in ALL]
    assert all(m.seconds >= 0 for m in result.migrations)
    assert [e[1] for e in report.events if e[0] == "started"][2] == (3, 5, "inventory/0001_initial.py")
    assert {"inventory_item", "inventory_stock", "django_migrations", "django_content_type"} <= tables(db_url)
    assert sorted(query(db_url, "SELECT sku FROM inventory_item")) == [("G-1",), ("W-1",)]
    assert len(query(db_url, "SELECT id FROM django_migrations")) == 5
    # post_migrate ran, as under `manage.py migrate`: the content types exist.
    models = query(db_url, "SELECT model FROM django_content_type WHERE app_label = 'inventory'")
    assert sorted(models) == [("item",), ("stock",)]
    after = status(config)
    assert after["applied"] == ALL and after["pending"] == []
    assert after["current_version"] == "contenttypes.0002_remove_content_type_name,inventory.0003_seed_items"
    assert up(config).migrations == []


def test_down_reverts_the_data_migration_then_an_app_to_zero(db_url: str, project: Path) -> None:
    config = settings(db_url, project)
    up(config)

    one = down(config)
    assert [(m.version, m.status) for m in one.migrations] == [("inventory.0003_seed_items", "reverted")]
    assert query(db_url, "SELECT sku FROM inventory_item") == []

    rest = down(config, target="inventory.zero")
    assert [m.version for m in rest.migrations] == ["inventory.0002_item_sku_stock", "inventory.0001_initial"]
    assert not {"inventory_item", "inventory_stock"} & tables(db_url)
    assert status(config)["applied"] == ALL[:2]


def test_up_to_a_target_by_prefix_and_bad_targets(sqlite_url: str, project: Path) -> None:
    config = settings(sqlite_url, project)
    result = up(config, target="inventory.0002")
    # Only what the target depends on: contenttypes is not among it.
    assert [m.version for m in result.migrations] == ALL[2:4]
    assert [p["version"] for p in status(config)["pending"]] == [*ALL[:2], ALL[4]]
    assert "sku" in {row[1] for row in query(sqlite_url, "PRAGMA table_info(inventory_item)")}
    with pytest.raises(errors.UsageError, match=r"app\.migration"):
        up(config, target="inventory")
    with pytest.raises(errors.UsageError, match="no Django app 'nope'"):
        up(config, target="nope.0001")
    with pytest.raises(errors.UsageError, match="older than what is applied"):
        up(config, target="inventory.0001")
    with pytest.raises(errors.UsageError, match="not applied yet"):
        down(config, target="inventory.0003")


def test_failed_migration_is_rolled_back_and_reported(
    pg_url: str, project: Path, extra_migration: Callable[[str, str], None]
) -> None:
    extra_migration("0004_broken", BROKEN_MIGRATION)
    config = settings(pg_url, project)
    result = outcome.Outcome(action="up")
    with pytest.raises(errors.MigrationError, match="no_such_table") as failure:
        up(config, result=result, rollback_on_failure=False)
    assert failure.value.message.startswith("inventory/0004_broken.py: ")
    assert [(m.version, m.status) for m in result.migrations][-2:] == [
        ("inventory.0003_seed_items", "applied"),
        ("inventory.0004_broken", "failed"),
    ]
    # Atomic migration on PostgreSQL: the first statement was undone, and the migration is not recorded.
    assert "half_done" not in tables(pg_url)
    assert query(pg_url, "SELECT name FROM django_migrations WHERE name = '0004_broken'") == []
    assert [p["version"] for p in status(config)["pending"]] == ["inventory.0004_broken"]


def test_down_refuses_an_irreversible_migration_before_reverting_anything(
    sqlite_url: str, project: Path, extra_migration: Callable[[str, str], None]
) -> None:
    extra_migration("0004_irreversible", IRREVERSIBLE_MIGRATION)
    config = settings(sqlite_url, project)
    assert len(up(config).migrations) == 6
    with pytest.raises(errors.UsageError, match=r"cannot revert inventory/0004_irreversible\.py"):
        down(config, steps=2)
    assert status(config)["applied"] == [*ALL, "inventory.0004_irreversible"]
