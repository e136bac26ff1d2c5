"""Pilot pages: who may see and change what, and what they show."""

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from pilots import services
from pilots.models import Phase, Pilot, RaciActivity, RaciAssignment, ReadinessAnswer
from portal.models import ChangeRecord
from tests.factories import BackendFactory, CostCenterFactory, PilotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pilot(pm, draft_pilot):
    services.phase_plan_defaults(pilot=draft_pilot, actor=pm)
    return draft_pilot


def read_urls(pilot):
    phase = pilot.phases.first()
    return [
        reverse("home"),
        reverse("pilot-list"),
        reverse("pilot-detail", args=[pilot.pk]),
        reverse("pilot-phases", args=[pilot.pk]),
        reverse("pilot-raci", args=[pilot.pk]),
        reverse("pilot-readiness", args=[pilot.pk]),
        reverse("pilot-changelog", args=[pilot.pk]),
        reverse("backend-list"),
        reverse("backend-detail", args=[pilot.candidate_backend.slug]),
    ], phase


def edit_urls(pilot):
    phase = pilot.phases.first()
    criterion = phase.exit_criteria.first()
    return [
        reverse("pilot-create"),
        reverse("pilot-edit", args=[pilot.pk]),
        reverse("phase-create", args=[pilot.pk]),
        reverse("phase-edit", args=[phase.pk]),
        reverse("criterion-create", args=[phase.pk]),
        reverse("criterion-edit", args=[criterion.pk]),
    ]


def post_only_urls(pilot):
    phase = pilot.phases.first()
    criterion = phase.exit_criteria.first()
    return [
        reverse("pilot-plan-defaults", args=[pilot.pk]),
        reverse("phase-start", args=[phase.pk]),
        reverse("criterion-delete", args=[criterion.pk]),
        reverse("raci-activity-add", args=[pilot.pk]),
        reverse("pilot-raci", args=[pilot.pk]),
        reverse("pilot-readiness", args=[pilot.pk]),
    ]


def test_every_page_renders_for_a_program_manager(as_user, pm, pilot):
    client = as_user(pm)
    urls, _ = read_urls(pilot)
    for url in [*urls, *edit_urls(pilot)]:
        response = client.get(url)
        assert response.status_code == 200, url


def test_read_pages_render_for_finance_without_edit_buttons(as_user, finance, pilot):
    client = as_user(finance)
    urls, _ = read_urls(pilot)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert reverse("pilot-edit", args=[pilot.pk]) not in body, url
        assert "New pilot" not in body, url
        assert "Save RACI" not in body, url


def test_edit_pages_are_forbidden_for_finance(as_user, finance, pilot):
    client = as_user(finance)
    for url in edit_urls(pilot):
        assert client.get(url).status_code == 403, url
    for url in post_only_urls(pilot):
        assert client.post(url, {}).status_code == 403, url
    assert not ChangeRecord.objects.exclude(actor__username="pm").exists()


def test_outsider_gets_403_everywhere(as_user, outsider, pilot):
    client = as_user(outsider)
    urls, _ = read_urls(pilot)
    for url in [*urls, *edit_urls(pilot)]:
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login(client, pilot):
    urls, _ = read_urls(pilot)
    for url in [*urls, *edit_urls(pilot)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_missing_pilot_is_404(as_user, pm):
    client = as_user(pm)
    for name in ("pilot-detail", "pilot-phases", "pilot-raci", "pilot-edit", "pilot-changelog"):
        assert client.get(reverse(name, args=[999_999])).status_code == 404, name


def test_create_pilot_through_the_form(as_user, pm):
    candidate, baseline = BackendFactory.create(), BackendFactory.create()
    CostCenterFactory.create(code="CC-9")
    response = as_user(pm).post(
        reverse("pilot-create"),
        {
            "name": "New pilot",
            "model_name": "mixtral",
            "candidate_backend": candidate.pk,
            "baseline_backend": baseline.pk,
            "team": "search",
            "cost_center": "CC-9",
            "target_start": "2026-03-01",
            "target_end": "2026-08-01",
        },
    )
    pilot = Pilot.objects.get(name="New pilot")
    assert response.status_code == 302
    assert response["Location"] == reverse("pilot-detail", args=[pilot.pk])
    assert pilot.created_by == pm
    assert pilot.raci_activities.count() == 5


def test_create_form_shows_errors_next_to_fields(as_user, pm):
    backend = BackendFactory.create()
    response = as_user(pm).post(
        reverse("pilot-create"),
        {
            "name": "",
            "model_name": "mixtral",
            "candidate_backend": backend.pk,
            "baseline_backend": backend.pk,
            "team": "search",
            "cost_center": "CC-9",
            "target_start": "2026-03-01",
            "target_end": "2026-01-01",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "name" in form.errors
    assert form.errors["baseline_backend"] == ["The baseline must be a different backend."]
    assert "target_end" in form.errors
    assert "The baseline must be a different backend." in response.content.decode()
    assert not Pilot.objects.exists()


def test_edit_pilot_records_change(as_user, pm, pilot):
    data = {
        "name": pilot.name,
        "model_name": "llama-3-405b",
        "candidate_backend": pilot.candidate_backend_id,
        "baseline_backend": pilot.baseline_backend_id,
        "team": pilot.team,
        "cost_center": pilot.cost_center_id,
        "target_start": "2026-01-05",
        "target_end": "2026-09-30",
        "traffic_slice": "",
        "description": "",
    }
    response = as_user(pm).post(reverse("pilot-edit", args=[pilot.pk]), data)
    assert response.status_code == 302
    record = ChangeRecord.objects.get(scope=pilot.scope, action="update", object_repr=pilot.name)
    assert record.changes == {"model_name": ["llama-3-70b", "llama-3-405b"]}
    page = as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk])).content.decode()
    assert "llama-3-405b" in page


def test_plan_defaults_button_and_start_first_phase(as_user, pm):
    pilot = PilotFactory.create()
    client = as_user(pm)
    page = client.get(reverse("pilot-phases", args=[pilot.pk])).content.decode()
    assert "Plan default phases" in page
    client.post(reverse("pilot-plan-defaults", args=[pilot.pk]))
    assert pilot.phases.count() == 5
    first, second = pilot.phases.order_by("order")[:2]
    page = client.get(reverse("pilot-phases", args=[pilot.pk])).content.decode()
    assert reverse("phase-start", args=[first.pk]) in page
    assert reverse("phase-start", args=[second.pk]) not in page
    client.post(reverse("phase-start", args=[first.pk]))
    first.refresh_from_db()
    pilot.refresh_from_db()
    assert first.status == Phase.Status.ACTIVE
    assert pilot.status == Pilot.Status.ACTIVE


def test_starting_out_of_order_shows_the_reason(as_user, pm, pilot):
    canary = pilot.phases.get(kind=Phase.Kind.CANARY)
    response = as_user(pm).post(reverse("phase-start", args=[canary.pk]), follow=True)
    assert "Cannot start Canary: Lab validation comes first" in response.content.decode()
    canary.refresh_from_db()
    assert canary.status == Phase.Status.PLANNED


def test_no_page_offers_pass_or_fail(as_user, pm, pilot):
    services.phase_start(phase=pilot.phases.first(), actor=pm)
    client = as_user(pm)
    for name in ("pilot-detail", "pilot-phases"):
        body = client.get(reverse(name, args=[pilot.pk])).content.decode()
        assert ">Pass" not in body and ">Fail" not in body


def test_phase_edit_errors_are_inline(as_user, pm, pilot):
    phase = pilot.phases.get(kind=Phase.Kind.SHADOW)
    response = as_user(pm).post(
        reverse("phase-edit", args=[phase.pk]),
        {
            "kind": "shadow",
            "name": "",
            "order": phase.order,
            "planned_start": "2026-05-01",
            "planned_end": "2026-04-01",
            "traffic_percent": "150",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "planned_end" in errors
    assert "traffic_percent" in errors


def test_timeline_is_served_locally(as_user, pm, pilot):
    body = as_user(pm).get(reverse("pilot-detail", args=[pilot.pk])).content.decode()
    assert 'id="timeline-data"' in body
    assert "/static/plotly/plotly.min.js" in body
    assert "/static/js/timeline.js" in body
    assert "cdn" not in body.lower()
    assert reverse("metrics-pilot-panel", args=[pilot.pk]) in body


def test_backend_detail_shows_pilots_and_metrics_panel(as_user, finance, pilot):
    backend = pilot.candidate_backend
    body = as_user(finance).get(reverse("backend-detail", args=[backend.slug])).content.decode()
    assert pilot.name in body
    assert reverse("metrics-backend-panel", args=[backend.slug]) in body


def raci_post(pilot, people, letters):
    """POST data for the RACI grid: ``letters`` maps (activity key, user) to a
    letter; each (activity, letter) picker posts the ids of its people."""
    data: dict[str, Any] = {"grid": "1"}
    for activity in pilot.raci_activities.all():
        for letter in "RACI":
            data[f"raci-{activity.pk}-{letter}"] = [
                str(person.pk) for person in people if letters.get((activity.key, person)) == letter
            ]
    return data


def test_raci_grid_refuses_second_accountable_inline(as_user, pm, approver, pilot_team, pilot):
    client = as_user(pm)
    people = [pm, approver, pilot_team]
    go = RaciActivity.Key.GO_NO_GO
    data = raci_post(pilot, people, {(go, approver): "A", (go, pilot_team): "R"})
    response = client.post(reverse("pilot-raci", args=[pilot.pk]), data)
    assert response.status_code == 302
    assert services.accountable_for(pilot) == approver

    data = raci_post(pilot, people, {(go, approver): "A", (go, pm): "A", (go, pilot_team): "R"})
    response = client.post(reverse("pilot-raci", args=[pilot.pk]), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Go/no-go decision already has an Accountable: appr" in body
    assert "Nothing was saved: fix the rows marked below." in body
    assert RaciAssignment.objects.filter(letter="A").count() == 1


def test_raci_grid_over_htmx_returns_the_grid_only(as_user, pm, pilot):
    data = raci_post(pilot, [pm], {(RaciActivity.Key.GO_NO_GO, pm): "A"})
    response = as_user(pm).post(
        reverse("pilot-raci", args=[pilot.pk]), data, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "needs at least one Responsible" in body


def test_add_activity(as_user, pm, pilot):
    client = as_user(pm)
    client.post(reverse("raci-activity-add", args=[pilot.pk]), {"name": "Capacity planning"})
    assert pilot.raci_activities.filter(name="Capacity planning").exists()
    response = client.post(
        reverse("raci-activity-add", args=[pilot.pk]), {"name": "Capacity planning"}
    )
    assert response.status_code == 200
    assert "already has an activity with this name" in response.content.decode()


def test_readiness_form_saves_answers_and_recommends(as_user, pm, pilot):
    data = {}
    for i, q in enumerate(ReadinessAnswer.Question.values):
        data[f"answer-{q}"] = "yes" if i < 3 else "unknown"
        data[f"evidence-{q}"] = f"note {i}"
    response = as_user(pm).post(reverse("pilot-readiness", args=[pilot.pk]), data)
    assert response.status_code == 302
    assert pilot.readiness_answers.filter(answer="yes").count() == 3
    body = as_user(pm).get(reverse("pilot-readiness", args=[pilot.pk])).content.decode()
    assert '<span class="badge ok">pilot</span>' in body
    assert "3 of 5 answered yes, 0 no, 2 unknown" in body
    overview = as_user(pm).get(reverse("pilot-detail", args=[pilot.pk])).content.decode()
    assert '<span class="badge ok">pilot</span> 3 of 5 answered yes, 0 no, 2 unknown' in overview


def test_pilot_list_filters_and_search(as_user, finance):
    wafer = PilotFactory.create(name="Alpha wafer", team="chat")
    PilotFactory.create(
        name="Beta gpu", team="ads", candidate_backend=BackendFactory.create(kind="tpu_pod")
    )
    client = as_user(finance)

    def names(query):
        response = client.get(reverse("pilot-list"), query)
        return [p.name for p in response.context["page"].object_list]

    assert names({}) == ["Alpha wafer", "Beta gpu"]
    assert names({"q": "alpha"}) == ["Alpha wafer"]
    assert names({"team": "ads"}) == ["Beta gpu"]
    assert names({"backend_kind": "tpu_pod"}) == ["Beta gpu"]
    services.phase_create(
        pilot=wafer,
        actor=None,
        kind="shadow",
        planned_start=dt.date(2026, 1, 1),
        planned_end=dt.date(2026, 2, 1),
    )
    assert names({"phase": "shadow"}) == ["Alpha wafer"]
    assert names({"status": "completed"}) == []
    body = client.get(reverse("pilot-list"), {"q": "nothing"}).content.decode()
    assert "No pilot matches these filters" in body


def test_pilot_list_empty_state(as_user, pm):
    body = as_user(pm).get(reverse("pilot-list")).content.decode()
    assert "No pilots yet" in body


def test_get_on_a_command_url_is_405_for_editors_and_403_for_others(
    as_user, client, pm, finance, outsider, pilot
):
    url = reverse("phase-start", args=[pilot.phases.first().pk])
    assert as_user(finance).get(url).status_code == 403
    assert as_user(pm).get(url).status_code == 405
    assert as_user(outsider).get(url).status_code == 403


def test_changelog_names_people_not_ids(as_user, pm, approver, pilot):
    go = pilot.raci_activities.get(key=RaciActivity.Key.GO_NO_GO)
    services.raci_set_matrix(pilot=pilot, actor=pm, matrix={go.pk: {approver.pk: "A", pm.pk: "R"}})
    response = as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk]))
    lines = [line for _, lines in response.context["rows"] for line in lines]
    assert ("user", None, "appr") in lines
    assert ("user", None, "Pat Manager") in lines
    assert "Pat Manager" in response.content.decode()


def test_times_are_shown_in_the_display_time_zone(as_user, pm, pilot, settings):
    settings.DISPLAY_TIME_ZONE = "Asia/Tokyo"
    ChangeRecord.objects.filter(scope=pilot.scope).update(
        at=dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    )
    body = as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk])).content.decode()
    assert "2026-01-01 09:00:00" in body
    assert "When (Asia/Tokyo)" in body
    assert "2026-01-01 00:00:00" not in body


def test_phase_create_page_puts_the_phase_last_or_explains_a_taken_position(as_user, pm, pilot):
    client = as_user(pm)
    data = {
        "kind": "production_ramp",
        "name": "Ramp APAC",
        "order": "",
        "planned_start": "2026-10-01",
        "planned_end": "2026-10-20",
        "traffic_percent": "10",
    }
    response = client.post(reverse("phase-create", args=[pilot.pk]), data)
    assert response.status_code == 302
    assert pilot.phases.get(name="Ramp APAC").order == 6

    response = client.post(
        reverse("phase-create", args=[pilot.pk]), {**data, "name": "Clash", "order": "2"}
    )
    assert response.status_code == 200
    assert "Another phase of this pilot has this position." in response.content.decode()
    assert not pilot.phases.filter(name="Clash").exists()
