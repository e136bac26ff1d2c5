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
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from pilots.models import (
    CLOSED_PILOT_STATUSES,
    Backend,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
)
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
    status, planned end and outcome note annotated (one query for any number
    of pilots)."""
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
        # For a stopped pilot the current phase is the failed one: why it failed.
        current_phase_note=Subquery(current.values("outcome_note")[:1]),
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


def open_pilot_groups() -> tuple[list[PhaseGroup], int]:
    """Open pilots grouped by current phase, and how many are closed (1 query)."""
    groups = {kind: PhaseGroup(kind, label) for kind, label in Phase.Kind.choices}
    groups[""] = PhaseGroup("", "Not planned")
    closed = 0
    for pilot in pilot_list():
        if pilot.is_closed:
            closed += 1
            continue
        groups[pilot.current_phase_kind or ""].pilots.append(pilot)  # type: ignore[attr-defined]
    return [g for g in groups.values() if g.pilots], closed


@dataclass
class PhasesDue:
    overdue: list[Phase]
    ending_soon: list[Phase]


def _held_by(user: Any) -> Q:
    """Pilots where ``user`` holds any RACI letter (for a pilot's phases: prefix it)."""
    return Q(raci_activities__assignments__user=user)


def phases_due(*, today: dt.date, horizon_days: int = 14, user: Any = None) -> PhasesDue:
    """Planned or active phases of open pilots past their planned end
    (overdue) or ending within ``horizon_days`` (1 query). With ``user``,
    only the pilots where they hold a RACI letter."""
    phases = (
        Phase.objects.filter(
            status__in=[_S.PLANNED, _S.ACTIVE],
            planned_end__lte=today + dt.timedelta(days=horizon_days),
        )
        .exclude(pilot__status__in=CLOSED_PILOT_STATUSES)
        .select_related("pilot")
        .order_by("planned_end", "pilot__name", "order")
    )
    if user is not None:
        phases = phases.filter(pilot__in=Pilot.objects.filter(_held_by(user)).values("pk"))
    due = PhasesDue(overdue=[], ending_soon=[])
    for phase in phases:
        (due.overdue if phase.planned_end < today else due.ending_soon).append(phase)
    return due


def home_dashboard(*, today: dt.date, horizon_days: int = 14) -> HomeDashboard:
    """Open pilots grouped by current phase, phases ending within
    ``horizon_days`` and phases past their planned end (2 queries)."""
    groups, closed = open_pilot_groups()
    due = phases_due(today=today, horizon_days=horizon_days)
    return HomeDashboard(
        groups=groups,
        ending_soon=due.ending_soon,
        overdue=due.overdue,
        closed_count=closed,
        today=today,
    )


def _go_no_go_accountable() -> QuerySet[RaciAssignment]:
    return RaciAssignment.objects.filter(
        activity__pilot=OuterRef("pk"),
        activity__key=RaciActivity.Key.GO_NO_GO,
        letter=RaciAssignment.Letter.ACCOUNTABLE,
    )


def pilots_without_go_no_go_accountable() -> list[Pilot]:
    """Open pilots nobody holds the go/no-go A of: nobody may decide their
    reviews (1 query)."""
    return list(
        pilot_list()
        .exclude(status__in=CLOSED_PILOT_STATUSES)
        .filter(~Exists(_go_no_go_accountable()))
    )


def pilots_decided_by(*, user: Any) -> list[Pilot]:
    """Open pilots whose go/no-go A ``user`` holds, with their current phase
    (1 query)."""
    return list(
        pilot_list()
        .exclude(status__in=CLOSED_PILOT_STATUSES)
        .filter(Exists(_go_no_go_accountable().filter(user=user)))
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
