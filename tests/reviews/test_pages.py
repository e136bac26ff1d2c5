"""The review pages: the pilot page's fragment, the review page with its
figures and the A's form, decisions through the page, decision records."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from pilots.models import Phase
from reviews.models import Review
from reviews.services import review_decide, review_submit
from tests.factories import ExitCriterionFactory

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_pilot_page_includes_the_reviews_fragment(canary: Any, pm: Any) -> None:
    page = _login(pm).get(f"/pilots/{canary.pilot.pk}/")
    assert f"/reviews/pilots/{canary.pilot.pk}/panel/" in page.content.decode()


def test_the_fragment_lists_reviews_with_verdicts_in_constant_queries(
    canary: Any, pilot_team: Any, approver: Any, django_assert_num_queries: Any
) -> None:
    ExitCriterionFactory(phase=canary.phase)
    first = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    review_decide(review=first, actor=approver, decision="rejected")
    review_submit(pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go")
    client = _login(pilot_team)
    url = f"/reviews/pilots/{canary.pilot.pk}/panel/"
    # session, user, groups (roles), pilot, letters (may read), reviews with
    # pilot/phase/people, objections prefetch, deliveries, letters (may submit)
    with django_assert_num_queries(9):
        body = client.get(url).content.decode()
    assert body.count("badge ok") >= 1 and "Rejected" in body and "Open" in body


def test_the_review_page_shows_criteria_figures_and_the_form_only_to_the_accountable(
    canary: Any, pilot_team: Any, approver: Any
) -> None:
    ExitCriterionFactory(phase=canary.phase)
    review = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    as_a = _login(approver).get(f"/reviews/{review.pk}/").content.decode()
    assert "e2e_latency_p99" in as_a and "data-figure" in as_a
    assert "/static/plotly/plotly.min.js" in as_a and "cdn" not in as_a.lower()
    assert f"/reviews/{review.pk}/decide/" in as_a
    as_r = _login(pilot_team).get(f"/reviews/{review.pk}/").content.decode()
    assert f"/reviews/{review.pk}/decide/" not in as_r


def test_deciding_through_the_page_moves_the_phase(
    canary: Any, pilot_team: Any, approver: Any
) -> None:
    ExitCriterionFactory(phase=canary.phase)
    review = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    response = _login(approver).post(
        f"/reviews/{review.pk}/decide/", {"decision": "approved", "rationale": "ok"}
    )
    assert response.status_code == 302
    canary.phase.refresh_from_db()
    assert canary.phase.status == Phase.Status.PASSED


def test_a_refused_page_decision_says_why_and_changes_nothing(
    canary: Any, pilot_team: Any, approver: Any
) -> None:
    review = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    # No criteria: insufficient_data, so approving needs an override reason.
    response = _login(approver).post(
        f"/reviews/{review.pk}/decide/", {"decision": "approved"}, follow=True
    )
    assert "override reason" in response.content.decode()
    assert Review.objects.get(pk=review.pk).status == Review.Status.OPEN


def test_a_decided_review_exports_its_decision_record(
    canary: Any, pilot_team: Any, approver: Any
) -> None:
    review = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    client = _login(pilot_team)
    assert client.get(f"/reviews/{review.pk}/record/").status_code == 404
    review_decide(review=review, actor=approver, decision="rejected", rationale="not yet")
    page = client.get(f"/reviews/{review.pk}/record/").content.decode()
    assert "Decision record" in page and "not yet" in page and approver.username in page
    record = client.get(f"/reviews/{review.pk}/record.json").json()
    assert record["decision"] == "rejected" and record["decided_by"] == approver.username
    assert record["evidence"]["verdict"] == review.verdict
