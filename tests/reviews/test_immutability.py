"""A decided review never changes (model guard and database trigger), and
two decisions at once: exactly one wins."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction

from pilots.models import Phase
from reviews.models import DecidedReviewError, Review
from reviews.services import ReviewConflict, review_decide, review_submit
from tests.reviews.builders import pilot_in_canary

trigger_migration = importlib.import_module("reviews.migrations.0002_decided_review_immutable")


def _create_trigger() -> None:
    # The test database is built without migrations: install the trigger
    # the migration installs (SQLite's schema editor cannot run inside the
    # test's transaction, so its SQL goes through a cursor there).
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(trigger_migration.SQLITE_CREATE)
        return
    with connection.schema_editor() as editor:
        trigger_migration.create(None, editor)


def _decided(pilot_team: Any, approver: Any) -> Review:
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    review = review_submit(pilot=pilot, actor=pilot_team, phase=phase, recommendation="go")
    return review_decide(review=review, actor=approver, decision="rejected", rationale="no")


@pytest.mark.django_db
def test_the_model_refuses_to_save_a_decided_review(pilot_team: Any, approver: Any) -> None:
    review = Review.objects.get(pk=_decided(pilot_team, approver).pk)
    review.notes = "rewritten history"
    with pytest.raises(DecidedReviewError):
        review.save()
    with pytest.raises(DecidedReviewError):
        review.delete()
    assert Review.objects.get(pk=review.pk).notes == ""


@pytest.mark.django_db
def test_an_open_review_may_still_be_saved(pilot_team: Any, approver: Any) -> None:
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    review = review_submit(pilot=pilot, actor=pilot_team, phase=phase, recommendation="go")
    review.notes = "typo fixed before the decision"
    review.save()
    assert Review.objects.get(pk=review.pk).notes == "typo fixed before the decision"


@pytest.mark.django_db
def test_sqlite_trigger_refuses_an_update_of_a_decided_review(
    pilot_team: Any, approver: Any
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL trigger has its own test")
    _create_trigger()
    review = _decided(pilot_team, approver)
    with pytest.raises(DatabaseError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(notes="bypassing save()")
    assert Review.objects.get(pk=review.pk).notes == ""


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_trigger_refuses_an_update_of_a_decided_review(
    pilot_team: Any, approver: Any
) -> None:
    _create_trigger()
    review = _decided(pilot_team, approver)
    with pytest.raises(DatabaseError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(status="approved")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reviews_review SET notes = 'raw' WHERE id = %s", [review.pk])
    assert Review.objects.get(pk=review.pk).status == Review.Status.REJECTED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_once_exactly_one_wins(pilot_team: Any, approver: Any) -> None:
    _create_trigger()
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    review = review_submit(pilot=pilot, actor=pilot_team, phase=phase, recommendation="go")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(decision: str) -> None:
        try:
            barrier.wait(timeout=10)
            review_decide(
                review=Review.objects.get(pk=review.pk),
                actor=approver,
                decision=decision,
                override_reason="race",
            )
            outcomes.append("won")
        except ReviewConflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("approved", "rejected")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "won"]
    decided = Review.objects.get(pk=review.pk)
    phase.refresh_from_db()
    if decided.status == Review.Status.APPROVED:
        assert phase.status == Phase.Status.PASSED
    else:
        assert phase.status == Phase.Status.ACTIVE
    from portal.models import ChangeRecord

    assert (
        ChangeRecord.objects.filter(object_id=str(review.pk), message__startswith="review ").count()
        == 1
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_once_through_the_api_one_is_409(
    pilot_team: Any, approver: Any, client_for: Any
) -> None:
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    review = review_submit(pilot=pilot, actor=pilot_team, phase=phase, recommendation="go")
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def decide(decision: str) -> None:
        try:
            client = client_for(approver)
            barrier.wait(timeout=10)
            response = client.post(
                f"/api/v1/reviews/{review.pk}/decision/",
                {"decision": decision, "override_reason": "race"},
                format="json",
            )
            codes.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("approved", "rejected")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200, 409]
