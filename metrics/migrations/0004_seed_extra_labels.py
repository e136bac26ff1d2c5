"""Give the built-in DCGM violation mappings their distinguishing label."""

from django.db import migrations


def seed(apps, schema_editor):
    from metrics.catalog import seed_catalog

    seed_catalog(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0003_mapping_extra_labels"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
