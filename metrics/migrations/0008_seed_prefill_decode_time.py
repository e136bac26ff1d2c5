"""The vLLM prefill and decode time histograms become canonical metrics, so
costs can split a backend's cost between input and output tokens by them."""

from django.db import migrations


def seed(apps, schema_editor):
    from metrics.catalog import seed_catalog

    seed_catalog(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0007_import_heartbeat_notes_reject_groups"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
