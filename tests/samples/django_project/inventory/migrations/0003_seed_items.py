# ruff: noqa: RUF012  (Django migrations declare their lists as class attributes)
"""A data migration: seeds two items, and removes them again when reverted."""

from django.db import migrations

SEED = [("Widget", "W-1"), ("Gadget", "G-1")]


def seed(apps, schema_editor):
    Item = apps.get_model("inventory", "Item")
    Item.objects.bulk_create(Item(name=name, sku=sku) for name, sku in SEED)


def unseed(apps, schema_editor):
    Item = apps.get_model("inventory", "Item")
    Item.objects.filter(sku__in=[sku for _, sku in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_item_sku_stock")]

    operations = [migrations.RunPython(seed, unseed)]
