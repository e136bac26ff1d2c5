"""Creating and editing pilots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from pilots.models import Backend, Phase, Pilot, RaciActivity, ReadinessAnswer
from pilots.services._common import DomainError, audit_create, audit_update
from pilots.signals import send_vendor_data_changed
from portal.audit import Actor, acting_user, snapshot

# The built-in RACI activities every pilot starts with (DESIGN.md, "RACI").
DEFAULT_ACTIVITIES: tuple[RaciActivity.Key, ...] = (
    RaciActivity.Key.RUNTIME,
    RaciActivity.Key.SLO,
    RaciActivity.Key.VALIDATION,
    RaciActivity.Key.VENDOR,
    RaciActivity.Key.GO_NO_GO,
)

PILOT_EDITABLE_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "model_name",
        "description",
        "candidate_backend",
        "baseline_backend",
        "team",
        "cost_center",
        "traffic_slice",
        "target_start",
        "target_end",
    }
)

# Once a phase has run, its evidence was measured on these backends: moving
# the pilot to others would make that evidence about something else.
BACKEND_FIELDS: tuple[str, ...] = ("candidate_backend", "baseline_backend")
_RUN_PHASE_STATUSES = (Phase.Status.ACTIVE, Phase.Status.PASSED, Phase.Status.FAILED)


def backends_locked(pilot: Pilot) -> bool:
    """Whether the pilot's candidate and baseline are fixed: a phase of it is
    active or finished (passed or failed)."""
    return pilot.phases.filter(status__in=_RUN_PHASE_STATUSES).exists()


@transaction.atomic
def pilot_create(
    *,
    actor: Actor,
    name: str,
    model_name: str,
    candidate_backend: Backend,
    baseline_backend: Backend,
    team: str,
    cost_center: str,
    target_start: dt.date,
    target_end: dt.date,
    traffic_slice: str = "",
    description: str = "",
) -> Pilot:
    """A draft pilot with the five default RACI activities and the five
    readiness questions, unanswered."""
    pilot = Pilot(
        name=name,
        model_name=model_name,
        description=description,
        candidate_backend=candidate_backend,
        baseline_backend=baseline_backend,
        team=team,
        # The code (Pilot.cost_center points at CostCenter.code); a form
        # may hand over the CostCenter itself.
        cost_center_id=getattr(cost_center, "code", cost_center),
        traffic_slice=traffic_slice,
        target_start=target_start,
        target_end=target_end,
        status=Pilot.Status.DRAFT,
        created_by=acting_user(actor),
    )
    pilot.full_clean()
    pilot.save()
    audit_create(actor=actor, instance=pilot, pilot=pilot)

    for order, key in enumerate(DEFAULT_ACTIVITIES, start=1):
        activity = RaciActivity(pilot=pilot, key=key, name=key.label, order=order)
        activity.full_clean()
        activity.save()
        audit_create(actor=actor, instance=activity, pilot=pilot)

    for question in ReadinessAnswer.Question:
        answer = ReadinessAnswer(pilot=pilot, question=question)
        answer.full_clean()
        answer.save()
        audit_create(actor=actor, instance=answer, pilot=pilot)
    # Its red flags: what its candidate backend shows during its target dates.
    send_vendor_data_changed(backend_ids=[pilot.candidate_backend_id], sender=Pilot)
    return pilot


@transaction.atomic
def pilot_update(*, pilot: Pilot, actor: Actor, data: Mapping[str, Any]) -> Pilot:
    """Change the descriptive fields of a pilot. Status moves only through
    phase transitions, so it is not accepted here; the candidate and baseline
    backends are fixed once a phase has run (``backends_locked``)."""
    unknown = set(data) - PILOT_EDITABLE_FIELDS
    if unknown:
        raise DomainError(
            f"These pilot fields cannot be edited here: {', '.join(sorted(unknown))}."
        )
    # Re-read under a lock: the caller's copy may predate a phase transition.
    pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
    if pilot.is_closed:
        raise DomainError(
            f"{pilot.name} is {pilot.get_status_display().lower()}; it can no longer be edited."
        )
    changed_backends = [
        name
        for name in BACKEND_FIELDS
        if name in data and getattr(data[name], "pk", data[name]) != getattr(pilot, f"{name}_id")
    ]
    if changed_backends and backends_locked(pilot):
        raise DomainError(
            {
                name: (
                    f"The {name.split('_')[0]} backend cannot change: a phase of this pilot "
                    f"has run on it, and its evidence belongs to it."
                )
                for name in changed_backends
            }
        )
    before = snapshot(pilot)
    old_candidate = pilot.candidate_backend_id
    for field, value in data.items():
        if field == "cost_center":
            pilot.cost_center_id = getattr(value, "code", value)
            continue
        setattr(pilot, field, value)
    pilot.full_clean()
    pilot.save()
    audit_update(actor=actor, instance=pilot, pilot=pilot, before=before)
    # A new candidate backend or target dates change what its red flags are about.
    send_vendor_data_changed(backend_ids=[old_candidate, pilot.candidate_backend_id], sender=Pilot)
    return pilot
