"""Backend.site becomes a foreign key to Site. Every site name in use today
becomes a Site (slug from the name), so no backend loses its site."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models
from django.utils.text import slugify


def sites_from_names(apps: Any, schema_editor: Any) -> None:
    Backend = apps.get_model("pilots", "Backend")
    Site = apps.get_model("pilots", "Site")
    by_name: dict[str, Any] = {}
    taken: set[str] = set(Site.objects.values_list("slug", flat=True))
    for backend in Backend.objects.order_by("id"):
        name = (backend.site or "").strip() or "unknown"
        site = by_name.get(name)
        if site is None:
            site = Site.objects.filter(name=name).first()
        if site is None:
            base = slugify(name)[:90] or "site"
            slug, n = base, 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            taken.add(slug)
            site = Site.objects.create(slug=slug, name=name)
        by_name[name] = site
        backend.site_ref = site
        backend.save(update_fields=["site_ref"])


def names_from_sites(apps: Any, schema_editor: Any) -> None:
    Backend = apps.get_model("pilots", "Backend")
    for backend in Backend.objects.select_related("site_ref"):
        backend.site = backend.site_ref.name if backend.site_ref_id else ""
        backend.save(update_fields=["site"])


class Migration(migrations.Migration):
    dependencies = [("pilots", "0006_vendors_contracts_spares")]

    operations = [
        migrations.AddField(
            model_name="backend",
            name="site_ref",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="pilots.site",
            ),
        ),
        migrations.RunPython(sites_from_names, names_from_sites),
        # A default only so that unapplying can re-add the column to filled rows.
        migrations.AlterField(
            model_name="backend",
            name="site",
            field=models.CharField(max_length=100, default=""),
        ),
        migrations.RemoveField(model_name="backend", name="site"),
        migrations.RenameField(model_name="backend", old_name="site_ref", new_name="site"),
        migrations.AlterField(
            model_name="backend",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="backends",
                to="pilots.site",
            ),
        ),
    ]
