"""A cost center for every code pilots use today (issue 9, §1), so the
next migration can turn Pilot.cost_center into a foreign key. Its own
migration: PostgreSQL refuses to alter a table in the transaction that
wrote rows with pending deferred constraint checks."""

from typing import Any

from django.db import migrations


def create_cost_centers(apps: Any, schema_editor: Any) -> None:
    pilot = apps.get_model("pilots", "Pilot")
    cost_center = apps.get_model("costs", "CostCenter")
    codes = pilot.objects.order_by().values_list("cost_center", flat=True).distinct()
    for code in sorted(set(codes)):
        cost_center.objects.get_or_create(code=code, defaults={"name": code})


class Migration(migrations.Migration):
    dependencies = [
        ("costs", "0001_showback"),
        ("pilots", "0002_constraints_named_by_app"),
    ]

    operations = [migrations.RunPython(create_cost_centers, migrations.RunPython.noop)]
