"""Read API for vendors, backends and pilots: content, filters, errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from pilots.api.views import PilotViewSet
from pilots.models import Backend, Phase, Pilot, RaciAssignment, ReadinessAnswer
from tests.factories import (
    BackendFactory,
    CostCenterFactory,
    ExitCriterionFactory,
    PhaseFactory,
    PilotFactory,
    RaciActivityFactory,
    RaciAssignmentFactory,
    ReadinessAnswerFactory,
    UserFactory,
    VendorFactory,
)


@pytest.fixture
def client_(api_client: APIClient, pilot_team) -> APIClient:
    api_client.force_login(pilot_team)
    return api_client


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


# Backends and vendors --------------------------------------------------------


@pytest.mark.django_db
def test_backend_list_nests_vendor_and_filters_by_kind_vendor_region_active(client_):
    cerebras = VendorFactory(name="Cerebras", slug="cerebras")
    BackendFactory(name="CS-3", kind=Backend.Kind.WAFER_SCALE, vendor=cerebras, region="us-east")
    BackendFactory(name="H100 pool", kind=Backend.Kind.GPU_CLUSTER, region="eu-west")
    BackendFactory(name="Old CPUs", kind=Backend.Kind.CPU, region="eu-west", is_active=False)

    everything = client_.get("/api/v1/backends/")
    assert everything.status_code == 200
    assert names(everything) == ["CS-3", "H100 pool", "Old CPUs"]
    assert everything.json()["results"][0]["vendor"] == {"slug": "cerebras", "name": "Cerebras"}
    assert names(client_.get("/api/v1/backends/", {"kind": "wafer_scale"})) == ["CS-3"]
    assert names(client_.get("/api/v1/backends/", {"vendor": "cerebras"})) == ["CS-3"]
    assert names(client_.get("/api/v1/backends/", {"region": "eu-west"})) == [
        "H100 pool",
        "Old CPUs",
    ]
    assert names(client_.get("/api/v1/backends/", {"is_active": "false"})) == ["Old CPUs"]
    assert names(client_.get("/api/v1/backends/", {"search": "pool"})) == ["H100 pool"]


@pytest.mark.django_db
def test_backend_is_retrieved_by_slug(client_):
    BackendFactory(name="CS-3", slug="cs-3", device_count=4)

    response = client_.get("/api/v1/backends/cs-3/")

    assert response.status_code == 200
    assert response.json()["device_count"] == 4
    assert response.json()["name"] == "CS-3"


@pytest.mark.django_db
def test_vendor_list_and_detail(client_):
    VendorFactory(name="Groq", slug="groq", risk_notes="Young company")
    VendorFactory(name="Acme", slug="acme")

    listing = client_.get("/api/v1/vendors/")
    detail = client_.get("/api/v1/vendors/groq/")

    assert names(listing) == ["Acme", "Groq"]
    assert detail.json()["risk_notes"] == "Young company"


# Pilots ----------------------------------------------------------------------


@pytest.mark.django_db
def test_pilot_list_shows_backends_and_current_phase(client_):
    pilot: Any = PilotFactory(name="Llama on CS-3")
    PhaseFactory(pilot=pilot, order=1, kind=Phase.Kind.LAB_VALIDATION, status="passed")
    active: Any = PhaseFactory(pilot=pilot, order=2, kind=Phase.Kind.SHADOW, status="active")
    PhaseFactory(pilot=pilot, order=3, kind=Phase.Kind.CANARY)
    planned_only = PilotFactory(name="Planned pilot")
    PhaseFactory(pilot=planned_only, order=1, kind=Phase.Kind.LAB_VALIDATION, name="Lab week")
    PhaseFactory(pilot=planned_only, order=2, kind=Phase.Kind.SHADOW)
    PilotFactory(name="Draft pilot")

    rows = {row["name"]: row for row in client_.get("/api/v1/pilots/").json()["results"]}

    assert rows["Llama on CS-3"]["current_phase"] == {
        "kind": "shadow",
        "display_name": "Shadow",
        "status": "active",
        "planned_end": active.planned_end.isoformat(),
    }
    assert rows["Llama on CS-3"]["candidate_backend"]["slug"] == pilot.candidate_backend.slug
    assert rows["Llama on CS-3"]["baseline_backend"]["kind"] == "gpu_cluster"
    # No active phase: the next planned one is current.
    assert rows["Planned pilot"]["current_phase"]["display_name"] == "Lab week"
    assert rows["Draft pilot"]["current_phase"] is None


@pytest.mark.django_db
def test_pilot_list_filters_by_status_team_cost_center_backend_kind_and_phase(client_):
    canary = PilotFactory(name="A canary", status=Pilot.Status.ACTIVE, team="search")
    PhaseFactory(pilot=canary, order=1, kind=Phase.Kind.CANARY, status="active")
    PilotFactory(
        name="B tpu",
        team="ads",
        cost_center=CostCenterFactory(code="CC-200"),
        candidate_backend=BackendFactory(kind=Backend.Kind.TPU_POD),
    )

    def filtered(**params: str) -> list[str]:
        response = client_.get("/api/v1/pilots/", params)
        assert response.status_code == 200, response.json()
        return names(response)

    assert filtered(status="active") == ["A canary"]
    assert filtered(team="ads") == ["B tpu"]
    assert filtered(cost_center="CC-200") == ["B tpu"]
    assert filtered(backend_kind="tpu_pod") == ["B tpu"]
    assert filtered(backend_kind="wafer_scale") == ["A canary"]
    assert filtered(phase="canary") == ["A canary"]
    assert filtered(phase="shadow") == []
    assert filtered(search="ads") == ["B tpu"]


@pytest.mark.django_db
def test_pilot_search_matches_name_model_and_team(client_):
    PilotFactory(name="Alpha", model_name="mixtral-8x7b", team="chat")
    PilotFactory(name="Beta", model_name="llama-3-70b", team="search")

    assert names(client_.get("/api/v1/pilots/", {"search": "alpha"})) == ["Alpha"]
    assert names(client_.get("/api/v1/pilots/", {"search": "mixtral"})) == ["Alpha"]
    assert names(client_.get("/api/v1/pilots/", {"search": "search"})) == ["Beta"]


@pytest.mark.django_db
def test_pilot_list_is_paginated(client_):
    PilotFactory.create_batch(3)

    body = client_.get("/api/v1/pilots/", {"page_size": 2}).json()
    last = client_.get(body["next"]).json()

    # One envelope for every list, as the cursor-paginated ones: no count.
    assert set(body) == {"next", "previous", "results"}
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    assert len(last["results"]) == 1
    assert last["next"] is None
    assert "page=" not in last["previous"]
    assert {row["name"] for row in body["results"] + last["results"]} == {
        p.name for p in Pilot.objects.all()
    }


@pytest.mark.django_db
def test_a_page_past_the_end_is_not_found_and_a_bad_page_is_invalid(client_):
    PilotFactory.create_batch(2)

    past = client_.get("/api/v1/pilots/", {"page": 3, "page_size": 1})
    bad = client_.get("/api/v1/pilots/", {"page": "zero", "page_size": -1})

    assert past.status_code == 404
    assert past.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) <= {"page", "page_size"}


@pytest.mark.django_db
def test_pilot_detail_nests_phases_criteria_raci_and_readiness(client_):
    pilot: Any = PilotFactory(name="Llama on CS-3")
    phase = PhaseFactory(pilot=pilot, order=1, kind=Phase.Kind.LAB_VALIDATION)
    ExitCriterionFactory(phase=phase)
    activity = RaciActivityFactory(pilot=pilot, name="Go/no-go decision", key="go_no_go")
    RaciAssignmentFactory(
        activity=activity,
        user=UserFactory(username="alice"),
        letter=RaciAssignment.Letter.ACCOUNTABLE,
    )
    RaciAssignmentFactory(activity=activity, user=UserFactory(username="bob"), letter="R")
    for question in list(ReadinessAnswer.Question.values)[:3]:
        ReadinessAnswerFactory(pilot=pilot, question=question, answer="yes")

    body = client_.get(f"/api/v1/pilots/{pilot.pk}/").json()

    assert body["name"] == "Llama on CS-3"
    assert [p["kind"] for p in body["phases"]] == ["lab_validation"]
    criterion = body["phases"][0]["exit_criteria"][0]
    assert criterion["metric"] == "e2e_latency_p99"
    assert criterion["threshold"] == "1.000000"  # Decimal as a string, never a float
    assert body["raci"][0]["name"] == "Go/no-go decision"
    assert sorted((a["username"], a["letter"]) for a in body["raci"][0]["assignments"]) == [
        ("alice", "A"),
        ("bob", "R"),
    ]
    assert body["readiness"]["recommendation"] == "pilot"
    assert body["readiness"]["yes"] == 3
    assert body["readiness"]["unknown"] == 2
    assert len(body["readiness"]["answers"]) == 3


@pytest.mark.django_db
def test_pilot_detail_recommends_not_yet_when_few_answers_are_yes(client_):
    pilot: Any = PilotFactory()
    ReadinessAnswerFactory(pilot=pilot, question="steady_qps", answer="yes")
    ReadinessAnswerFactory(pilot=pilot, question="model_fits", answer="yes")

    body = client_.get(f"/api/v1/pilots/{pilot.pk}/").json()

    assert body["readiness"]["recommendation"] == "not_yet"


@pytest.mark.django_db
def test_readers_cannot_write_and_nobody_deletes_or_replaces_a_pilot(client_, api_client, pm):
    pilot: Any = PilotFactory()

    created = client_.post("/api/v1/pilots/", {"name": "x"}, format="json")
    api_client.force_login(pm)
    deleted = api_client.delete(f"/api/v1/pilots/{pilot.pk}/")
    replaced = api_client.put(f"/api/v1/pilots/{pilot.pk}/", {"name": "x"}, format="json")

    assert created.status_code == 403
    assert created.json()["error"]["code"] == "permission_denied"
    assert deleted.status_code == 405
    assert replaced.status_code == 405
    assert deleted.json()["error"]["code"] == "method_not_allowed"
    assert Pilot.objects.filter(pk=pilot.pk).exists()


# Errors ----------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_pilot_id_is_json_not_found(client_):
    response = client_.get("/api/v1/pilots/999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"]


@pytest.mark.django_db
def test_unknown_backend_slug_is_json_not_found(client_):
    response = client_.get("/api/v1/backends/no-such-backend/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_api_path_is_json_not_found(client_):
    response = client_.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_invalid_filter_value_is_a_validation_error_naming_the_field(client_):
    response = client_.get("/api/v1/pilots/", {"status": "bogus", "backend_kind": "quantum"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"status", "backend_kind"}
    assert "bogus" in error["fields"]["status"][0]


@pytest.mark.django_db
def test_unhandled_exception_is_json_500_without_stack_trace(client_, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals /srv/app/pilots/api/views.py line 42")

    monkeypatch.setattr(PilotViewSet, "list", explode)

    response = client_.get("/api/v1/pilots/")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "server_error", "message": "Internal error; it has been logged."}
    }
    body = response.content.decode()
    assert "Traceback" not in body
    assert "secret internals" not in body


@pytest.mark.django_db
def test_anonymous_gets_401_json(api_client):
    response = api_client.get("/api/v1/pilots/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_user_without_role_gets_403_json(api_client, outsider):
    PilotFactory(name="Secret pilot")
    api_client.force_login(outsider)

    response = api_client.get("/api/v1/pilots/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "Secret pilot" not in response.content.decode()
