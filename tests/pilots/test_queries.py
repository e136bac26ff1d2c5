"""Pages keep a constant number of queries as pilots grow."""

import datetime as dt

import pytest
from django.urls import reverse

from pilots.models import Phase
from tests.factories import BackendFactory, ExitCriterionFactory, PhaseFactory, PilotFactory

pytestmark = pytest.mark.django_db


def make_pilots(count: int) -> None:
    candidate, baseline = BackendFactory.create(), BackendFactory.create()
    for _ in range(count):
        pilot = PilotFactory.create(candidate_backend=candidate, baseline_backend=baseline)
        PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.PASSED)
        PhaseFactory.create(
            pilot=pilot,
            order=2,
            kind=Phase.Kind.SHADOW,
            status=Phase.Status.ACTIVE,
            planned_start=dt.date(2026, 2, 2),
        )


# The pilot list page, for a program manager:
#   1. the session
#   2. the user
#   3. the user's groups (roles, cached on the user for the request)
#   4. the team choices of the filter form (distinct teams)
#   5. COUNT(*) for the paginator
#   6. one page of pilots, backends joined, current phase in subqueries
#   7. open red flags per pilot of the page (reviews' open_red_flag_counts tag)
PILOT_LIST_QUERIES = 7


@pytest.mark.parametrize("count", [5, 50])
def test_pilot_list_query_count_is_constant(as_user, pm, count, django_assert_num_queries):
    make_pilots(count)
    client = as_user(pm)
    with django_assert_num_queries(PILOT_LIST_QUERIES):
        response = client.get(reverse("pilot-list"))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == min(count, 25)


@pytest.mark.parametrize("count", [5, 50])
def test_filtered_pilot_list_query_count_is_constant(as_user, pm, count, django_assert_num_queries):
    make_pilots(count)
    client = as_user(pm)
    with django_assert_num_queries(PILOT_LIST_QUERIES):
        response = client.get(reverse("pilot-list"), {"phase": "shadow", "q": "Pilot"})
    assert response.context["page"].paginator.count == count


# Home, for a program manager:
#   1-3. session, user, user's groups
#   4. open pilots with their current phase (the groups)
#   5. attention, pilots: planned/active phases overdue or ending soon
#   6. attention, pilots: open pilots without a go/no-go Accountable
#   7. attention, metrics: failed imports of the last 7 days (with their count)
# (tests/pilots/test_home.py pins every role's count.)
HOME_QUERIES = 7


@pytest.mark.parametrize("count", [5, 50])
def test_home_query_count_is_constant(as_user, pm, count, django_assert_num_queries):
    make_pilots(count)
    client = as_user(pm)
    with django_assert_num_queries(HOME_QUERIES):
        response = client.get(reverse("home"))
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [(g.kind, len(g.pilots)) for g in groups] == [("shadow", count)]


def pilot_with_phases(count: int):
    pilot = PilotFactory.create()
    for order in range(1, count + 1):
        phase = PhaseFactory.create(
            pilot=pilot,
            order=order,
            status=Phase.Status.PASSED if order == 1 else Phase.Status.PLANNED,
        )
        ExitCriterionFactory.create(phase=phase)
    return pilot


# The pilot detail page:
#   1-3. session, user, user's groups
#   4. the pilot with both backends and their vendors and its creator
#   5. its phases
#   6. their exit criteria (prefetch)
#   7. its readiness answers
#   8. the holder of the go/no-go A
PILOT_DETAIL_QUERIES = 8


@pytest.mark.parametrize("phases", [1, 8])
def test_pilot_detail_query_count_is_constant(as_user, pm, phases, django_assert_num_queries):
    pilot = pilot_with_phases(phases)
    client = as_user(pm)
    with django_assert_num_queries(PILOT_DETAIL_QUERIES):
        response = client.get(reverse("pilot-detail", args=[pilot.pk]))
    assert response.status_code == 200
    assert len(response.context["phases"]) == phases
    assert response.context["timeline"] is not None


# The phases page: session, user, groups, pilot, phases, exit criteria.
PILOT_PHASES_QUERIES = 6


@pytest.mark.parametrize("phases", [1, 8])
def test_pilot_phases_query_count_is_constant(as_user, pm, phases, django_assert_num_queries):
    pilot = pilot_with_phases(phases)
    client = as_user(pm)
    with django_assert_num_queries(PILOT_PHASES_QUERIES):
        response = client.get(reverse("pilot-phases", args=[pilot.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("<h3>Exit criteria</h3>") == phases
    assert len(response.context["phases"]) == phases
