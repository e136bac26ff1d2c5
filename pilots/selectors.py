"""Reads shared by pages and the API. Each keeps a constant number of
queries however many pilots there are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from pilots.models import CLOSED_PILOT_STATUSES, Backend, Phase, Pilot, RaciActivity
from portal.models import ChangeRecord
from portal.roles import ALL_ROLES

_S = Phase.Status


def _current_phase() -> QuerySet[Phase]:
    """A pilot's phases, the "current" one first: the active phase, else the
    failed one, else the next planned one, else the last one."""
    return (
        Phase.objects.filter(pilot=OuterRef("pk"))
        .annotate(
            rank=Case(
                When(status=_S.ACTIVE, then=Value(-100_000)),
                # A failed phase stopped the pilot: it is where the pilot stands.
                When(status=_S.FAILED, then=Value(-50_000)),
                When(status=_S.PLANNED, then=F("order")),
                default=Value(100_000) - F("order"),
                output_field=IntegerField(),
            )
        )
        .order_by("rank")
    )


def pilot_list() -> QuerySet[Pilot]:
    """Pilots with their backends joined and the current phase's kind, name,
    status and planned end annotated (one query for any number of pilots)."""
    current = _current_phase()
    kind_label = Case(
        *(When(kind=kind, then=Value(label)) for kind, label in Phase.Kind.choices),
        default=F("kind"),
        output_field=CharField(),
    )
    label = Case(When(name="", then=kind_label), default=F("name"), output_field=CharField())
    return Pilot.objects.select_related(
        "candidate_backend", "baseline_backend", "candidate_backend__vendor"
    ).annotate(
        current_phase_kind=Subquery(current.values("kind")[:1]),
        current_phase_label=Subquery(
            current.annotate(display_label=label).values("display_label")[:1]
        ),
        current_phase_status=Subquery(current.values("status")[:1]),
        current_phase_end=Subquery(current.values("planned_end")[:1]),
    )


def phase_kind_label(kind: str | None) -> str:
    return Phase.Kind(kind).label if kind else "Not planned"


@dataclass
class PhaseGroup:
    kind: str
    label: str
    pilots: list[Pilot] = field(default_factory=list)


@dataclass
class HomeDashboard:
    groups: list[PhaseGroup]
    ending_soon: list[Phase]
    overdue: list[Phase]
    closed_count: int
    today: dt.date


def home_dashboard(*, today: dt.date, horizon_days: int = 14) -> HomeDashboard:
    """Open pilots grouped by current phase, phases ending within
    ``horizon_days`` and phases past their planned end (3 queries)."""
    groups = {kind: PhaseGroup(kind, label) for kind, label in Phase.Kind.choices}
    groups[""] = PhaseGroup("", "Not planned")
    closed = 0
    for pilot in pilot_list():
        if pilot.is_closed:
            closed += 1
            continue
        groups[pilot.current_phase_kind or ""].pilots.append(pilot)  # type: ignore[attr-defined]
    running = Phase.objects.filter(status__in=[_S.PLANNED, _S.ACTIVE]).select_related("pilot")
    ending_soon = list(
        running.filter(
            planned_end__gte=today, planned_end__lte=today + dt.timedelta(days=horizon_days)
        )
        .exclude(pilot__status__in=CLOSED_PILOT_STATUSES)
        .order_by("planned_end", "pilot__name")
    )
    overdue = list(
        running.filter(planned_end__lt=today)
        .exclude(pilot__status__in=CLOSED_PILOT_STATUSES)
        .order_by("planned_end", "pilot__name")
    )
    return HomeDashboard(
        groups=[g for g in groups.values() if g.pilots],
        ending_soon=ending_soon,
        overdue=overdue,
        closed_count=closed,
        today=today,
    )


def pilot_changelog(*, pilot: Pilot) -> QuerySet[ChangeRecord]:
    """Every recorded change to the pilot, its phases, criteria, RACI and
    readiness, newest first."""
    return ChangeRecord.objects.filter(scope=pilot.scope).select_related("actor", "content_type")


def pilot_phases(*, pilot: Pilot) -> list[Phase]:
    return list(pilot.phases.prefetch_related("exit_criteria").order_by("order"))


@dataclass
class RaciMatrix:
    activities: list[RaciActivity]
    people: list[Any]
    # (activity id, user id) -> letter
    letters: dict[tuple[int, int], str]


def raci_matrix(*, pilot: Pilot) -> RaciMatrix:
    """The activities x people grid: people are everyone holding a role plus
    anyone already assigned (2 queries)."""
    activities = list(pilot.raci_activities.prefetch_related("assignments"))
    letters = {
        (a.activity_id, a.user_id): a.letter for act in activities for a in act.assignments.all()
    }
    assigned = {uid for _, uid in letters}
    people = list(
        get_user_model()
        .objects.filter(Q(is_active=True, groups__name__in=ALL_ROLES) | Q(pk__in=assigned))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    return RaciMatrix(activities=activities, people=people, letters=letters)


def backend_list() -> QuerySet[Backend]:
    return Backend.objects.select_related("vendor", "site")


def backend_pilots(*, backend: Backend) -> QuerySet[Pilot]:
    """Pilots using the backend as candidate or baseline."""
    return pilot_list().filter(Q(candidate_backend=backend) | Q(baseline_backend=backend))
