"""Pilot.cost_center becomes a foreign key to costs.CostCenter (by code)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('costs', '0001_showback'),
        ('pilots', '0003_cost_centers_from_codes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='pilot',
            name='cost_center',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='pilots', to='costs.costcenter', to_field='code', verbose_name='cost center'),
        ),
    ]
