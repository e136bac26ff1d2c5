"""Go/no-go reviews: submit (with frozen evidence), decide, object, resolve.

Who may (issue 11, §2 and §4): holders of R or C in the pilot's RACI and
program managers submit; Consulted people object; only the holder of the A
of the go/no-go decision decides (admins included in "everyone else": they
may reassign the A, not decide). An approved review moves the phase through
the phase services; nothing else does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from pilots import services as pilot_services
from pilots.models import Phase, Pilot, RaciActivity, RaciAssignment
from portal.audit import Actor, acting_user
from portal.models import ChangeRecord
from portal.notifications import notify
from portal.roles import Role, has_role
from reviews import evidence
from reviews.models import Objection, Review
from reviews.services._common import ReviewConflict, ReviewError, ReviewForbidden, audit, fields_of
from reviews.services.evidence import evidence_seed, evidence_snapshot
from reviews.services.webhooks import webhook_dispatch

__all__ = [
    "letters_in",
    "may_decide_review",
    "may_object",
    "may_read_review",
    "may_submit_review",
    "objection_lodge",
    "objection_resolve",
    "review_decide",
    "review_submit",
]

_L = RaciAssignment.Letter
OVERRIDE_VERDICTS = frozenset({Review.Verdict.FAIL, Review.Verdict.INSUFFICIENT_DATA})
EVENT_NAMESPACE = uuid.UUID("6f1c1c7e-3d0e-4f57-9a43-58b7f0d7c001")


def letters_in(user: Any, pilot: Pilot) -> frozenset[str]:
    """The RACI letters ``user`` holds in any activity of the pilot."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(
        RaciAssignment.objects.filter(activity__pilot=pilot, user=user).values_list(
            "letter", flat=True
        )
    )


def _is_pm(user: Any) -> bool:
    return has_role(user, Role.PROGRAM_MANAGER)


def may_submit_review(user: Any, pilot: Pilot) -> bool:
    """R or C in the pilot's RACI, or a program manager."""
    return _is_pm(user) or bool(letters_in(user, pilot) & {_L.RESPONSIBLE, _L.CONSULTED})


def may_decide_review(user: Any, pilot: Pilot) -> bool:
    """The holder of the A of the pilot's go/no-go decision, nobody else."""
    accountable = pilot_services.accountable_for(pilot)
    return accountable is not None and getattr(user, "pk", None) == accountable.pk


def may_object(user: Any, pilot: Pilot) -> bool:
    """Holders of C in the pilot's RACI."""
    return _L.CONSULTED in letters_in(user, pilot)


def may_read_review(user: Any, pilot: Pilot) -> bool:
    """Those who may submit, and the pilot's A and I holders (the A decides,
    the Informed are told of the decision)."""
    return _is_pm(user) or bool(letters_in(user, pilot))


def _go_no_go_holders(pilot: Pilot, *letters: str) -> list[User]:
    return [
        a.user
        for a in RaciAssignment.objects.filter(
            activity__pilot=pilot, activity__key=RaciActivity.Key.GO_NO_GO, letter__in=letters
        ).select_related("user")
    ]


def _event(
    *, pilot: Pilot, key: str, event: str, recipients: list[Any], template: str, context: Any
) -> None:
    """The email (notify, once per key) and the webhooks of one event, with
    one id the receivers de-duplicate on."""
    notification = notify(
        key=key, kind=event, recipients=recipients, template=template, context=context
    )
    event_id = notification.uuid if notification is not None else uuid.uuid5(EVENT_NAMESPACE, key)
    data = {k: v for k, v in context.items() if isinstance(v, (str, int, float, bool, type(None)))}
    webhook_dispatch(pilot_id=pilot.pk, event=event, event_id=event_id, data=data)


def _context(review: Review) -> dict[str, Any]:
    return {
        "review_id": review.pk,
        "pilot_name": review.pilot.name,
        "phase_label": review.phase.label,
        "recommendation": review.recommendation,
        "verdict": review.verdict,
        "score": review.score,
        "status": review.status,
        "submitted_by": review.submitted_by.get_username(),
        "notes": review.notes,
        "path": f"/reviews/{review.pk}/",
    }


@transaction.atomic
def review_submit(
    *,
    pilot: Pilot,
    actor: Actor,
    phase: Phase,
    recommendation: str,
    notes: str = "",
    proposed_end: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Review:
    """Submit a review of the pilot's active phase with its evidence.

    Raises ReviewForbidden (no R/C letter and not a PM), ReviewError (a bad
    field) or ReviewConflict (the phase has an open review, named)."""
    user = acting_user(actor)
    if user is None or not may_submit_review(user, pilot):
        raise ReviewForbidden(
            "Only holders of R or C in this pilot's RACI, and program managers, submit reviews."
        )
    # Lock the phase: two submissions at once would both see "no open review".
    phase_locked = Phase.objects.select_for_update().filter(pk=phase.pk, pilot=pilot).first()
    if phase_locked is None:
        raise ReviewError({"phase": ["This phase is not a phase of this pilot."]})
    phase = phase_locked
    if pilot.is_closed:
        raise ReviewError(f"{pilot.name} is {pilot.get_status_display().lower()}: no more reviews.")
    if phase.status != Phase.Status.ACTIVE:
        raise ReviewError(
            {"phase": [f"{phase.label} is {phase.get_status_display().lower()}, not active."]}
        )
    if recommendation not in Review.Recommendation.values:
        raise ReviewError({"recommendation": ["Choose go, no_go or extend."]})
    if recommendation == Review.Recommendation.EXTEND:
        if proposed_end is None:
            raise ReviewError({"proposed_end": ["An extend recommendation needs a proposed end."]})
        if proposed_end <= phase.planned_end:
            raise ReviewError(
                {
                    "proposed_end": [
                        f"The proposed end must be after the planned end "
                        f"{phase.planned_end.isoformat()}."
                    ]
                }
            )
    elif proposed_end is not None:
        raise ReviewError({"proposed_end": ["Only an extend recommendation proposes an end."]})
    open_review = Review.objects.filter(phase=phase, status=Review.Status.OPEN).first()
    if open_review is not None:
        raise ReviewConflict(
            f"{phase.label} already has an open review, #{open_review.pk}; "
            "it must be decided before another is submitted.",
            code="open_review",
            params={"review": open_review.pk},
        )

    submitted_at = at or timezone.now()
    assert phase.actual_start is not None  # an active phase has started
    start = phase.actual_start
    end = phase.actual_end or submitted_at
    seed = evidence_seed(pilot_id=pilot.pk, phase_id=phase.pk, submitted_at=submitted_at)
    snap = evidence_snapshot(pilot=pilot, phase=phase, start=start, end=end, seed=seed)
    result = evidence.evaluate(snap)
    review = Review(
        pilot=pilot,
        phase=phase,
        submitted_by=user,
        recommendation=recommendation,
        notes=notes,
        proposed_end=proposed_end,
        submitted_at=submitted_at,
        status=Review.Status.OPEN,
        seed=seed,
        snapshot=snap,
        evidence=result,
        verdict=result["verdict"],
        score=result["score"],
    )
    review.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError:
        # The partial unique index: another submission won the race.
        winner = Review.objects.filter(phase=phase, status=Review.Status.OPEN).first()
        raise ReviewConflict(
            f"{phase.label} already has an open review"
            + (f", #{winner.pk}." if winner is not None else "."),
            code="open_review",
            params={"review": winner.pk if winner is not None else None},
        ) from None
    audit(actor=user, instance=review, pilot_id=pilot.pk, action=ChangeRecord.Action.CREATE)
    _event(
        pilot=pilot,
        key=f"review:{review.pk}:submitted",
        event="review.submitted",
        recipients=[pilot_services.accountable_for(pilot)],
        template="review_submitted",
        context=_context(review),
    )
    return review


def _unresolved(review: Review) -> list[Objection]:
    return list(review.objections.filter(resolved_at__isnull=True).order_by("lodged_at", "id"))


@transaction.atomic
def review_decide(
    *,
    review: Review,
    actor: Actor,
    decision: str,
    rationale: str = "",
    override_reason: str = "",
) -> Review:
    """Approve or reject an open review; an approval moves the phase on.

    Only the A of the go/no-go decision decides (ReviewForbidden). A review
    decided meanwhile, or an unresolved objection before an approval, is a
    ReviewConflict; approving a fail or insufficient_data verdict without an
    override reason is a ReviewError."""
    user = acting_user(actor)
    pilot = Pilot.objects.get(pk=review.pilot_id)
    if user is None or not may_decide_review(user, pilot):
        raise ReviewForbidden(
            "Only the holder of the A for this pilot's go/no-go decision decides reviews."
        )
    if decision not in (Review.Status.APPROVED, Review.Status.REJECTED):
        raise ReviewError({"decision": ["Choose approved or rejected."]})
    # The race this lock prevents: two decisions at once. The second waits
    # here, then finds the review decided and gets a conflict.
    review = Review.objects.select_for_update().select_related("phase", "pilot").get(pk=review.pk)
    if review.is_decided:
        raise ReviewConflict(
            f"Review #{review.pk} was {review.status} already; a decided review never changes.",
            code="decided",
        )
    approving = decision == Review.Status.APPROVED
    if approving:
        blocking = _unresolved(review)
        if blocking:
            names = ", ".join(f"#{o.pk}" for o in blocking)
            raise ReviewConflict(
                f"Unresolved objection {names} blocks approval; resolve it first.",
                code="objection",
                params={"objection": blocking[0].pk},
            )
        if review.verdict in OVERRIDE_VERDICTS and not override_reason.strip():
            raise ReviewError(
                {
                    "override_reason": [
                        f"The evidence's verdict is {review.verdict}: approving needs an "
                        "override reason."
                    ]
                }
            )
    before = fields_of(review)
    now = timezone.now()
    review.status = decision
    review.decided_by = user
    review.decided_at = now
    review.rationale = rationale
    review.override_reason = override_reason.strip() if approving else override_reason
    review.full_clean(validate_constraints=False)
    # Saved while the stored row is still open: the guard and the trigger let
    # exactly this one write through.
    Review.objects.filter(pk=review.pk, status=Review.Status.OPEN).update(
        status=review.status,
        decided_by=user,
        decided_at=now,
        rationale=review.rationale,
        override_reason=review.override_reason,
    )
    audit(
        actor=user,
        instance=review,
        pilot_id=review.pilot_id,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        message=f"review {decision}",
    )
    if approving:
        _apply_decision(review, user, now)
    review.pilot.refresh_from_db()
    _event(
        pilot=review.pilot,
        key=f"review:{review.pk}:decided",
        event="review.decided",
        recipients=list(_go_no_go_holders(review.pilot, _L.RESPONSIBLE, _L.INFORMED)),
        template="review_decided",
        context={
            **_context(review),
            "decision": decision,
            "decided_by": user.get_username(),
            "rationale": rationale,
            "override_reason": review.override_reason,
            "phase_status": Phase.objects.get(pk=review.phase_id).status,
            "pilot_status": review.pilot.status,
        },
    )
    return review


def _apply_decision(review: Review, user: User, at: dt.datetime) -> None:
    """An approved review moves the phase through the phase services."""
    message = f"review #{review.pk} approved"
    phase = review.phase
    if review.recommendation == Review.Recommendation.GO:
        pilot_services.phase_pass(phase=phase, actor=user, at=at, message=message)
        phases = list(Phase.objects.filter(pilot_id=review.pilot_id).order_by("order"))
        following = pilot_services.next_startable_phase(phases)
        if following is not None:
            pilot_services.phase_start(phase=following, actor=user, at=at)
    elif review.recommendation == Review.Recommendation.NO_GO:
        pilot_services.phase_fail(phase=phase, actor=user, at=at, message=message)
    else:
        assert review.proposed_end is not None  # the model's constraint
        pilot_services.phase_extend(
            phase=phase, actor=user, planned_end=review.proposed_end, message=message
        )


@transaction.atomic
def objection_lodge(*, review: Review, actor: Actor, text: str) -> Objection:
    """A Consulted person objects to an open review; the A is told."""
    user = acting_user(actor)
    pilot = review.pilot
    if user is None or not may_object(user, pilot):
        raise ReviewForbidden("Only holders of C in this pilot's RACI lodge objections.")
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.is_decided:
        raise ReviewConflict(
            f"Review #{review.pk} is {review.status}: objections are lodged against open reviews.",
            code="decided",
        )
    if not text.strip():
        raise ReviewError({"text": ["Say what the objection is."]})
    objection = Objection(review=review, by=user, text=text.strip(), lodged_at=timezone.now())
    objection.full_clean()
    objection.save()
    audit(actor=user, instance=objection, pilot_id=pilot.pk, action=ChangeRecord.Action.CREATE)
    _event(
        pilot=pilot,
        key=f"objection:{objection.pk}:lodged",
        event="objection.lodged",
        recipients=[pilot_services.accountable_for(pilot)],
        template="review_objection",
        context={
            **_context(review),
            "objection_id": objection.pk,
            "objection_by": user.get_username(),
            "objection_text": objection.text,
        },
    )
    return objection


@transaction.atomic
def objection_resolve(*, objection: Objection, actor: Actor, note: str) -> Objection:
    """The objector or the A resolves an objection with a note."""
    user = acting_user(actor)
    objection = (
        Objection.objects.select_for_update().select_related("review__pilot").get(pk=objection.pk)
    )
    pilot = objection.review.pilot
    accountable = pilot_services.accountable_for(pilot)
    if user is None or (
        user.pk != objection.by_id and (accountable is None or accountable.pk != user.pk)
    ):
        raise ReviewForbidden("Only the objector or the go/no-go Accountable resolves it.")
    if objection.is_resolved:
        raise ReviewConflict(f"Objection #{objection.pk} is resolved already.", code="resolved")
    if objection.review.is_decided:
        raise ReviewConflict(
            f"Review #{objection.review_id} is decided; its objections stay as they were.",
            code="decided",
        )
    if not note.strip():
        raise ReviewError({"note": ["Say how the objection was resolved."]})
    before = fields_of(objection)
    objection.resolved_by = user
    objection.resolved_at = timezone.now()
    objection.resolution = note.strip()
    objection.full_clean()
    objection.save()
    audit(
        actor=user,
        instance=objection,
        pilot_id=pilot.pk,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        message="objection resolved",
    )
    webhook_dispatch(
        pilot_id=pilot.pk,
        event="objection.resolved",
        event_id=uuid.uuid5(EVENT_NAMESPACE, f"objection:{objection.pk}:resolved"),
        data={"objection_id": objection.pk, "review_id": objection.review_id},
    )
    return objection
