"""The lists serialize from ``values()``; their JSON is exactly what the
documented serializers write, so the schema stays true."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from rest_framework.renderers import JSONRenderer

from pilots.api.serializers import BackendSerializer, PilotListSerializer
from pilots.models import Backend, Phase
from pilots.selectors import pilot_list
from portal.api import iso_datetime
from tests.factories import BackendFactory, PhaseFactory, PilotFactory, VendorFactory


def rendered(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def client_(api_client: Any, pilot_team: Any) -> Any:
    api_client.force_login(pilot_team)
    return api_client


@pytest.mark.django_db
def test_pilot_list_json_is_the_list_serializers(client_):
    running: Any = PilotFactory(name="Running", traffic_slice="")
    PhaseFactory(pilot=running, order=1, status=Phase.Status.PASSED)
    PhaseFactory(pilot=running, order=2, kind=Phase.Kind.SHADOW, status=Phase.Status.ACTIVE)
    named: Any = PilotFactory(name="Named phase")
    PhaseFactory(pilot=named, order=1, kind=Phase.Kind.PRODUCTION_RAMP, name="Ramp to 25 %")
    PilotFactory(name="No phases", description="ünïcode — text")

    body = client_.get("/api/v1/pilots/").json()

    assert body["results"] == rendered(PilotListSerializer(pilot_list(), many=True).data)
    assert [r["current_phase"] is None for r in body["results"]] == [False, True, False]


@pytest.mark.django_db
def test_backend_list_json_is_the_backend_serializers(client_):
    BackendFactory(name="A", notes="rack 4", is_active=False, vendor=VendorFactory(name="Ven A"))
    BackendFactory(name="B", kind=Backend.Kind.FPGA, device_count=96)

    body = client_.get("/api/v1/backends/").json()

    expected = BackendSerializer(Backend.objects.select_related("vendor"), many=True).data
    assert body["results"] == rendered(expected)


@pytest.mark.django_db
def test_datetimes_are_written_as_drf_writes_them():
    plus_two = dt.timezone(dt.timedelta(hours=2))

    assert iso_datetime(dt.datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=plus_two)) == (
        "2026-03-02T08:00:00.123456Z"
    )
    assert iso_datetime(None) is None
