# ruff: noqa: RUF012  (Django migrations declare their lists as class attributes)
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="item",
            name="sku",
            field=models.CharField(max_length=32, unique=True, default=""),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="Stock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("quantity", models.IntegerField(default=0)),
                (
                    "item",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="inventory.item"),
                ),
            ],
        ),
    ]
