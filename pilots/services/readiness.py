"""The readiness checklist (the seed's section 10.1) and its recommendation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from pilots.models import Pilot, ReadinessAnswer
from pilots.services._common import DomainError, audit_create, audit_update
from portal.audit import Actor, acting_user, snapshot

# "Pilot" when most of the five answers are yes (DESIGN.md).
YES_NEEDED = 3


@transaction.atomic
def readiness_answer(
    *, pilot: Pilot, actor: Actor, question: str, answer: str, evidence: str = ""
) -> ReadinessAnswer:
    """Answer one readiness question (yes/no/unknown) with an evidence note."""
    if question not in ReadinessAnswer.Question.values:
        raise DomainError({"question": f"{question!r} is not a readiness question."})
    row = ReadinessAnswer.objects.select_for_update().filter(pilot=pilot, question=question).first()
    if row is None:
        # Pilots created before the checklist existed have no row yet.
        row = ReadinessAnswer(pilot=pilot, question=question)
        before = None
    else:
        before = snapshot(row)
    if before is not None and before["answer"] == answer and before["evidence"] == evidence:
        return row
    row.answer = answer
    row.evidence = evidence
    row.answered_by = acting_user(actor)
    row.answered_at = timezone.now()
    row.full_clean()
    row.save()
    if before is None:
        audit_create(actor=actor, instance=row, pilot=pilot)
    else:
        audit_update(actor=actor, instance=row, pilot=pilot, before=before)
    return row


@dataclass(frozen=True)
class Recommendation:
    yes: int
    no: int
    unknown: int
    total: int

    @property
    def recommend_pilot(self) -> bool:
        return self.yes >= YES_NEEDED

    @property
    def counts(self) -> str:
        """The tally without the verdict, for pages that show it as a badge."""
        return (
            f"{self.yes} of {self.total} answered yes, {self.no} no, "
            f"{self.unknown} unknown (pilot when at least {YES_NEEDED} are yes)."
        )

    @property
    def summary(self) -> str:
        verdict = "Pilot" if self.recommend_pilot else "Not yet"
        return f"{verdict}: {self.counts}"


def readiness_recommendation(answers: Iterable[ReadinessAnswer]) -> Recommendation:
    """Count the answers; a missing question counts as unknown."""
    by_question = {a.question: a.answer for a in answers}
    values = [
        by_question.get(q, ReadinessAnswer.Answer.UNKNOWN) for q in ReadinessAnswer.Question.values
    ]
    return Recommendation(
        yes=values.count(ReadinessAnswer.Answer.YES),
        no=values.count(ReadinessAnswer.Answer.NO),
        unknown=values.count(ReadinessAnswer.Answer.UNKNOWN),
        total=len(values),
    )


@transaction.atomic
def readiness_save(
    *, pilot: Pilot, actor: Actor, answers: Iterable[tuple[str, str, str]]
) -> list[ReadinessAnswer]:
    """Answer several questions at once, all or nothing:
    ``(question, answer, evidence)`` triples."""
    return [
        readiness_answer(pilot=pilot, actor=actor, question=q, answer=a, evidence=e)
        for q, a, e in answers
    ]
