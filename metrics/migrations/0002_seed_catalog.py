"""Seed the canonical metrics and the built-in vLLM / DCGM mappings."""

from django.db import migrations


def seed(apps, schema_editor):
    from metrics.catalog import seed_catalog

    seed_catalog(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
