"""The planning pages: warnings, overlap refusals, removing and moving
phases, fixed backends, thresholds as percentages, why a pilot stopped,
and the RACI grid that scales with people."""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from pilots import services
from pilots.models import Phase, Pilot, RaciActivity, RaciAssignment
from portal.roles import Role
from tests.factories import BackendFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def planned(pm: Any, draft_pilot: Pilot) -> Pilot:
    services.phase_plan_defaults(pilot=draft_pilot, actor=pm)
    return draft_pilot


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- phases ---------------------------------------------------------------------


def test_phases_page_warns_about_a_phase_after_the_target_end(as_user, pm, planned):
    client = as_user(pm)
    assert "Check the plan" not in text(client.get(reverse("pilot-phases", args=[planned.pk])))
    services.phase_create(
        pilot=planned,
        actor=pm,
        kind=Phase.Kind.PRODUCTION_RAMP,
        name="Ramp APAC",
        planned_start=D(2026, 9, 20),
        planned_end=D(2026, 10, 20),
    )
    body = text(client.get(reverse("pilot-phases", args=[planned.pk])))
    assert "Check the plan" in body
    assert (
        "6. Ramp APAC ends on 2026-10-20, after the pilot&#x27;s target end (2026-09-30)." in body
    )
    detail = text(client.get(reverse("pilot-detail", args=[planned.pk])))
    assert "6. Ramp APAC ends on 2026-10-20" in detail


def test_phase_create_page_refuses_overlapping_dates_next_to_the_start(as_user, pm, planned):
    lab = planned.phases.get(order=1)
    response = as_user(pm).post(
        reverse("phase-create", args=[planned.pk]),
        {
            "kind": "canary",
            "name": "Clash",
            "order": "",
            "planned_start": (lab.planned_end).isoformat(),
            "planned_end": (lab.planned_end + dt.timedelta(days=3)).isoformat(),
            "traffic_percent": "1",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "These dates overlap 1. Lab validation" in form.errors["planned_start"][0]
    assert not planned.phases.filter(name="Clash").exists()


def test_plan_defaults_page_fits_a_short_window(as_user, pm, draft_pilot):
    draft_pilot.target_end = D(2026, 3, 15)
    draft_pilot.save()
    response = as_user(pm).post(reverse("pilot-plan-defaults", args=[draft_pilot.pk]))
    assert response.status_code == 302
    assert draft_pilot.phases.order_by("order").last().planned_end == D(2026, 3, 15)


def test_planned_phases_are_removed_from_the_page(as_user, pm, planned):
    client = as_user(pm)
    shadow = planned.phases.get(kind=Phase.Kind.SHADOW)
    body = text(client.get(reverse("pilot-phases", args=[planned.pk])))
    assert reverse("phase-remove", args=[shadow.pk]) in body
    response = client.post(reverse("phase-remove", args=[shadow.pk]), follow=True)
    assert "Shadow removed." in text(response)
    assert list(planned.phases.values_list("order", flat=True)) == [1, 2, 3, 4]


def test_a_phase_that_ran_cannot_be_removed_and_offers_no_button(as_user, pm, planned):
    client = as_user(pm)
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=pm)
    body = text(client.get(reverse("pilot-phases", args=[planned.pk])))
    assert reverse("phase-remove", args=[lab.pk]) not in body
    response = client.post(reverse("phase-remove", args=[lab.pk]), follow=True)
    assert "Only a planned phase can be removed; Lab validation is active." in text(response)
    assert planned.phases.count() == 5


def test_phases_move_up_and_down_among_planned_ones(as_user, pm, planned):
    client = as_user(pm)
    lab, shadow = planned.phases.order_by("order")[:2]
    services.phase_start(phase=lab, actor=pm)
    body = client.get(reverse("pilot-phases", args=[planned.pk])).content.decode()
    # Shadow follows the active lab phase: it may go down, not up.
    assert 'aria-label="Move Shadow up"' not in body
    assert 'aria-label="Move Shadow down"' in body
    response = client.post(
        reverse("phase-move", args=[shadow.pk]), {"direction": "down"}, follow=True
    )
    assert "Shadow moved down." in text(response)
    assert list(planned.phases.order_by("order").values_list("kind", flat=True))[:3] == [
        "lab_validation",
        "canary",
        "shadow",
    ]
    response = client.post(
        reverse("phase-move", args=[shadow.pk]), {"direction": "sideways"}, follow=True
    )
    assert "Move a phase up or down." in text(response)


# --- backends fixed once a phase ran ---------------------------------------------


def pilot_form_data(pilot: Pilot, **changes: Any) -> dict[str, Any]:
    data = {
        "name": pilot.name,
        "model_name": pilot.model_name,
        "candidate_backend": pilot.candidate_backend_id,
        "baseline_backend": pilot.baseline_backend_id,
        "team": pilot.team,
        "cost_center": pilot.cost_center_id,
        "traffic_slice": pilot.traffic_slice,
        "target_start": pilot.target_start.isoformat(),
        "target_end": pilot.target_end.isoformat(),
        "description": pilot.description,
    }
    data.update(changes)
    return data


def test_pilot_edit_page_fixes_the_backends_once_a_phase_ran(as_user, pm, planned):
    client = as_user(pm)
    other = BackendFactory.create()
    url = reverse("pilot-edit", args=[planned.pk])
    assert not client.get(url).context["form"].fields["candidate_backend"].disabled
    services.phase_start(phase=planned.phases.get(order=1), actor=pm)
    form = client.get(url).context["form"]
    assert form.fields["candidate_backend"].disabled
    assert form.fields["baseline_backend"].disabled
    assert "Fixed: a phase of this pilot has run on it." in text(client.get(url))
    response = client.post(url, pilot_form_data(planned, candidate_backend=other.pk, team="ads"))
    assert response.status_code == 302
    planned.refresh_from_db()
    assert planned.team == "ads"
    assert planned.candidate_backend_id != other.pk


def test_pilot_edit_shows_the_service_refusal_next_to_the_backend(
    as_user, pm, planned, monkeypatch
):
    # A phase starts between the page being opened and the form being sent.
    client = as_user(pm)
    other = BackendFactory.create()
    monkeypatch.setattr(services, "backends_locked", lambda pilot: False)
    services.phase_start(phase=planned.phases.get(order=1), actor=pm)
    response = client.post(
        reverse("pilot-edit", args=[planned.pk]),
        pilot_form_data(planned, candidate_backend=other.pk),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "The candidate backend cannot change" in errors["candidate_backend"][0]


# --- exit-criterion thresholds ---------------------------------------------------


def criterion_data(**changes: Any) -> dict[str, Any]:
    data = {
        "metric": "error_rate",
        "comparison": "absolute",
        "direction": "at_most",
        "threshold": "0.5",
        "critical": "on",
        "weight": "1",
    }
    data.update(changes)
    return data


def test_error_rate_is_entered_and_shown_as_a_percentage(as_user, pm, planned):
    client = as_user(pm)
    phase = planned.phases.get(order=1)
    phase.exit_criteria.filter(metric="error_rate").delete()
    response = client.post(reverse("criterion-create", args=[phase.pk]), criterion_data())
    assert response.status_code == 302
    criterion = phase.exit_criteria.get(metric="error_rate")
    assert criterion.threshold == Decimal("0.005")
    body = text(client.get(reverse("pilot-phases", args=[planned.pk])))
    assert "Error rate at most 0.5 %" in body
    edit = client.get(reverse("criterion-edit", args=[criterion.pk]))
    assert edit.context["form"]["threshold"].value() == "0.5"
    response = client.post(
        reverse("criterion-edit", args=[criterion.pk]), criterion_data(threshold="0.25")
    )
    assert response.status_code == 302
    criterion.refresh_from_db()
    assert criterion.threshold == Decimal("0.0025")


def test_default_error_rate_criterion_reads_as_a_percentage(as_user, pm, planned):
    body = text(as_user(pm).get(reverse("pilot-phases", args=[planned.pk])))
    assert "Error rate at most 0.1 %" in body
    assert "Error rate at most 0.001" not in body


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (criterion_data(threshold="150"), "threshold", "percentage between 0 and 100"),
        (criterion_data(threshold="-1"), "threshold", "percentage between 0 and 100"),
        (criterion_data(threshold="0.12345"), "threshold", "at most 4 decimal places"),
        (
            criterion_data(metric="e2e_latency_p99", threshold="0"),
            "threshold",
            "latency threshold is a time in seconds greater than zero",
        ),
        (
            criterion_data(metric="throttle_events", threshold="-2"),
            "threshold",
            "Throttle events cannot be negative.",
        ),
        (
            criterion_data(metric="ttft_p99", comparison="relative", threshold="0"),
            "threshold",
            "ratio to baseline must be greater than zero",
        ),
        (criterion_data(weight="0"), "weight", "A weight is a whole number of at least 1."),
    ],
)
def test_criterion_form_refuses_thresholds_out_of_range(as_user, pm, planned, data, field, message):
    phase = planned.phases.get(order=3)
    phase.exit_criteria.all().delete()
    response = as_user(pm).post(reverse("criterion-create", args=[phase.pk]), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in e for e in errors[field]), errors
    assert not phase.exit_criteria.exists()


# --- why a pilot stopped ------------------------------------------------------------


def test_a_stopped_pilot_says_why_on_its_page_and_in_the_list(as_user, finance, pm, planned):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=pm)
    services.phase_fail(phase=lab, actor=pm, message="p99 latency regression under mixed load")
    client = as_user(finance)
    detail = text(client.get(reverse("pilot-detail", args=[planned.pk])))
    assert "Why it stopped" in detail
    assert "1. Lab validation failed" in detail
    assert "p99 latency regression under mixed load" in detail
    listing = text(client.get(reverse("pilot-list")))
    assert "Lab validation failed: p99 latency regression under mixed load" in listing
    phases = text(client.get(reverse("pilot-phases", args=[planned.pk])))
    assert "Why it failed" in phases


def test_a_stopped_pilot_without_a_reason_says_so(as_user, pm, planned):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=pm)
    services.phase_fail(phase=lab, actor=pm)
    client = as_user(pm)
    assert "no reason was recorded" in text(client.get(reverse("pilot-detail", args=[planned.pk])))
    listing = re.sub(r"<[^>]+>", "", text(client.get(reverse("pilot-list"))))
    assert "Lab validation failed (no reason recorded)" in listing


# --- the RACI grid --------------------------------------------------------------------


def grid(pilot: Pilot, letters: dict[tuple[str, Any], str]) -> dict[str, Any]:
    data: dict[str, Any] = {"grid": "1"}
    for activity in pilot.raci_activities.all():
        for letter in "RACI":
            data[f"raci-{activity.pk}-{letter}"] = [
                str(user.pk)
                for (key, user), held in letters.items()
                if key == activity.key and held == letter
            ]
    return data


GO = RaciActivity.Key.GO_NO_GO


def test_raci_grid_has_a_column_per_letter_not_per_person(as_user, pm, planned, make_user):
    for i in range(12):
        make_user(f"person{i}", Role.PILOT_TEAM)
    body = as_user(pm).get(reverse("pilot-raci", args=[planned.pk])).content.decode()
    table = body[body.index('<table class="data raci">') : body.index("</table>")]
    header = table[: table.index("</thead>")]
    assert len(re.findall(r"<th[ >]", header)) == 5  # activity + R, A, C, I
    assert table.count('class="people-picker"') == 5 * 4
    assert table.count('type="search"') == 5 * 4
    assert "person11" in table
    assert 'src="/static/js/raci.js"' in body
    assert "<script>" not in body.split("</main>")[0]


def test_raci_grid_saves_letters_from_the_pickers(as_user, pm, approver, pilot_team, planned):
    response = as_user(pm).post(
        reverse("pilot-raci", args=[planned.pk]),
        grid(planned, {(GO, approver): "A", (GO, pilot_team): "R", (GO, pm): "C"}),
    )
    assert response.status_code == 302
    letters = dict(
        RaciAssignment.objects.filter(activity__key=GO).values_list("user__username", "letter")
    )
    assert letters == {"appr": "A", "team": "R", "pm": "C"}
    # Taking someone out of every picker removes their letter.
    as_user(pm).post(
        reverse("pilot-raci", args=[planned.pk]),
        grid(planned, {(GO, approver): "A", (GO, pilot_team): "R"}),
    )
    assert not RaciAssignment.objects.filter(user=pm).exists()


def test_raci_grid_refuses_one_person_under_two_letters_inline(as_user, pm, pilot_team, planned):
    data = grid(planned, {(GO, pm): "A", (GO, pilot_team): "R"})
    go = planned.raci_activities.get(key=GO)
    data[f"raci-{go.pk}-I"] = [str(pm.pk)]
    response = as_user(pm).post(reverse("pilot-raci", args=[planned.pk]), data)
    assert response.status_code == 200
    body = text(response)
    assert "Pat Manager (pm) is chosen as both A and I for Go/no-go decision" in body
    assert "Nothing was saved" in body
    assert not RaciAssignment.objects.exists()


def test_adding_an_activity_keeps_the_unsaved_grid(as_user, pm, approver, pilot_team, planned):
    data = grid(planned, {(GO, approver): "A", (GO, pilot_team): "R"})
    data["name"] = "Capacity planning"
    response = as_user(pm).post(reverse("raci-activity-add", args=[planned.pk]), data)
    assert response.status_code == 200
    assert planned.raci_activities.filter(name="Capacity planning").exists()
    assert not RaciAssignment.objects.exists()  # added, not saved
    body = text(response)
    assert "Capacity planning added." in body
    assert "Your changes to the grid are not saved yet" in body
    go = planned.raci_activities.get(key=GO)
    form = response.context["form"]
    assert form[f"raci-{go.pk}-A"].value() == [str(approver.pk)]
    assert form[f"raci-{go.pk}-R"].value() == [str(pilot_team.pk)]
    # Saving the grid shown keeps both the edits and the new (empty) row.
    new = planned.raci_activities.get(name="Capacity planning")
    data = {**data, f"raci-{new.pk}-A": [], f"raci-{new.pk}-R": []}
    assert as_user(pm).post(reverse("pilot-raci", args=[planned.pk]), data).status_code == 302
    assert services.accountable_for(planned) == approver


def test_adding_an_activity_over_htmx_returns_the_grid_with_the_edits(
    as_user, pm, approver, planned
):
    data = grid(planned, {(GO, approver): "A"})
    data["name"] = "Capacity planning"
    response = as_user(pm).post(
        reverse("raci-activity-add", args=[planned.pk]), data, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "Capacity planning" in body
    go = planned.raci_activities.get(key=GO)
    assert response.context["form"][f"raci-{go.pk}-A"].value() == [str(approver.pk)]


def test_adding_an_activity_without_edits_goes_back_to_the_page(as_user, pm, planned):
    data = {**grid(planned, {}), "name": "Capacity planning"}
    response = as_user(pm).post(reverse("raci-activity-add", args=[planned.pk]), data)
    assert response.status_code == 302


def test_custom_activities_are_removed_from_the_grid(as_user, pm, planned):
    client = as_user(pm)
    custom = services.activity_add(pilot=planned, actor=pm, name="Capacity planning")
    body = client.get(reverse("pilot-raci", args=[planned.pk])).content.decode()
    assert reverse("raci-activity-remove", args=[planned.pk, custom.pk]) in body
    go = planned.raci_activities.get(key=GO)
    assert reverse("raci-activity-remove", args=[planned.pk, go.pk]) not in body
    response = client.post(
        reverse("raci-activity-remove", args=[planned.pk, custom.pk]),
        grid(planned, {}),
        follow=True,
    )
    assert "Capacity planning removed." in text(response)
    assert not planned.raci_activities.filter(pk=custom.pk).exists()
    response = client.post(
        reverse("raci-activity-remove", args=[planned.pk, go.pk]), grid(planned, {}), follow=True
    )
    assert "Go/no-go decision is a built-in activity" in text(response)
    assert planned.raci_activities.filter(pk=go.pk).exists()


def test_readers_see_names_per_letter_without_pickers(as_user, pm, finance, approver, planned):
    go = planned.raci_activities.get(key=GO)
    services.raci_set_matrix(
        pilot=planned, actor=pm, matrix={go.pk: {approver.pk: "A", pm.pk: "R"}}
    )
    body = as_user(finance).get(reverse("pilot-raci", args=[planned.pk])).content.decode()
    assert "people-picker" not in body
    assert "Pat Manager (pm)" in body
    assert "raci.js" not in body


# The RACI page, for a program manager:
#   1. the session
#   2. the user
#   3. the user's groups (roles)
#   4. the pilot with its backends, vendors and creator
#   5. its activities
#   6. their letters (prefetch)
#   7. the people who hold a role or a letter
RACI_QUERIES = 7


@pytest.mark.parametrize("people", [5, 60])
def test_raci_page_query_count_is_constant(
    as_user, pm, planned, people, roles, django_assert_num_queries
):
    users = [UserFactory.create(roles=[Role.PILOT_TEAM]) for _ in range(people)]
    go = planned.raci_activities.get(key=GO)
    matrix = {go.pk: {u.pk: "I" for u in users} | {users[0].pk: "A", users[1].pk: "R"}}
    services.raci_set_matrix(pilot=planned, actor=pm, matrix=matrix)
    client = as_user(pm)
    with django_assert_num_queries(RACI_QUERIES):
        response = client.get(reverse("pilot-raci", args=[planned.pk]))
    assert response.status_code == 200
    assert len(response.context["form"].people) == people + 1  # and the PM
    assert response.content.decode().count('class="person"') == people
