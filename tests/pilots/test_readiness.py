"""Readiness checklist: answers are recorded, the recommendation counts."""

import pytest

from pilots import services
from pilots.models import ReadinessAnswer
from pilots.services import DomainError
from portal.models import ChangeRecord
from tests.factories import PilotFactory, ReadinessAnswerFactory, UserFactory

pytestmark = pytest.mark.django_db
Q = ReadinessAnswer.Question


def answers(*values):
    return [ReadinessAnswer(question=q, answer=v) for q, v in zip(Q.values, values, strict=False)]


def test_recommends_pilot_with_three_yes():
    rec = services.readiness_recommendation(answers("yes", "yes", "yes", "no", "unknown"))
    assert rec.recommend_pilot
    assert (rec.yes, rec.no, rec.unknown) == (3, 1, 1)
    assert rec.summary.startswith("Pilot: 3 of 5 answered yes, 1 no, 1 unknown")


def test_does_not_recommend_with_two_yes_and_says_how_many_are_unknown():
    rec = services.readiness_recommendation(answers("yes", "yes", "unknown", "unknown", "no"))
    assert not rec.recommend_pilot
    assert "2 unknown" in rec.summary
    assert rec.summary.startswith("Not yet")


def test_missing_questions_count_as_unknown():
    rec = services.readiness_recommendation(answers("yes", "yes", "yes"))
    assert (rec.yes, rec.unknown, rec.total) == (3, 2, 5)


def test_answer_records_who_and_old_new_values():
    actor = UserFactory.create()
    pilot = PilotFactory.create()
    ReadinessAnswerFactory.create(pilot=pilot, question=Q.STEADY_QPS)
    row = services.readiness_answer(
        pilot=pilot, actor=actor, question=Q.STEADY_QPS, answer="yes", evidence="2k qps"
    )
    assert row.answered_by == actor
    assert row.answered_at is not None
    record = ChangeRecord.objects.get(scope=pilot.scope)
    assert record.changes["answer"] == ["unknown", "yes"]
    assert record.changes["evidence"] == ["", "2k qps"]


def test_same_answer_twice_records_nothing_new():
    actor = UserFactory.create()
    pilot = PilotFactory.create()
    services.readiness_answer(pilot=pilot, actor=actor, question=Q.VENDOR_SLAS, answer="no")
    services.readiness_answer(pilot=pilot, actor=actor, question=Q.VENDOR_SLAS, answer="no")
    assert ChangeRecord.objects.filter(scope=pilot.scope).count() == 1


def test_rejects_unknown_question_and_bad_answer():
    pilot = PilotFactory.create()
    with pytest.raises(DomainError, match="not a readiness question"):
        services.readiness_answer(pilot=pilot, actor=None, question="vibes", answer="yes")
    with pytest.raises(Exception, match="not a valid choice"):
        services.readiness_answer(pilot=pilot, actor=None, question=Q.MODEL_FITS, answer="maybe")
    assert not ReadinessAnswer.objects.exists()


def test_readiness_save_is_all_or_nothing():
    pilot = PilotFactory.create()
    with pytest.raises(Exception, match="not a valid choice"):
        services.readiness_save(
            pilot=pilot,
            actor=None,
            answers=[(Q.STEADY_QPS, "yes", ""), (Q.MODEL_FITS, "maybe", "")],
        )
    assert not ReadinessAnswer.objects.exists()
