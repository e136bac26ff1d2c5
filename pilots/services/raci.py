"""The RACI matrix: activities per pilot and who holds R, A, C or I.

Rules (DESIGN.md): exactly one A per activity and at least one R, once the
activity has anyone assigned. The database holds "at most one A"; the rest
is checked here, for a whole activity at a time, because a matrix edited
cell by cell passes through states that break the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max

from pilots.models import Pilot, RaciActivity, RaciAssignment
from pilots.services._common import (
    DomainError,
    audit_create,
    audit_delete,
    audit_update,
    display_name,
)
from portal.audit import Actor, snapshot

_L = RaciAssignment.Letter


@transaction.atomic
def activity_add(*, pilot: Pilot, actor: Actor, name: str) -> RaciActivity:
    """A custom activity the PM adds, placed after the others."""
    highest = pilot.raci_activities.aggregate(m=Max("order"))["m"]
    activity = RaciActivity(
        pilot=pilot, key=RaciActivity.Key.CUSTOM, name=name.strip(), order=(highest or 0) + 1
    )
    activity.full_clean()
    activity.save()
    audit_create(actor=actor, instance=activity, pilot=pilot)
    return activity


@transaction.atomic
def activity_remove(*, activity: RaciActivity, actor: Actor) -> None:
    """Remove a custom activity and its letters. The built-in activities
    stay: the go/no-go decision's A decides reviews, and the others are the
    minimum every pilot answers for."""
    # Locked with the pilot, as raci_set_matrix locks the activities: a
    # matrix saved at the same moment must not write letters to a ghost.
    pilot = Pilot.objects.select_for_update().get(pk=activity.pilot_id)
    activity = RaciActivity.objects.select_for_update().get(pk=activity.pk)
    if pilot.is_closed:
        raise DomainError(
            f"Cannot remove {activity.name}: {pilot.name} is {pilot.get_status_display().lower()}."
        )
    if activity.key:
        raise DomainError(f"{activity.name} is a built-in activity; only custom ones are removed.")
    for assignment in activity.assignments.select_related("user"):
        audit_delete(actor=actor, instance=assignment, pilot=pilot, before=snapshot(assignment))
    audit_delete(actor=actor, instance=activity, pilot=pilot, before=snapshot(activity))
    activity.delete()


def _check_activity(
    activity: RaciActivity, letters: Mapping[int, str], users: Mapping[int, Any]
) -> list[str]:
    """The rule violations of one activity's intended letters (user id -> letter)."""
    if not letters:
        return []
    problems: list[str] = []
    accountable = sorted(
        (uid for uid, letter in letters.items() if letter == _L.ACCOUNTABLE),
        key=lambda uid: display_name(users[uid]),
    )
    if len(accountable) > 1:
        current = {a.user_id for a in activity.assignments.all() if a.letter == _L.ACCOUNTABLE}
        holder = next((uid for uid in accountable if uid in current), accountable[0])
        problems.append(
            f"{activity.name} already has an Accountable: {display_name(users[holder])}"
        )
    elif not accountable:
        problems.append(f"{activity.name} needs exactly one Accountable (A).")
    if not any(letter == _L.RESPONSIBLE for letter in letters.values()):
        problems.append(f"{activity.name} needs at least one Responsible (R).")
    return problems


@transaction.atomic
def raci_set_matrix(
    *,
    pilot: Pilot,
    actor: Actor,
    matrix: Mapping[int, Mapping[int, str | None]],
) -> None:
    """Set the letters of the pilot's activities: ``{activity_id: {user_id:
    letter or None}}``. Activities not in ``matrix`` keep their letters; for
    an activity that is, users not listed keep theirs and ``None`` or ``""``
    removes one. All or nothing: any broken rule raises a DomainError keyed
    by activity id (as a string), each message naming the activity."""
    activities = {
        a.pk: a for a in pilot.raci_activities.prefetch_related("assignments").select_for_update()
    }
    unknown = set(matrix) - set(activities)
    if unknown:
        raise DomainError("These activities do not belong to this pilot.")
    user_ids = {uid for cells in matrix.values() for uid in cells}
    for activity_id in matrix:
        user_ids.update(a.user_id for a in activities[activity_id].assignments.all())
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)}
    missing = user_ids - set(users)
    if missing:
        raise DomainError("Some people in the matrix do not exist.")

    errors: dict[str, list[str]] = {}
    plans: dict[int, dict[int, str]] = {}
    for activity_id, cells in matrix.items():
        activity = activities[activity_id]
        intended = {a.user_id: a.letter for a in activity.assignments.all()}
        for uid, letter in cells.items():
            if letter:
                if letter not in _L.values:
                    errors.setdefault(str(activity_id), []).append(
                        f"{activity.name}: {letter!r} is not one of R, A, C, I."
                    )
                    continue
                intended[uid] = letter
            else:
                intended.pop(uid, None)
        problems = _check_activity(activity, intended, users)
        if problems:
            errors.setdefault(str(activity_id), []).extend(problems)
        plans[activity_id] = intended
    if errors:
        raise DomainError(errors)

    for activity_id, intended in plans.items():
        _apply_letters(
            activity=activities[activity_id], intended=intended, pilot=pilot, actor=actor
        )


def _apply_letters(
    *, activity: RaciActivity, intended: Mapping[int, str], pilot: Pilot, actor: Actor
) -> None:
    current = {a.user_id: a for a in activity.assignments.all()}
    # Deletes and A-changes first: the database refuses a second A even for
    # the instant between handing the A from one person to another.
    for uid, assignment in current.items():
        if uid not in intended:
            audit_delete(actor=actor, instance=assignment, pilot=pilot, before=snapshot(assignment))
            assignment.delete()
        elif intended[uid] != assignment.letter and assignment.letter == _L.ACCOUNTABLE:
            _change_letter(assignment, intended[uid], pilot, actor)
    for uid, letter in intended.items():
        existing = current.get(uid)
        if existing is None:
            created = RaciAssignment(activity=activity, user_id=uid, letter=letter)
            created.full_clean()
            created.save()
            audit_create(actor=actor, instance=created, pilot=pilot)
        elif existing.letter != letter:
            _change_letter(existing, letter, pilot, actor)


def _change_letter(assignment: RaciAssignment, letter: str, pilot: Pilot, actor: Actor) -> None:
    before = snapshot(assignment)
    assignment.letter = letter
    assignment.full_clean()
    assignment.save()
    audit_update(actor=actor, instance=assignment, pilot=pilot, before=before)


def accountable_for(pilot: Pilot, key: str = RaciActivity.Key.GO_NO_GO) -> Any | None:
    """The user holding the A for the pilot's activity ``key`` (by default the
    go/no-go decision), or None."""
    assignment = (
        RaciAssignment.objects.filter(
            activity__pilot=pilot, activity__key=key, letter=_L.ACCOUNTABLE
        )
        .select_related("user")
        .first()
    )
    return assignment.user if assignment is not None else None
