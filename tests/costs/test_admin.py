"""The metrics admin: mappings are editable; job and series pages load."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from costs.models import ImportJob, MetricDefinition, MetricMapping
from portal.models import ChangeRecord

pytestmark = pytest.mark.django_db


def test_admin_can_edit_a_builtin_mapping_scale(
    client: Client, admin_user: Any, catalog: None
) -> None:
    mapping = MetricMapping.objects.get(source_name="DCGM_FI_DEV_POWER_USAGE")
    client.force_login(admin_user)
    url = f"/admin/costs/metricmapping/{mapping.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "source_name": mapping.source_name,
            "metric": mapping.metric_id,
            "scale": "0.001",
            "transform": "none",
            "extra_labels": "{}",
            "notes": "exporter sends mW",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    mapping.refresh_from_db()
    assert mapping.scale == 0.001
    record = ChangeRecord.objects.get(
        content_type__model="metricmapping", object_id=str(mapping.pk), action="update"
    )
    assert record.actor == admin_user
    assert record.changes["scale"] == [1.0, 0.001]


def test_definition_page_lists_its_mappings_read_only(
    client: Client, admin_user: Any, catalog: None
) -> None:
    """Inline edits would bypass the change log; the mapping's own page is
    where it is edited."""
    power = MetricDefinition.objects.get(name="power_watts")
    client.force_login(admin_user)

    body = client.get(f"/admin/costs/metricdefinition/{power.pk}/change/").content.decode()

    assert "DCGM_FI_DEV_POWER_USAGE" in body
    assert 'name="mappings-0-scale"' not in body


def test_admin_lists_load(client: Client, admin_user: Any, run_import: Any) -> None:
    run_import("1772359200,power_watts,1,\n")
    client.force_login(admin_user)
    for model in [
        "metricdefinition",
        "metricmapping",
        "series",
        "hourlyrollup",
        "importjob",
        "metricsource",
    ]:
        assert client.get(f"/admin/costs/{model}/").status_code == 200, model
    job = ImportJob.objects.get()
    assert client.get(f"/admin/costs/importjob/{job.pk}/change/").status_code == 200
