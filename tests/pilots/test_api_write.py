"""Pilots driven end to end through the API: the same services and rules as
the pages, every write in the change log, the same JSON errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from pilots import services
from pilots.models import ExitCriterion, Phase, Pilot, RaciAssignment, ReadinessAnswer
from pilots.services import DomainError
from portal.models import ChangeRecord
from tests.factories import BackendFactory, CostCenterFactory, PhaseFactory, PilotFactory

UTC = dt.UTC


@pytest.fixture(autouse=True)
def cost_center(db: None) -> Any:
    # Pilots name their cost center by code; the code must exist.
    return CostCenterFactory(code="CC-4100")


@pytest.fixture
def backends(db: None) -> tuple[Any, Any]:
    return (
        BackendFactory(name="CS-3 rack", slug="cs3-rack"),
        BackendFactory(name="H100 cluster", slug="h100-cluster"),
    )


@pytest.fixture
def pm_api(api_client: APIClient, pm: Any) -> APIClient:
    api_client.force_login(pm)
    return api_client


def pilot_body(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "Chat on CS-3",
        "model_name": "llama-3.1-70b",
        "candidate_backend": "cs3-rack",
        "baseline_backend": "h100-cluster",
        "team": "chat",
        "cost_center": "CC-4100",
        "traffic_slice": "chat, EU",
        "target_start": "2026-03-02",
        "target_end": "2026-08-07",
    }
    body.update(changes)
    return body


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


@pytest.fixture
def api_pilot(pm_api: APIClient, backends: Any) -> dict[str, Any]:
    response = pm_api.post("/api/v1/pilots/", pilot_body(), format="json")
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


# Pilots ----------------------------------------------------------------------


@pytest.mark.django_db
def test_pm_creates_a_draft_pilot_with_backends_by_slug_and_cost_center_by_code(
    pm_api, pm, backends
):
    response = pm_api.post("/api/v1/pilots/", pilot_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["candidate_backend"]["slug"] == "cs3-rack"
    assert body["baseline_backend"]["slug"] == "h100-cluster"
    assert body["cost_center"] == "CC-4100"
    # As the create page makes it: the default activities, the checklist unanswered.
    assert [a["key"] for a in body["raci"]][-1] == "go_no_go"
    assert len(body["raci"]) == 5
    assert body["readiness"]["unknown"] == 5
    record = ChangeRecord.objects.get(
        scope=f"pilot:{body['id']}", action="create", object_repr="Chat on CS-3"
    )
    assert record.actor == pm


@pytest.mark.django_db
def test_create_refuses_unknown_fields_naming_them(pm_api, backends):
    response = pm_api.post(
        "/api/v1/pilots/", pilot_body(pilot_id=3, status="active"), format="json"
    )

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"pilot_id", "status"}
    assert "accepts" in error(response)["fields"]["pilot_id"][0]
    assert not Pilot.objects.exists()


@pytest.mark.django_db
def test_create_refuses_an_unknown_or_inactive_backend_naming_the_field(pm_api, backends):
    BackendFactory(slug="retired", is_active=False)

    response = pm_api.post(
        "/api/v1/pilots/",
        pilot_body(candidate_backend="no-such", baseline_backend="retired"),
        format="json",
    )

    assert response.status_code == 400
    fields = error(response)["fields"]
    assert fields["candidate_backend"] == ["No active backend has the slug no-such."]
    assert fields["baseline_backend"] == ["No active backend has the slug retired."]


@pytest.mark.django_db
def test_create_with_the_same_candidate_and_baseline_is_refused_by_the_model_rule(pm_api, backends):
    response = pm_api.post(
        "/api/v1/pilots/", pilot_body(baseline_backend="cs3-rack"), format="json"
    )

    assert response.status_code == 400
    assert error(response)["fields"]["non_field_errors"] == [
        "The candidate and baseline backends must differ."
    ]
    assert not Pilot.objects.exists()


@pytest.mark.django_db
def test_patch_changes_the_given_fields_and_records_old_and_new(pm_api, api_pilot):
    url = f"/api/v1/pilots/{api_pilot['id']}/"

    response = pm_api.patch(url, {"target_end": "2026-09-30", "team": "assistants"}, format="json")

    assert response.status_code == 200
    assert response.json()["target_end"] == "2026-09-30"
    assert response.json()["team"] == "assistants"
    assert response.json()["name"] == "Chat on CS-3"
    record = ChangeRecord.objects.filter(scope=f"pilot:{api_pilot['id']}", action="update").latest(
        "at"
    )
    assert record.changes["target_end"] == ["2026-08-07", "2026-09-30"]
    assert record.changes["team"] == ["chat", "assistants"]


@pytest.mark.django_db
def test_patch_of_a_closed_pilot_is_a_conflict(pm_api, api_pilot):
    Pilot.objects.filter(pk=api_pilot["id"]).update(status=Pilot.Status.COMPLETED)

    response = pm_api.patch(f"/api/v1/pilots/{api_pilot['id']}/", {"team": "x"}, format="json")

    assert response.status_code == 409
    assert error(response)["code"] == "conflict"
    assert "completed" in error(response)["message"]


@pytest.mark.django_db
def test_patch_refuses_read_only_fields_as_unknown(pm_api, api_pilot):
    response = pm_api.patch(
        f"/api/v1/pilots/{api_pilot['id']}/", {"status": "completed"}, format="json"
    )

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"status"}
    assert Pilot.objects.get(pk=api_pilot["id"]).status == Pilot.Status.DRAFT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/pilots/", {}),
        ("patch", "/api/v1/pilots/{pilot}/", {"team": "x"}),
        ("post", "/api/v1/pilots/{pilot}/phases/", {"defaults": True}),
        ("put", "/api/v1/pilots/{pilot}/raci/", []),
        ("put", "/api/v1/pilots/{pilot}/readiness/", []),
        ("patch", "/api/v1/phases/{phase}/", {"name": "x"}),
        ("post", "/api/v1/phases/{phase}/exit-criteria/", {}),
        ("post", "/api/v1/phases/{phase}/start/", {}),
        ("patch", "/api/v1/exit-criteria/{criterion}/", {"weight": 3}),
        ("delete", "/api/v1/exit-criteria/{criterion}/", None),
    ],
)
def test_only_program_managers_and_admins_write(
    api_client, pilot_team, approver, finance, admin_user, outsider, method, path, body
):
    pilot: Any = PilotFactory()
    phase: Any = PhaseFactory(pilot=pilot, order=1)
    criterion = ExitCriterion.objects.create(
        phase=phase, metric="error_rate", comparison="absolute", direction="at_most", threshold=0
    )
    url = path.format(pilot=pilot.pk, phase=phase.pk, criterion=criterion.pk)
    before = ChangeRecord.objects.count()

    for user in (pilot_team, approver, finance):
        api_client.force_login(user)
        response = getattr(api_client, method)(url, body, format="json")
        assert response.status_code == 403, (user, response.json())
        assert "Program manager" in error(response)["message"]
    api_client.force_login(outsider)
    assert getattr(api_client, method)(url, body, format="json").status_code == 403
    api_client.logout()
    assert getattr(api_client, method)(url, body, format="json").status_code == 401
    assert ChangeRecord.objects.count() == before

    api_client.force_login(admin_user)
    response = getattr(api_client, method)(url, body, format="json")
    assert response.status_code not in (401, 403, 405)


# Phases --------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_phase_is_added_last_and_audited(pm_api, api_pilot):
    url = f"/api/v1/pilots/{api_pilot['id']}/phases/"
    first = pm_api.post(
        url,
        {"kind": "lab_validation", "planned_start": "2026-03-02", "planned_end": "2026-03-29"},
        format="json",
    )

    response = pm_api.post(
        url,
        {
            "kind": "canary",
            "name": "Canary EU",
            "planned_start": "2026-03-30",
            "planned_end": "2026-05-10",
            "traffic_percent": "5",
        },
        format="json",
    )

    assert first.status_code == 201
    assert response.status_code == 201
    [phase] = response.json()["phases"]
    assert phase["order"] == 2
    assert phase["display_name"] == "Canary EU"
    assert phase["traffic_percent"] == "5.00"
    assert ChangeRecord.objects.filter(
        scope=f"pilot:{api_pilot['id']}", action="create", object_id=str(phase["id"])
    ).exists()


@pytest.mark.django_db
def test_defaults_plan_the_default_phases_with_criteria_once(pm_api, api_pilot):
    url = f"/api/v1/pilots/{api_pilot['id']}/phases/"

    response = pm_api.post(url, {"defaults": True}, format="json")
    again = pm_api.post(url, {"defaults": True}, format="json")

    assert response.status_code == 201
    phases = response.json()["phases"]
    assert [p["kind"] for p in phases] == [
        "lab_validation",
        "shadow",
        "canary",
        "production_ramp",
        "production_ramp",
    ]
    assert phases[0]["planned_start"] == "2026-03-02"
    assert all(p["exit_criteria"] for p in phases)
    assert again.status_code == 409
    assert "already has phases" in error(again)["message"]
    assert Phase.objects.filter(pilot_id=api_pilot["id"]).count() == 5


@pytest.mark.django_db
def test_phase_body_needs_kind_and_dates_unless_defaults_and_not_both(pm_api, api_pilot):
    url = f"/api/v1/pilots/{api_pilot['id']}/phases/"

    missing = pm_api.post(url, {"name": "x"}, format="json")
    both = pm_api.post(url, {"defaults": True, "kind": "shadow"}, format="json")
    reversed_dates = pm_api.post(
        url,
        {"kind": "shadow", "planned_start": "2026-04-01", "planned_end": "2026-03-01"},
        format="json",
    )

    assert missing.status_code == 400
    assert set(error(missing)["fields"]) == {"kind", "planned_start", "planned_end"}
    assert both.status_code == 400
    assert set(error(both)["fields"]) == {"kind"}
    assert reversed_dates.status_code == 400
    assert Phase.objects.count() == 0


@pytest.mark.django_db
def test_patch_edits_a_planned_phase_but_not_an_active_one(pm_api, api_pilot):
    phases = pm_api.post(
        f"/api/v1/pilots/{api_pilot['id']}/phases/", {"defaults": True}, format="json"
    ).json()["phases"]
    shadow = phases[1]["id"]
    lab = phases[0]["id"]

    edited = pm_api.patch(f"/api/v1/phases/{shadow}/", {"name": "Shadow EU"}, format="json")
    pm_api.post(f"/api/v1/phases/{lab}/start/", {}, format="json")
    refused = pm_api.patch(f"/api/v1/phases/{lab}/", {"name": "Lab"}, format="json")

    assert edited.status_code == 200
    assert edited.json()["display_name"] == "Shadow EU"
    assert edited.json()["pilot"] == api_pilot["id"]
    assert refused.status_code == 409
    assert "Only a planned phase can be edited" in error(refused)["message"]


# Exit criteria -------------------------------------------------------------------


@pytest.fixture
def planned_phase(pm_api: APIClient, api_pilot: dict[str, Any]) -> dict[str, Any]:
    response = pm_api.post(
        f"/api/v1/pilots/{api_pilot['id']}/phases/",
        {"kind": "lab_validation", "planned_start": "2026-03-02", "planned_end": "2026-03-29"},
        format="json",
    )
    phase: dict[str, Any] = response.json()["phases"][0]
    return phase


CRITERION = {
    "metric": "e2e_latency_p99",
    "comparison": "relative",
    "direction": "at_most",
    "threshold": "1.05",
}


@pytest.mark.django_db
def test_exit_criterion_is_added_edited_and_removed_while_the_phase_is_planned(
    pm_api, planned_phase
):
    added = pm_api.post(
        f"/api/v1/phases/{planned_phase['id']}/exit-criteria/", CRITERION, format="json"
    )
    criterion_url = f"/api/v1/exit-criteria/{added.json()['id']}/"
    edited = pm_api.patch(criterion_url, {"threshold": 1.1, "critical": False}, format="json")
    removed = pm_api.delete(criterion_url)

    assert added.status_code == 201
    assert added.json()["threshold"] == "1.050000"
    assert added.json()["critical"] is True
    assert added.json()["weight"] == 1
    assert edited.status_code == 200
    assert edited.json()["threshold"] == "1.100000"
    assert edited.json()["critical"] is False
    assert removed.status_code == 204
    assert not ExitCriterion.objects.exists()
    assert list(
        ChangeRecord.objects.filter(content_type__model="exitcriterion")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["create", "update", "delete"]


@pytest.mark.django_db
def test_a_second_criterion_on_the_same_metric_is_refused(pm_api, planned_phase):
    url = f"/api/v1/phases/{planned_phase['id']}/exit-criteria/"
    pm_api.post(url, CRITERION, format="json")

    response = pm_api.post(url, CRITERION, format="json")

    assert response.status_code == 400
    assert "already has a criterion on this metric" in str(error(response)["fields"])


@pytest.mark.django_db
def test_criteria_of_a_passed_phase_are_fixed(pm_api, planned_phase):
    url = f"/api/v1/phases/{planned_phase['id']}/exit-criteria/"
    criterion = pm_api.post(url, CRITERION, format="json").json()
    Phase.objects.filter(pk=planned_phase["id"]).update(status=Phase.Status.PASSED)

    added = pm_api.post(url, {**CRITERION, "metric": "error_rate"}, format="json")
    edited = pm_api.patch(f"/api/v1/exit-criteria/{criterion['id']}/", {"weight": 2}, format="json")
    removed = pm_api.delete(f"/api/v1/exit-criteria/{criterion['id']}/")

    assert (added.status_code, edited.status_code, removed.status_code) == (409, 409, 409)
    assert "fixed" in error(removed)["message"]
    assert ExitCriterion.objects.get().weight == 1


@pytest.mark.django_db
def test_criterion_body_refuses_unknown_fields_and_bad_choices(pm_api, planned_phase):
    response = pm_api.post(
        f"/api/v1/phases/{planned_phase['id']}/exit-criteria/",
        {**CRITERION, "metric": "vibes", "phase": 3},
        format="json",
    )

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"phase"}
    response = pm_api.post(
        f"/api/v1/phases/{planned_phase['id']}/exit-criteria/",
        {**CRITERION, "metric": "vibes"},
        format="json",
    )
    assert set(error(response)["fields"]) == {"metric"}


# Starting phases ----------------------------------------------------------------


@pytest.fixture
def two_phases(pm_api: APIClient, api_pilot: dict[str, Any]) -> list[dict[str, Any]]:
    phases: list[dict[str, Any]] = pm_api.post(
        f"/api/v1/pilots/{api_pilot['id']}/phases/", {"defaults": True}, format="json"
    ).json()["phases"][:2]
    return phases


@pytest.mark.django_db
def test_start_now_makes_the_pilot_active(pm_api, api_pilot, two_phases):
    before = timezone.now()

    response = pm_api.post(f"/api/v1/phases/{two_phases[0]['id']}/start/", format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    started = dt.datetime.fromisoformat(response.json()["actual_start"])
    assert before <= started <= timezone.now()
    assert Pilot.objects.get(pk=api_pilot["id"]).status == Pilot.Status.ACTIVE


@pytest.mark.django_db
def test_start_records_a_started_at_in_the_past(pm_api, two_phases):
    response = pm_api.post(
        f"/api/v1/phases/{two_phases[0]['id']}/start/",
        {"started_at": "2026-01-05T08:30:00Z"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["actual_start"] == "2026-01-05T08:30:00Z"


@pytest.mark.django_db
def test_start_refuses_a_started_at_in_the_future(pm_api, two_phases):
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()

    response = pm_api.post(
        f"/api/v1/phases/{two_phases[0]['id']}/start/", {"started_at": future}, format="json"
    )

    assert response.status_code == 400
    assert error(response)["fields"]["started_at"] == ["The start time cannot be in the future."]
    assert Phase.objects.get(pk=two_phases[0]["id"]).status == Phase.Status.PLANNED


@pytest.mark.django_db
def test_start_refuses_a_started_at_before_the_previous_phase_ended(pm, pm_api, two_phases):
    lab = Phase.objects.get(pk=two_phases[0]["id"])
    services.phase_start(phase=lab, actor=pm, at=dt.datetime(2026, 1, 5, 9, tzinfo=UTC))
    services.phase_pass(phase=lab, actor=pm, at=dt.datetime(2026, 2, 1, 17, tzinfo=UTC))
    url = f"/api/v1/phases/{two_phases[1]['id']}/start/"

    early = pm_api.post(url, {"started_at": "2026-02-01T16:00:00Z"}, format="json")
    on_time = pm_api.post(url, {"started_at": "2026-02-02T09:00:00Z"}, format="json")

    assert early.status_code == 400
    assert "before the previous phase ended (2026-02-01T17:00:00Z)" in str(
        error(early)["fields"]["started_at"]
    )
    assert on_time.status_code == 200


@pytest.mark.django_db
def test_start_out_of_order_or_twice_is_a_conflict(pm_api, two_phases):
    out_of_order = pm_api.post(f"/api/v1/phases/{two_phases[1]['id']}/start/", format="json")
    pm_api.post(f"/api/v1/phases/{two_phases[0]['id']}/start/", format="json")
    twice = pm_api.post(f"/api/v1/phases/{two_phases[0]['id']}/start/", format="json")

    assert out_of_order.status_code == 409
    assert "phases start in order" in error(out_of_order)["message"]
    assert twice.status_code == 409
    assert "Only a planned phase can be started" in error(twice)["message"]


@pytest.mark.django_db
def test_phase_start_service_checks_a_given_time_but_not_the_default(pm, draft_pilot):
    lab, shadow = services.phase_plan_defaults(pilot=draft_pilot, actor=pm)[:2]
    with pytest.raises(DomainError, match="time zone"):
        services.phase_start(phase=lab, actor=pm, at=dt.datetime(2026, 1, 5, 9))
    services.phase_start(phase=lab, actor=pm)
    services.phase_pass(phase=lab, actor=pm)
    with pytest.raises(DomainError, match="before the previous phase ended"):
        services.phase_start(phase=shadow, actor=pm, at=timezone.now() - dt.timedelta(days=1))

    services.phase_start(phase=shadow, actor=pm)

    assert Phase.objects.get(pk=shadow.pk).status == Phase.Status.ACTIVE


# RACI ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_raci_put_sets_the_whole_matrix_by_key_and_username(
    pm_api, api_pilot, pm, approver, pilot_team
):
    url = f"/api/v1/pilots/{api_pilot['id']}/raci/"
    pm_api.put(
        url,
        [{"activity": "runtime_hardware", "assignments": [{"user": "team", "letter": "R"}]}],
        format="json",
    )

    response = pm_api.put(
        url,
        [
            {
                "activity": "go_no_go",
                "assignments": [
                    {"user": "appr", "letter": "A"},
                    {"user": "pm", "letter": "R"},
                    {"user": "team", "letter": "C"},
                ],
            },
            {
                "activity": "Correctness & performance validation",
                "assignments": [{"user": "team", "letter": "R"}, {"user": "pm", "letter": "A"}],
            },
        ],
        format="json",
    )

    assert response.status_code == 200
    rows = {row["key"]: row for row in response.json()}
    assert sorted((a["username"], a["letter"]) for a in rows["go_no_go"]["assignments"]) == [
        ("appr", "A"),
        ("pm", "R"),
        ("team", "C"),
    ]
    assert len(rows["validation"]["assignments"]) == 2
    # Left out of the whole matrix: nobody is assigned any more.
    assert rows["runtime_hardware"]["assignments"] == []
    assert services.accountable_for(Pilot.objects.get(pk=api_pilot["id"])) == approver
    assert pm_api.get(url).json() == response.json()


@pytest.mark.django_db
def test_raci_put_is_all_or_nothing_and_names_the_broken_activity(
    pm_api, api_pilot, approver, pilot_team
):
    url = f"/api/v1/pilots/{api_pilot['id']}/raci/"

    response = pm_api.put(
        url,
        [
            {
                "activity": "validation",
                "assignments": [{"user": "team", "letter": "R"}, {"user": "appr", "letter": "A"}],
            },
            {"activity": "go_no_go", "assignments": [{"user": "team", "letter": "R"}]},
        ],
        format="json",
    )

    assert response.status_code == 400
    assert error(response)["fields"] == {
        "go_no_go": ["Go/no-go decision needs exactly one Accountable (A)."]
    }
    assert not RaciAssignment.objects.exists()


@pytest.mark.django_db
def test_raci_put_refuses_unknown_activities_and_people_naming_them(
    pm_api, api_pilot, outsider, pilot_team
):
    response = pm_api.put(
        f"/api/v1/pilots/{api_pilot['id']}/raci/",
        [
            {"activity": "Data residency", "assignments": []},
            {
                "activity": "go_no_go",
                "assignments": [
                    {"user": "nobody", "letter": "A"},
                    {"user": "outsider", "letter": "R"},
                    {"user": "team", "letter": "X"},
                ],
            },
        ],
        format="json",
    )

    assert response.status_code == 400
    assert "letter" in str(error(response)["fields"])
    response = pm_api.put(
        f"/api/v1/pilots/{api_pilot['id']}/raci/",
        [
            {"activity": "Data residency", "assignments": []},
            {
                "activity": "go_no_go",
                "assignments": [
                    {"user": "nobody", "letter": "A"},
                    {"user": "outsider", "letter": "R"},
                ],
            },
        ],
        format="json",
    )
    fields = error(response)["fields"]
    assert fields["activity"][0] == "This pilot has no activity 'Data residency'."
    assert "go_no_go" in fields["activity"][1]
    assert fields["user"] == [
        "'nobody' is not a user with a PilotGate role.",
        "'outsider' is not a user with a PilotGate role.",
    ]
    assert not RaciAssignment.objects.exists()


@pytest.mark.django_db
def test_raci_put_needs_a_list(pm_api, api_pilot):
    response = pm_api.put(
        f"/api/v1/pilots/{api_pilot['id']}/raci/", {"activity": "go_no_go"}, format="json"
    )

    assert response.status_code == 400
    assert error(response)["code"] == "invalid"


# Readiness -------------------------------------------------------------------------


@pytest.mark.django_db
def test_readiness_put_answers_the_checklist_and_recommends(pm_api, api_pilot, pm):
    url = f"/api/v1/pilots/{api_pilot['id']}/readiness/"
    pm_api.put(url, [{"question": "fallback_gpu", "answer": "no"}], format="json")

    response = pm_api.put(
        url,
        [
            {"question": q, "answer": "yes", "evidence": f"see {q}"}
            for q in ("steady_qps", "model_fits", "power_density")
        ],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["recommendation"] == "pilot"
    assert (body["yes"], body["no"], body["unknown"]) == (3, 0, 2)
    answers = {a["question"]: a for a in body["answers"]}
    assert answers["steady_qps"]["evidence"] == "see steady_qps"
    # Left out of the whole checklist: unknown again.
    assert answers["fallback_gpu"]["answer"] == "unknown"
    row = ReadinessAnswer.objects.get(pilot_id=api_pilot["id"], question="steady_qps")
    assert row.answered_by == pm
    assert pm_api.get(url).json() == body


@pytest.mark.django_db
def test_readiness_put_refuses_a_repeated_question_or_a_bad_answer(pm_api, api_pilot):
    url = f"/api/v1/pilots/{api_pilot['id']}/readiness/"

    repeated = pm_api.put(
        url,
        [{"question": "steady_qps", "answer": "yes"}, {"question": "steady_qps", "answer": "no"}],
        format="json",
    )
    bad = pm_api.put(url, [{"question": "steady_qps", "answer": "maybe"}], format="json")

    assert repeated.status_code == 400
    assert error(repeated)["fields"] == {"question": ["steady_qps is given twice."]}
    assert bad.status_code == 400
    assert not ReadinessAnswer.objects.filter(answer="yes").exists()


# The whole flow ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_pipeline_drives_a_pilot_from_creation_to_its_first_phase(
    api_client, pm, approver, pilot_team, backends
):
    from portal.tokens import token_create

    _, secret = token_create(user=pm, name="pipeline", days=1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    pilot = api_client.post("/api/v1/pilots/", pilot_body(), format="json").json()
    phase = api_client.post(
        f"/api/v1/pilots/{pilot['id']}/phases/",
        {"kind": "lab_validation", "planned_start": "2026-03-02", "planned_end": "2026-03-29"},
        format="json",
    ).json()["phases"][0]
    api_client.post(f"/api/v1/phases/{phase['id']}/exit-criteria/", CRITERION, format="json")
    api_client.put(
        f"/api/v1/pilots/{pilot['id']}/raci/",
        [
            {
                "activity": "go_no_go",
                "assignments": [{"user": "appr", "letter": "A"}, {"user": "pm", "letter": "R"}],
            }
        ],
        format="json",
    )
    started = api_client.post(
        f"/api/v1/phases/{phase['id']}/start/",
        {"started_at": "2026-03-02T08:00:00Z"},
        format="json",
    )

    assert started.status_code == 200
    detail = api_client.get(f"/api/v1/pilots/{pilot['id']}/").json()
    assert detail["status"] == "active"
    assert detail["current_phase"]["status"] == "active"
    assert detail["phases"][0]["exit_criteria"][0]["threshold"] == "1.050000"
    actors = set(
        ChangeRecord.objects.filter(scope=f"pilot:{pilot['id']}").values_list(
            "actor__username", flat=True
        )
    )
    assert actors == {"pm"}
