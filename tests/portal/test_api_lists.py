"""One pagination envelope on every list; lists written without a
serializer field per row answer exactly what their documented serializer
writes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.renderers import JSONRenderer

from metrics.api.serializers import ImportJobSerializer
from metrics.models import ImportJob
from tests.factories import BackendFactory, ImportJobFactory, PilotFactory, VendorFactory

LISTS = ["/api/v1/pilots/", "/api/v1/backends/", "/api/v1/vendors/", "/api/v1/imports/"]


@pytest.fixture
def client_(api_client: Any, pilot_team: Any) -> Any:
    api_client.force_login(pilot_team)
    return api_client


@pytest.mark.django_db
@pytest.mark.parametrize("url", LISTS)
def test_every_list_answers_next_previous_and_results_only(client_, url):
    PilotFactory.create_batch(3)
    VendorFactory.create_batch(3)
    for backend in BackendFactory.create_batch(3):
        ImportJobFactory(backend=backend)

    first = client_.get(url, {"page_size": 2})
    body = first.json()
    second = client_.get(body["next"]).json()

    assert first.status_code == 200
    assert set(body) == {"next", "previous", "results"}
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert set(second) == {"next", "previous", "results"}
    assert second["previous"] is not None
    assert len(body["results"]) + len(second["results"]) >= 3


def test_every_list_documents_the_same_envelope():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for url in LISTS:
        response = schema["paths"][url]["get"]["responses"]["200"]["content"]["application/json"]
        ref = response["schema"]["$ref"].rsplit("/", 1)[-1]
        component = schema["components"]["schemas"][ref]
        assert sorted(component["properties"]) == ["next", "previous", "results"], url
        assert component["properties"]["next"]["nullable"] is True, url


@pytest.mark.django_db
def test_import_list_json_is_the_import_serializers_item_by_item(client_, pilot_team):
    backend = BackendFactory(slug="cs-3")
    pilot: Any = PilotFactory(candidate_backend=backend)
    started = dt.datetime(2026, 1, 5, 12, 0, 1, 250000, tzinfo=dt.UTC)
    ImportJobFactory(
        backend=backend,
        pilot=pilot,
        created_by=pilot_team,
        status=ImportJob.Status.SUCCEEDED,
        samples_read=12,
        samples_stored=10,
        rejected=2,
        rejects=[{"line": 3, "reason": "not a number"}],
        unmapped={"my_metric": 4},
        started_at=started,
        finished_at=started + dt.timedelta(seconds=2.5),
        window_start=started - dt.timedelta(hours=1),
        window_end=started,
    )
    ImportJobFactory(backend=backend)

    body = client_.get("/api/v1/imports/").json()

    jobs = ImportJob.objects.select_related("backend", "created_by").order_by("-created_at", "-id")
    expected = [json.loads(JSONRenderer().render(ImportJobSerializer(job).data)) for job in jobs]
    assert body["results"] == expected
    assert body["results"][1]["duration_seconds"] == 2.5
    assert body["results"][1]["created_by"] == "team"
    assert body["results"][0]["created_by"] is None


@pytest.mark.django_db
def test_import_rows_from_values_write_the_import_serializers_json(pilot_team):
    # Ready for ImportJobViewSet to list through portal.api.ValuesListMixin.
    from metrics.api.serializers import import_job_json, import_job_rows

    started = dt.datetime(2026, 1, 5, 12, 0, 1, 250000, tzinfo=dt.UTC)
    ImportJobFactory(
        created_by=pilot_team,
        pilot=PilotFactory(),
        unmapped={"x": 1},
        started_at=started,
        finished_at=started + dt.timedelta(seconds=1),
    )
    ImportJobFactory()
    jobs = ImportJob.objects.select_related("backend", "created_by").order_by("id")

    written = import_job_json(list(import_job_rows(jobs)))

    expected = [json.loads(JSONRenderer().render(ImportJobSerializer(job).data)) for job in jobs]
    assert json.loads(JSONRenderer().render(written)) == expected
