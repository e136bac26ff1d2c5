"""Rules of issue 11 pinned by the audit of the reviews implementation:
each test names the rule of the issue text it holds the code to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reviews.builders import feed, pilot_in_canary

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("metric", ["ttft_p50", "ttft_p95", "ttft_p99", "ttft_p999"])
def test_ttft_quantile_criteria_from_p50_to_p999_are_accepted_and_judged(
    metric: str, pm: Any, pilot_team: Any, approver: Any, client_for: Any
) -> None:
    # §3: "Latency quantiles (p50..p99.9, e2e and TTFT)".
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    # 24 hours of 5000 requests each side: enough even for p99.9 (10,000).
    feed(pilot.candidate_backend, scale=1.5)
    feed(pilot.baseline_backend)
    created = client_for(pm).post(
        f"/api/v1/phases/{phase.pk}/exit-criteria/",
        {"metric": metric, "comparison": "relative", "direction": "at_most", "threshold": "1.1"},
        format="json",
    )
    assert created.status_code == 201, created.content
    review = client_for(pilot_team).post(
        f"/api/v1/pilots/{pilot.pk}/reviews/",
        {"phase": phase.pk, "recommendation": "go"},
        format="json",
    )
    assert review.status_code == 201, review.content
    (criterion,) = review.json()["evidence"]["criteria"]
    assert criterion["metric"] == metric
    # Every hour has the same shape, 1.5 x slower: the ratio is 1.5 throughout.
    assert criterion["ratio"] == pytest.approx(1.5, rel=0.05)
    assert criterion["verdict"] == "fail"
    assert "histogram_quantile" in criterion["method"]


@pytest.mark.parametrize("comparison, threshold", [("absolute", "0.01"), ("relative", "1.0")])
def test_more_errors_than_requests_is_insufficient_data_not_a_server_error(
    comparison: str, threshold: str, pm: Any, pilot_team: Any, approver: Any, client_for: Any
) -> None:
    # §3 verdicts are pass, marginal, fail or insufficient_data; §7 no 5xx.
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    feed(pilot.candidate_backend, error_rate=1.5)  # an errors counter that overcounts
    feed(pilot.baseline_backend)
    client_for(pm).post(
        f"/api/v1/phases/{phase.pk}/exit-criteria/",
        {
            "metric": "error_rate",
            "comparison": comparison,
            "direction": "at_most",
            "threshold": threshold,
        },
        format="json",
    )
    client = client_for(pilot_team)
    client.raise_request_exception = False
    review = client.post(
        f"/api/v1/pilots/{pilot.pk}/reviews/",
        {"phase": phase.pk, "recommendation": "go"},
        format="json",
    )
    assert review.status_code == 201, review.content
    (criterion,) = review.json()["evidence"]["criteria"]
    assert criterion["verdict"] == "insufficient_data"
    assert "errors in" in criterion["reason"]
    assert criterion["ci_low"] is None and criterion["ci_high"] is None


def _open_review(canary: Any, client_for: Any, pilot_team: Any) -> int:
    response = client_for(pilot_team).post(
        canary.url, {"phase": canary.phase.pk, "recommendation": "go"}, format="json"
    )
    assert response.status_code == 201, response.content
    review_id: int = response.json()["id"]
    return review_id


@pytest.mark.parametrize("body", [{}, {"decision": "maybe"}, {"decision": "rejected"}])
def test_everyone_but_the_accountable_gets_403_on_decision_whatever_the_body(
    body: dict[str, Any],
    canary: Any,
    client_for: Any,
    pilot_team: Any,
    admin_user: Any,
    pm: Any,
    finance: Any,
    approver: Any,
) -> None:
    # §4: "only by the user holding the A ... (everyone else 403, admins included)".
    review_id = _open_review(canary, client_for, pilot_team)
    url = f"/api/v1/reviews/{review_id}/decision/"
    for user in (admin_user, pm, pilot_team, finance):
        response = client_for(user).post(url, body, format="json")
        assert response.status_code == 403, (user.username, response.content)
        assert response.json()["error"]["code"] == "permission_denied"
    # The A with the same bodies: judged on the body.
    answer = client_for(approver).post(url, body, format="json")
    assert answer.status_code == (200 if body.get("decision") == "rejected" else 400)


@pytest.mark.parametrize("body", [{}, {"text": "not in the window"}])
def test_only_consulted_holders_object_whatever_the_body(
    body: dict[str, Any],
    canary: Any,
    client_for: Any,
    pilot_team: Any,
    pm: Any,
    approver: Any,
    finance: Any,
) -> None:
    # §4: "Holders of C may lodge objections".
    review_id = _open_review(canary, client_for, pilot_team)
    url = f"/api/v1/reviews/{review_id}/objections/"
    for user in (pm, pilot_team, approver):
        response = client_for(user).post(url, body, format="json")
        assert response.status_code == 403, (user.username, response.content)
    answer = client_for(finance).post(url, body, format="json")
    assert answer.status_code == (201 if body else 400)
