"""The metrics admin: mappings are editable; job and series pages load."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from metrics.models import ImportJob, MetricDefinition, MetricMapping
from portal.models import ChangeRecord

pytestmark = pytest.mark.django_db


def test_admin_can_edit_a_builtin_mapping_scale(
    client: Client, admin_user: Any, catalog: None
) -> None:
    mapping = MetricMapping.objects.get(source_name="DCGM_FI_DEV_POWER_USAGE")
    client.force_login(admin_user)
    url = f"/admin/metrics/metricmapping/{mapping.pk}/change/"
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

    body = client.get(f"/admin/metrics/metricdefinition/{power.pk}/change/").content.decode()

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
        assert client.get(f"/admin/metrics/{model}/").status_code == 200, model
    job = ImportJob.objects.get()
    assert client.get(f"/admin/metrics/importjob/{job.pk}/change/").status_code == 200


ISSUE_MAPPINGS = {
    "vllm:e2e_request_latency_seconds": "request_latency_seconds",
    "vllm:time_to_first_token_seconds": "time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds": "inter_token_latency_seconds",
    "vllm:prompt_tokens_total": "prompt_tokens_total",
    "vllm:generation_tokens_total": "generation_tokens_total",
    "vllm:request_success_total": "requests_total",
    "DCGM_FI_DEV_GPU_UTIL": "device_utilization_percent",
    "DCGM_FI_DEV_POWER_USAGE": "power_watts",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "energy_joules_total",
    "DCGM_FI_DEV_GPU_TEMP": "temperature_celsius",
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": "throttle_active",
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": "throttle_active",
    "DCGM_FI_DEV_POWER_VIOLATION": "throttle_seconds_total",
    "DCGM_FI_DEV_THERMAL_VIOLATION": "throttle_seconds_total",
    "DCGM_FI_DEV_XID_ERRORS": "xid_error_active",
}


def test_every_mapping_the_issue_names_is_built_in_and_listed_in_the_admin(
    client: Client, admin_user: Any, catalog: None
) -> None:
    found = dict(
        MetricMapping.objects.filter(source_name__in=ISSUE_MAPPINGS).values_list(
            "source_name", "metric__name"
        )
    )
    client.force_login(admin_user)

    body = client.get("/admin/metrics/metricmapping/?all=").content.decode()

    assert found == ISSUE_MAPPINGS
    assert all(name in body for name in ISSUE_MAPPINGS)


def test_every_canonical_metric_the_issue_lists_exists(catalog: None) -> None:
    names = set(MetricDefinition.objects.values_list("name", flat=True))

    assert {
        "request_latency_seconds",
        "time_to_first_token_seconds",
        "inter_token_latency_seconds",
        "requests_total",
        "errors_total",
        "prompt_tokens_total",
        "generation_tokens_total",
        "device_utilization_percent",
        "power_watts",
        "energy_joules_total",
        "temperature_celsius",
        "throttle_seconds_total",
        "throttle_events_total",
        "xid_error_active",
    } <= names
    kinds = dict(MetricDefinition.objects.values_list("name", "kind"))
    assert kinds["request_latency_seconds"] == kinds["time_to_first_token_seconds"] == "histogram"
