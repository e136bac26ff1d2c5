"""The review flow through the API as the personas: submit, object, decide,
and what each may not do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from pilots.models import ExitCriterion, Phase, Pilot
from portal.models import ChangeRecord, Notification
from reviews.models import Review
from tests.factories import ExitCriterionFactory

pytestmark = pytest.mark.django_db

CRITERION_FIELDS = {
    "metric",
    "comparison",
    "direction",
    "threshold",
    "candidate",
    "baseline",
    "ratio",
    "ci_low",
    "ci_high",
    "candidate_n",
    "baseline_n",
    "method",
    "verdict",
    "reason",
}


def _criteria(phase: Phase) -> None:
    ExitCriterionFactory(phase=phase)  # e2e p99 relative at most 1.0
    ExitCriterionFactory(
        phase=phase,
        metric=ExitCriterion.Metric.ERROR_RATE,
        comparison=ExitCriterion.Comparison.ABSOLUTE,
        threshold=Decimal("0.001"),
    )


def _submit(client: Any, canary: Any, **body: Any) -> Any:
    payload = {"phase": canary.phase.pk, "recommendation": "go", "notes": "canary done", **body}
    return client.post(canary.url, payload, format="json")


def test_team_submits_consulted_objects_accountable_decides_and_the_phase_moves_on(
    canary: Any, client_for: Any, pilot_team: Any, finance: Any, approver: Any
) -> None:
    _criteria(canary.phase)
    response = _submit(client_for(pilot_team), canary)
    assert response.status_code == 201, response.content
    review = response.json()
    evidence = review["evidence"]
    assert {"verdict", "score", "window_start", "window_end", "criteria", "red_flags"} <= set(
        evidence
    )
    assert [c["metric"] for c in evidence["criteria"]] == ["e2e_latency_p99", "error_rate"]
    assert all(set(c) >= CRITERION_FIELDS for c in evidence["criteria"])
    assert evidence["verdict"] == "pass"
    assert review["status"] == "open" and review["decision"] is None
    assert Notification.objects.filter(key=f"review:{review['id']}:submitted").exists()

    objection = client_for(finance).post(
        f"/api/v1/reviews/{review['id']}/objections/", {"text": "p99.9?"}, format="json"
    )
    assert objection.status_code == 201, objection.content
    objection_id = objection.json()["id"]
    assert Notification.objects.filter(key=f"objection:{objection_id}:lodged").exists()

    blocked = client_for(approver).post(
        f"/api/v1/reviews/{review['id']}/decision/", {"decision": "approved"}, format="json"
    )
    assert blocked.status_code == 409
    assert f"#{objection_id}" in blocked.json()["error"]["message"]

    resolved = client_for(finance).post(
        f"/api/v1/objections/{objection_id}/resolve/", {"note": "fine after all"}, format="json"
    )
    assert resolved.status_code == 200 and resolved.json()["resolution"] == "fine after all"

    decided = client_for(approver).post(
        f"/api/v1/reviews/{review['id']}/decision/",
        {"decision": "approved", "rationale": "tails are fine"},
        format="json",
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["decision"] == "approved"
    assert decided.json()["decided_by"] == approver.username
    canary.phase.refresh_from_db()
    canary.following.refresh_from_db()
    assert canary.phase.status == Phase.Status.PASSED
    assert canary.following.status == Phase.Status.ACTIVE
    assert Notification.objects.get(key=f"review:{review['id']}:decided").recipients == [
        pilot_team.email,
        # procurement is Informed
        "proc@example.com",
    ] or set(Notification.objects.get(key=f"review:{review['id']}:decided").recipients) == {
        pilot_team.email,
        "proc@example.com",
    }
    assert ChangeRecord.objects.filter(
        scope=f"pilot:{canary.pilot.pk}", message="review approved"
    ).exists()


def test_approving_the_last_phase_completes_the_pilot(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any
) -> None:
    canary.following.delete()
    response = _submit(client_for(pilot_team), canary)
    review_id = response.json()["id"]
    client_for(approver).post(
        f"/api/v1/reviews/{review_id}/decision/",
        {"decision": "approved", "override_reason": "no criteria"},
        format="json",
    )
    canary.pilot.refresh_from_db()
    assert canary.pilot.status == Pilot.Status.COMPLETED


def test_approved_no_go_fails_the_phase_and_stops_the_pilot(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any
) -> None:
    _criteria(canary.phase)
    review_id = _submit(client_for(pilot_team), canary, recommendation="no_go").json()["id"]
    response = client_for(approver).post(
        f"/api/v1/reviews/{review_id}/decision/", {"decision": "approved"}, format="json"
    )
    assert response.status_code == 200
    canary.phase.refresh_from_db()
    canary.pilot.refresh_from_db()
    assert canary.phase.status == Phase.Status.FAILED
    assert canary.pilot.status == Pilot.Status.STOPPED


def test_approved_extend_moves_the_planned_end(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any
) -> None:
    _criteria(canary.phase)
    new_end = canary.phase.planned_end + dt.timedelta(weeks=2)
    response = _submit(
        client_for(pilot_team), canary, recommendation="extend", proposed_end=new_end.isoformat()
    )
    assert response.status_code == 201, response.content
    client_for(approver).post(
        f"/api/v1/reviews/{response.json()['id']}/decision/",
        {"decision": "approved"},
        format="json",
    )
    canary.phase.refresh_from_db()
    assert canary.phase.planned_end == new_end
    assert canary.phase.status == Phase.Status.ACTIVE


def test_rejected_leaves_the_phase_active(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any
) -> None:
    review_id = _submit(client_for(pilot_team), canary).json()["id"]
    response = client_for(approver).post(
        f"/api/v1/reviews/{review_id}/decision/",
        {"decision": "rejected", "rationale": "not yet"},
        format="json",
    )
    assert response.status_code == 200
    canary.phase.refresh_from_db()
    assert canary.phase.status == Phase.Status.ACTIVE
    # A new review may follow the decided one.
    assert _submit(client_for(pilot_team), canary).status_code == 201


def test_proposed_end_only_for_extend(canary: Any, client_for: Any, pilot_team: Any) -> None:
    client = client_for(pilot_team)
    later = (canary.phase.planned_end + dt.timedelta(days=7)).isoformat()
    go = _submit(client, canary, proposed_end=later)
    assert go.status_code == 400 and "proposed_end" in go.json()["error"]["fields"]
    extend = _submit(client, canary, recommendation="extend")
    assert extend.status_code == 400 and "proposed_end" in extend.json()["error"]["fields"]


def test_a_phase_that_is_not_active_is_refused(
    canary: Any, client_for: Any, pilot_team: Any
) -> None:
    response = client_for(pilot_team).post(
        canary.url, {"phase": canary.following.pk, "recommendation": "go"}, format="json"
    )
    assert response.status_code == 400
    assert "phase" in response.json()["error"]["fields"]


def test_second_open_review_of_a_phase_is_409_naming_the_open_one(
    canary: Any, client_for: Any, pilot_team: Any, pm: Any
) -> None:
    first = _submit(client_for(pilot_team), canary).json()["id"]
    second = _submit(client_for(pm), canary)
    assert second.status_code == 409
    assert f"#{first}" in second.json()["error"]["message"]
    assert Review.objects.count() == 1


def test_who_may_submit_and_read(
    canary: Any, client_for: Any, make_user: Any, pm: Any, outsider: Any, finance: Any
) -> None:
    stranger_team = make_user("team-2", "pilot_team")
    assert _submit(client_for(outsider), canary).status_code == 404
    assert _submit(client_for(stranger_team), canary).status_code == 403
    # Consulted may submit; so may a PM without any letter.
    review_id = _submit(client_for(finance), canary).json()["id"]
    detail = f"/api/v1/reviews/{review_id}/"
    assert client_for(pm).get(detail).status_code == 200
    assert client_for(stranger_team).get(detail).status_code == 403
    assert client_for(outsider).get(detail).status_code == 404
    assert client_for(outsider).get("/api/v1/reviews/999999/").status_code == 404


def test_only_the_accountable_decides_admins_included(
    canary: Any, client_for: Any, pilot_team: Any, admin_user: Any, pm: Any
) -> None:
    review_id = _submit(client_for(pilot_team), canary).json()["id"]
    url = f"/api/v1/reviews/{review_id}/decision/"
    for user in (admin_user, pm, pilot_team):
        response = client_for(user).post(url, {"decision": "rejected"}, format="json")
        assert response.status_code == 403, user.username
    assert Review.objects.get(pk=review_id).status == Review.Status.OPEN


def test_approving_a_failing_verdict_needs_an_override_reason(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any
) -> None:
    ExitCriterionFactory(
        phase=canary.phase,
        metric=ExitCriterion.Metric.THROTTLE_EVENTS,
        comparison=ExitCriterion.Comparison.ABSOLUTE,
        threshold=Decimal("0"),
    )
    ExitCriterionFactory(
        phase=canary.phase,
        metric=ExitCriterion.Metric.COST_PER_1M_TOKENS,
        comparison=ExitCriterion.Comparison.RELATIVE,
        threshold=Decimal("0.9"),
    )
    review = _submit(client_for(pilot_team), canary).json()
    cost = next(c for c in review["evidence"]["criteria"] if c["metric"] == "cost_per_1m_tokens")
    assert cost["verdict"] == "insufficient_data"
    assert review["evidence"]["verdict"] == "insufficient_data"
    url = f"/api/v1/reviews/{review['id']}/decision/"
    refused = client_for(approver).post(url, {"decision": "approved"}, format="json")
    assert refused.status_code == 400
    assert "override_reason" in refused.json()["error"]["fields"]
    ok = client_for(approver).post(
        url, {"decision": "approved", "override_reason": "cost data next month"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["override_reason"] == "cost data next month"


def test_a_decided_review_answers_405_to_put_patch_delete(
    canary: Any, client_for: Any, pilot_team: Any, approver: Any, pm: Any
) -> None:
    review_id = _submit(client_for(pilot_team), canary).json()["id"]
    client_for(approver).post(
        f"/api/v1/reviews/{review_id}/decision/", {"decision": "rejected"}, format="json"
    )
    client = client_for(pm)
    url = f"/api/v1/reviews/{review_id}/"
    assert client.put(url, {"notes": "x"}, format="json").status_code == 405
    assert client.patch(url, {"notes": "x"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    again = client_for(approver).post(
        f"/api/v1/reviews/{review_id}/decision/", {"decision": "approved"}, format="json"
    )
    assert again.status_code == 409


def test_idempotency_key_replays_the_first_response(
    canary: Any, client_for: Any, pilot_team: Any
) -> None:
    client = client_for(pilot_team)
    body = {"phase": canary.phase.pk, "recommendation": "go", "notes": "retry me"}
    first = client.post(canary.url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(canary.url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Review.objects.count() == 1
    other = client.post(
        canary.url, {**body, "notes": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # Without a key the second submission is the 409 of a second open review.
    assert client.post(canary.url, body, format="json").status_code == 409


def test_the_error_answer_is_replayed_too(canary: Any, client_for: Any, pilot_team: Any) -> None:
    client = client_for(pilot_team)
    body = {"phase": canary.following.pk, "recommendation": "go"}
    first = client.post(canary.url, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    again = client.post(canary.url, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == again.status_code == 400
    assert first.json() == again.json()


def test_the_schema_documents_the_endpoints_and_the_idempotency_header(
    client_for: Any, pm: Any
) -> None:
    response = client_for(pm).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    submit = paths["/api/v1/pilots/{pilot_id}/reviews/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in submit["parameters"])
    assert "examples" in submit["requestBody"]["content"]["application/json"]
    for path in (
        "/api/v1/reviews/{id}/",
        "/api/v1/reviews/{id}/decision/",
        "/api/v1/reviews/{id}/objections/",
        "/api/v1/objections/{id}/resolve/",
    ):
        assert path in paths
