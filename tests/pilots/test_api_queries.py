"""List endpoints cost the same number of queries for 5 rows or 50."""

from __future__ import annotations

import pytest

from pilots.models import Phase, RaciAssignment
from tests.factories import (
    BackendFactory,
    ExitCriterionFactory,
    PhaseFactory,
    PilotFactory,
    RaciActivityFactory,
    RaciAssignmentFactory,
    UserFactory,
    VendorFactory,
)

PHASE_KINDS = [
    Phase.Kind.LAB_VALIDATION,
    Phase.Kind.SHADOW,
    Phase.Kind.CANARY,
    Phase.Kind.PRODUCTION_RAMP,
]


def make_pilots(count: int) -> None:
    """``count`` pilots, each with 4 phases (the second active), two exit
    criteria per phase and a RACI activity with two people."""
    candidate = BackendFactory(slug="cs-3")
    baseline = BackendFactory(slug="h100")
    people = [UserFactory(username="r-person"), UserFactory(username="a-person")]
    for _ in range(count):
        pilot = PilotFactory(candidate_backend=candidate, baseline_backend=baseline)
        for order, kind in enumerate(PHASE_KINDS, start=1):
            phase = PhaseFactory(
                pilot=pilot, kind=kind, order=order, status="active" if order == 2 else "planned"
            )
            ExitCriterionFactory(phase=phase, metric="e2e_latency_p99")
            ExitCriterionFactory(phase=phase, metric="error_rate", comparison="absolute")
        activity = RaciActivityFactory(pilot=pilot)
        RaciAssignmentFactory(
            activity=activity, user=people[0], letter=RaciAssignment.Letter.RESPONSIBLE
        )
        RaciAssignmentFactory(
            activity=activity, user=people[1], letter=RaciAssignment.Letter.ACCOUNTABLE
        )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_pilot_list_query_count_does_not_grow_with_pilots(
    client, pilot_team, count, django_assert_num_queries
):
    make_pilots(count)
    client.force_login(pilot_team)

    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the page of pilots, backends joined, active phase by subqueries
    #    (one row more than the page, for "next": no COUNT(*))
    with django_assert_num_queries(4):
        response = client.get("/api/v1/pilots/")

    assert response.status_code == 200
    assert len(response.json()["results"]) == count
    assert all(row["current_phase"]["kind"] == "shadow" for row in response.json()["results"])


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_backend_list_query_count_does_not_grow_with_backends(
    client, pilot_team, count, django_assert_num_queries
):
    for number in range(count):
        BackendFactory(vendor=VendorFactory(slug=f"vendor-q{number}"))
    client.force_login(pilot_team)

    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the page of backends, vendor joined
    #    (one row more than the page, for "next": no COUNT(*))
    with django_assert_num_queries(4):
        response = client.get("/api/v1/backends/")

    assert response.status_code == 200
    assert len(response.json()["results"]) == count


@pytest.mark.django_db
def test_pilot_detail_loads_nested_rows_in_one_query_per_relation(
    client, pilot_team, django_assert_num_queries
):
    make_pilots(1)
    client.force_login(pilot_team)
    pilot_id = client.get("/api/v1/pilots/").json()["results"][0]["id"]

    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the pilot, backends joined, active phase by subqueries
    # 5. its phases
    # 6. their exit criteria
    # 7. its RACI activities
    # 8. their assignments, users joined
    # 9. its readiness answers
    with django_assert_num_queries(9):
        response = client.get(f"/api/v1/pilots/{pilot_id}/")

    assert response.status_code == 200
    assert len(response.json()["phases"]) == 4
    assert len(response.json()["raci"][0]["assignments"]) == 2
