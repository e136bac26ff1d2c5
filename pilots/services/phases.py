"""Phase planning, the phase state machine and exit criteria.

Transitions live in one table (``TRANSITIONS``): which statuses a phase may
leave by each action. The rules that need the rest of the pilot (order,
one active phase, closed pilots) are checked in ``_check_transition``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from django.db import transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone

from pilots.models import ExitCriterion, Phase, Pilot
from pilots.services._common import (
    DomainError,
    TransitionError,
    audit_create,
    audit_delete,
    audit_update,
)
from pilots.signals import send_vendor_data_changed
from portal.audit import Actor, snapshot

_S = Phase.Status


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str | None  # None: the status stays (extend moves dates only)
    verb: str  # for messages: "Only a planned phase can be <verb>."


TRANSITIONS: dict[str, Transition] = {
    "start": Transition(frozenset({_S.PLANNED}), _S.ACTIVE, "started"),
    "pass": Transition(frozenset({_S.ACTIVE}), _S.PASSED, "passed"),
    "fail": Transition(frozenset({_S.ACTIVE}), _S.FAILED, "failed"),
    "skip": Transition(frozenset({_S.PLANNED}), _S.SKIPPED, "skipped"),
    "extend": Transition(frozenset({_S.PLANNED, _S.ACTIVE}), None, "extended"),
}


# --- planning ---------------------------------------------------------------


@dataclass(frozen=True)
class CriterionDefault:
    metric: str
    comparison: str
    threshold: Decimal
    direction: str = ExitCriterion.Direction.AT_MOST
    critical: bool = True


_M = ExitCriterion.Metric
_REL = ExitCriterion.Comparison.RELATIVE
_ABS = ExitCriterion.Comparison.ABSOLUTE
_LATENCY = CriterionDefault(_M.E2E_LATENCY_P99, _REL, Decimal("1.0"))
_ERRORS = CriterionDefault(_M.ERROR_RATE, _ABS, Decimal("0.001"))
_THROTTLE = CriterionDefault(_M.THROTTLE_EVENTS, _ABS, Decimal("0"))
_COST = CriterionDefault(_M.COST_PER_1M_TOKENS, _REL, Decimal("0.9"))


@dataclass(frozen=True)
class PhaseDefault:
    kind: str
    name: str
    weeks: int
    traffic_percent: Decimal
    criteria: tuple[CriterionDefault, ...]


# The seed's plan: lab validation about 4 weeks, shadow and canary 6 to 8
# weeks, then incremental production ramps.
DEFAULT_PLAN: tuple[PhaseDefault, ...] = (
    PhaseDefault(Phase.Kind.LAB_VALIDATION, "", 4, Decimal("0"), (_LATENCY, _ERRORS)),
    PhaseDefault(Phase.Kind.SHADOW, "", 6, Decimal("0"), (_LATENCY, _ERRORS, _THROTTLE)),
    PhaseDefault(Phase.Kind.CANARY, "", 7, Decimal("5"), (_LATENCY, _COST, _ERRORS, _THROTTLE)),
    PhaseDefault(
        Phase.Kind.PRODUCTION_RAMP,
        "Ramp to 25 %",
        3,
        Decimal("25"),
        (_LATENCY, _COST, _ERRORS, _THROTTLE),
    ),
    PhaseDefault(
        Phase.Kind.PRODUCTION_RAMP,
        "Ramp to 100 %",
        3,
        Decimal("100"),
        (_LATENCY, _COST, _ERRORS, _THROTTLE),
    ),
)


def _ensure_open(pilot: Pilot, doing: str) -> None:
    if pilot.is_closed:
        raise DomainError(f"Cannot {doing}: {pilot.name} is {pilot.get_status_display().lower()}.")


# A phase of the default plan squeezed into a short target window keeps at
# least a week: a shorter lab validation or canary is not a phase any more.
MIN_DEFAULT_PHASE_DAYS = 7


def default_plan_lengths(window_days: int) -> list[int]:
    """The length in days of each phase of ``DEFAULT_PLAN`` for a target
    window of ``window_days`` days.

    When the default weeks fit, they are kept (the rest of the window is
    slack). Otherwise every phase gets ``MIN_DEFAULT_PHASE_DAYS`` and the
    remaining days are shared in proportion to how much longer than that
    each default phase is (largest remainder, so the lengths fill the window
    exactly). A window shorter than the minimum plan gets the minimum plan,
    which then runs past the target end: the planning warnings say so."""
    defaults = [spec.weeks * 7 for spec in DEFAULT_PLAN]
    if window_days >= sum(defaults):
        return defaults
    minimum = MIN_DEFAULT_PHASE_DAYS * len(defaults)
    if window_days <= minimum:
        return [MIN_DEFAULT_PHASE_DAYS] * len(defaults)
    spare = window_days - minimum
    weights = [days - MIN_DEFAULT_PHASE_DAYS for days in defaults]
    total = sum(weights)
    shares = [spare * w // total for w in weights]
    # Largest remainders first; ties go to the earlier phase.
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(spare * weights[i] % total), i))
    for i in by_remainder[: spare - sum(shares)]:
        shares[i] += 1
    return [MIN_DEFAULT_PHASE_DAYS + share for share in shares]


@transaction.atomic
def phase_plan_defaults(*, pilot: Pilot, actor: Actor) -> list[Phase]:
    """Plan the default phases back to back from the pilot's target start,
    each with its default exit criteria, fitted to the target window
    (``default_plan_lengths``). Only on a pilot without phases."""
    # The pilot row lock serializes planning with phase_create and the
    # reorders: two PMs planning at once would both see an empty plan.
    pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
    _ensure_open(pilot, "plan default phases")
    if pilot.phases.exists():
        raise DomainError(
            "This pilot already has phases; default phases are planned only on an empty plan."
        )
    phases: list[Phase] = []
    start = pilot.target_start
    window_days = (pilot.target_end - pilot.target_start).days + 1
    lengths = default_plan_lengths(window_days)
    for order, (spec, days) in enumerate(zip(DEFAULT_PLAN, lengths, strict=True), start=1):
        end = start + dt.timedelta(days=days - 1)
        phase = Phase(
            pilot=pilot,
            kind=spec.kind,
            name=spec.name,
            order=order,
            planned_start=start,
            planned_end=end,
            traffic_percent=spec.traffic_percent,
        )
        phase.full_clean()
        _check_overlap(phase, phases)
        phase.save()
        audit_create(actor=actor, instance=phase, pilot=pilot, message="default plan")
        for spec_c in spec.criteria:
            criterion = ExitCriterion(
                phase=phase,
                metric=spec_c.metric,
                comparison=spec_c.comparison,
                direction=spec_c.direction,
                threshold=spec_c.threshold,
                critical=spec_c.critical,
            )
            criterion.full_clean()
            criterion.save()
            audit_create(actor=actor, instance=criterion, pilot=pilot, message="default plan")
        phases.append(phase)
        start = end + dt.timedelta(days=1)
    return phases


def _overlaps(a: Phase, b: Phase) -> bool:
    return a.planned_start <= b.planned_end and b.planned_start <= a.planned_end


def _check_overlap(phase: Phase, others: Iterable[Phase]) -> None:
    """Refuse a phase whose planned dates overlap another phase of the pilot.
    Skipped phases never ran, so their dates hold no slot."""
    if phase.status == _S.SKIPPED:
        return
    for other in others:
        if other.pk == phase.pk or other.status == _S.SKIPPED or not _overlaps(phase, other):
            continue
        raise DomainError(
            {
                "planned_start": (
                    f"These dates overlap {other.order}. {other.label} "
                    f"({other.planned_start.isoformat()} → {other.planned_end.isoformat()}): "
                    f"the phases of a pilot follow one another."
                )
            }
        )


def phase_plan_warnings(*, pilot: Pilot, phases: Sequence[Phase]) -> list[str]:
    """What looks wrong in a plan without being refused: planned or active
    phases outside the pilot's target window, and phases whose dates run in
    another order than their positions. ``phases`` ordered by position."""
    warnings: list[str] = []
    start, end = pilot.target_start, pilot.target_end
    pending = [p for p in phases if p.status in {_S.PLANNED, _S.ACTIVE}]
    for phase in pending:
        name = f"{phase.order}. {phase.label}"
        if phase.planned_start < start:
            warnings.append(
                f"{name} starts on {phase.planned_start.isoformat()}, before the pilot's "
                f"target start ({start.isoformat()})."
            )
        if phase.planned_end > end:
            warnings.append(
                f"{name} ends on {phase.planned_end.isoformat()}, after the pilot's "
                f"target end ({end.isoformat()})."
            )
    for earlier, later in itertools.pairwise(pending):
        if later.planned_start < earlier.planned_start:
            warnings.append(
                f"{later.order}. {later.label} is planned before {earlier.order}. "
                f"{earlier.label} although it comes after it: phases start in order."
            )
    return warnings


@transaction.atomic
def phase_create(
    *,
    pilot: Pilot,
    actor: Actor,
    kind: str,
    planned_start: dt.date,
    planned_end: dt.date,
    traffic_percent: Decimal = Decimal("0"),
    name: str = "",
    order: int | None = None,
) -> Phase:
    """Add a planned phase; without ``order`` it goes last. Dates that
    overlap another phase of the pilot are refused."""
    # Locked: two phases added at once would each miss the other's dates.
    pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
    _ensure_open(pilot, "add a phase")
    if order is None:
        highest = pilot.phases.aggregate(m=Max("order"))["m"]
        order = (highest or 0) + 1
    phase = Phase(
        pilot=pilot,
        kind=kind,
        name=name,
        order=order,
        planned_start=planned_start,
        planned_end=planned_end,
        traffic_percent=traffic_percent,
        status=Phase.Status.PLANNED,
    )
    phase.full_clean()
    _check_overlap(phase, pilot.phases.all())
    phase.save()
    audit_create(actor=actor, instance=phase, pilot=pilot)
    return phase


PHASE_EDITABLE_FIELDS: frozenset[str] = frozenset(
    {"kind", "name", "order", "planned_start", "planned_end", "traffic_percent"}
)


@transaction.atomic
def phase_update(*, phase: Phase, actor: Actor, data: Mapping[str, Any]) -> Phase:
    """Edit a phase's plan. Only planned phases: once a phase runs, its end
    moves through ``phase_extend`` and the rest is history."""
    unknown = set(data) - PHASE_EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These phase fields cannot be edited: {', '.join(sorted(unknown))}.")
    # Re-read under a lock: the caller's copy may predate a start; the
    # pilot's lock keeps a concurrent create or reorder out of the dates.
    Pilot.objects.select_for_update().get(pk=phase.pilot_id)
    phase = Phase.objects.select_for_update().select_related("pilot").get(pk=phase.pk)
    if phase.status != Phase.Status.PLANNED:
        raise DomainError(
            f"Only a planned phase can be edited; {phase.label} is "
            f"{phase.get_status_display().lower()}."
        )
    _ensure_open(phase.pilot, f"edit {phase.label}")
    before = snapshot(phase)
    for field, value in data.items():
        setattr(phase, field, value)
    phase.full_clean()
    if (before["planned_start"], before["planned_end"]) != (
        phase.planned_start.isoformat(),
        phase.planned_end.isoformat(),
    ):
        # Only moved dates are checked: a plan that overlapped before this
        # rule existed can still have its name or traffic corrected.
        _check_overlap(phase, phase.pilot.phases.all())
    phase.save()
    audit_update(actor=actor, instance=phase, pilot=phase.pilot, before=before)
    return phase


@transaction.atomic
def phase_remove(*, phase: Phase, actor: Actor) -> None:
    """Remove a planned phase with its exit criteria; the phases after it
    move up one position, so the plan keeps numbering 1, 2, 3..."""
    phase, pilot, phases = _lock(phase)
    _ensure_open(pilot, f"remove {phase.label}")
    if phase.status != _S.PLANNED:
        raise DomainError(
            f"Only a planned phase can be removed; {phase.label} is "
            f"{phase.get_status_display().lower()}."
        )
    for criterion in phase.exit_criteria.all():
        audit_delete(actor=actor, instance=criterion, pilot=pilot, before=snapshot(criterion))
    audit_delete(actor=actor, instance=phase, pilot=pilot, before=snapshot(phase))
    removed_order = phase.order
    try:
        phase.delete()
    except ProtectedError:
        raise DomainError(f"{phase.label} cannot be removed: other records point at it.") from None
    # Ascending, so each phase moves into the position just freed below it
    # and the unique (pilot, order) constraint never sees two at once.
    for later in phases:
        if later.order <= removed_order:
            continue
        before = snapshot(later)
        later.order -= 1
        later.save(update_fields=["order", "updated_at"])
        audit_update(actor=actor, instance=later, pilot=pilot, before=before, message="renumbered")


# The highest value of a PositiveSmallIntegerField on every database.
_MAX_ORDER = 32767


@transaction.atomic
def phase_reorder(*, phase: Phase, actor: Actor, direction: Literal["up", "down"]) -> Phase:
    """Move a planned phase one position up or down, trading places with its
    planned neighbour. The two keep their lengths and the span they cover
    together (the gap between them too), so moving never creates an
    overlap: the one moved up starts when the other used to."""
    if direction not in ("up", "down"):
        raise DomainError({"direction": "Move a phase 'up' or 'down'."})
    phase, pilot, phases = _lock(phase)
    _ensure_open(pilot, f"move {phase.label}")
    if phase.status != _S.PLANNED:
        raise DomainError(
            f"Only a planned phase can be moved; {phase.label} is "
            f"{phase.get_status_display().lower()}."
        )
    index = phases.index(phase)
    neighbour_index = index - 1 if direction == "up" else index + 1
    if not 0 <= neighbour_index < len(phases):
        where = "first" if direction == "up" else "last"
        raise DomainError(f"{phase.label} is already the {where} phase.")
    neighbour = phases[neighbour_index]
    if neighbour.status != _S.PLANNED:
        raise DomainError(
            f"{phase.label} cannot move {direction}: {neighbour.label} is "
            f"{neighbour.get_status_display().lower()}, and only planned phases change places."
        )
    first, second = (neighbour, phase) if direction == "up" else (phase, neighbour)
    before = {first.pk: snapshot(first), second.pk: snapshot(second)}
    gap = second.planned_start - first.planned_end
    second_days = second.planned_end - second.planned_start
    first_days = first.planned_end - first.planned_start
    span_start = first.planned_start
    first_order, second_order = first.order, second.order
    # Through a free position: the unique (pilot, order) constraint is
    # checked row by row, so a direct swap would collide half way.
    spare = max(p.order for p in phases) + 1
    if spare > _MAX_ORDER:
        raise DomainError("The plan has too many positions to reorder; renumber it first.")
    first.order = spare
    first.save(update_fields=["order"])
    second.order = first_order
    second.planned_start = span_start
    second.planned_end = span_start + second_days
    second.full_clean()
    second.save()
    first.order = second_order
    first.planned_start = second.planned_end + gap
    first.planned_end = first.planned_start + first_days
    first.full_clean()
    first.save()
    for moved, verb in ((phase, f"moved {direction}"), (neighbour, "made way")):
        audit_update(
            actor=actor, instance=moved, pilot=pilot, before=before[moved.pk], message=verb
        )
    return phase


# --- transitions --------------------------------------------------------------


def _lock(phase: Phase) -> tuple[Phase, Pilot, list[Phase]]:
    """Re-read the pilot and its phases under a row lock: two people starting
    two phases at once would otherwise both see "no active phase"."""
    pilot = Pilot.objects.select_for_update().get(pk=phase.pilot_id)
    phases = list(Phase.objects.select_for_update().filter(pilot=pilot).order_by("order"))
    fresh = next(p for p in phases if p.pk == phase.pk)
    return fresh, pilot, phases


def _check_transition(action: str, phase: Phase, pilot: Pilot, phases: list[Phase]) -> None:
    rule = TRANSITIONS[action]
    verb = action
    if pilot.is_closed:
        raise TransitionError(
            f"Cannot {verb} {phase.label}: the pilot is {pilot.get_status_display().lower()}."
        )
    if phase.status not in rule.sources:
        allowed = " or ".join(sorted(Phase.Status(s).label.lower() for s in rule.sources))
        article = "an" if allowed[0] in "aeiou" else "a"
        raise TransitionError(
            f"Only {article} {allowed} phase can be {rule.verb}; {phase.label} is "
            f"{phase.get_status_display().lower()}."
        )
    if action == "start":
        active = next((p for p in phases if p.status == _S.ACTIVE), None)
        if active is not None:
            raise TransitionError(f"Cannot start {phase.label}: {active.label} is still active.")
        for earlier in phases:
            if earlier.order >= phase.order:
                break
            if not earlier.is_cleared:
                raise TransitionError(
                    f"Cannot start {phase.label}: {earlier.label} comes first and is "
                    f"{earlier.get_status_display().lower()}; phases start in order."
                )


def _finish_pilot_if_done(*, pilot: Pilot, phases: list[Phase], actor: Actor) -> None:
    """A pilot whose phases are all passed or skipped is completed (only if it
    ran at all: skipping every phase of a draft leaves it a draft)."""
    if pilot.status != Pilot.Status.ACTIVE:
        return
    if all(p.is_cleared for p in phases):
        _set_pilot_status(pilot=pilot, status=Pilot.Status.COMPLETED, actor=actor)


def _set_pilot_status(*, pilot: Pilot, status: str, actor: Actor, message: str = "") -> None:
    before = snapshot(pilot)
    pilot.status = status
    pilot.full_clean()
    pilot.save(update_fields=["status", "updated_at"])
    audit_update(actor=actor, instance=pilot, pilot=pilot, before=before, message=message)
    # A closed pilot's red flags clear.
    send_vendor_data_changed(backend_ids=[pilot.candidate_backend_id], sender=Pilot)


def _apply(phase: Phase, pilot: Pilot, actor: Actor, message: str, **changes: Any) -> None:
    before = snapshot(phase)
    for field, value in changes.items():
        setattr(phase, field, value)
    phase.full_clean()
    phase.save()
    audit_update(actor=actor, instance=phase, pilot=pilot, before=before, message=message)


def _check_start_time(at: dt.datetime, phase: Phase, phases: list[Phase]) -> None:
    """A start recorded after the fact (teams say when the phase really
    began) lies in the past, and not before an earlier phase ended."""
    if timezone.is_naive(at):
        raise DomainError({"actual_start": "The start time needs a time zone (e.g. Z)."})
    if at > timezone.now():
        raise DomainError({"actual_start": "The start time cannot be in the future."})
    earlier = [p for p in phases if p.order < phase.order]
    ends = [t for p in earlier for t in (p.actual_end, p.actual_start) if t is not None]
    if ends and at < max(ends):
        last = max(ends)
        raise DomainError(
            {
                "actual_start": (
                    f"{phase.label} cannot start before the previous phase ended "
                    f"({last.astimezone(dt.UTC).isoformat().replace('+00:00', 'Z')})."
                )
            }
        )


@transaction.atomic
def phase_start(*, phase: Phase, actor: Actor, at: dt.datetime | None = None) -> Phase:
    """Start the next planned phase, now or at ``at`` (a start recorded after
    the fact: in the past, not before the previous phase ended). The first
    start makes the pilot active."""
    phase, pilot, phases = _lock(phase)
    _check_transition("start", phase, pilot, phases)
    if at is not None:
        _check_start_time(at, phase, phases)
    _apply(phase, pilot, actor, "started", status=_S.ACTIVE, actual_start=at or timezone.now())
    if pilot.status == Pilot.Status.DRAFT:
        _set_pilot_status(
            pilot=pilot, status=Pilot.Status.ACTIVE, actor=actor, message=f"{phase.label} started"
        )
    return phase


@transaction.atomic
def phase_pass(
    *, phase: Phase, actor: Actor, at: dt.datetime | None = None, message: str = ""
) -> Phase:
    """Pass the active phase. Passing the last phase completes the pilot."""
    phase, pilot, phases = _lock(phase)
    _check_transition("pass", phase, pilot, phases)
    at = at or timezone.now()
    _apply(
        phase,
        pilot,
        actor,
        message or "passed",
        status=_S.PASSED,
        actual_end=at,
        outcome_note=message,
    )
    _finish_pilot_if_done(pilot=pilot, phases=phases, actor=actor)
    return phase


@transaction.atomic
def phase_fail(
    *, phase: Phase, actor: Actor, at: dt.datetime | None = None, message: str = ""
) -> Phase:
    """Fail the active phase; the pilot stops."""
    phase, pilot, phases = _lock(phase)
    _check_transition("fail", phase, pilot, phases)
    # The message is why the pilot stopped: the phase keeps it for the pages.
    _apply(
        phase,
        pilot,
        actor,
        message or "failed",
        status=_S.FAILED,
        actual_end=at or timezone.now(),
        outcome_note=message,
    )
    stopped = f"{phase.label} failed" + (f": {message}" if message else "")
    _set_pilot_status(pilot=pilot, status=Pilot.Status.STOPPED, actor=actor, message=stopped)
    return phase


@transaction.atomic
def phase_skip(*, phase: Phase, actor: Actor, message: str = "") -> Phase:
    """Skip a planned phase (e.g. no shadow traffic available)."""
    phase, pilot, phases = _lock(phase)
    _check_transition("skip", phase, pilot, phases)
    _apply(phase, pilot, actor, message or "skipped", status=_S.SKIPPED, outcome_note=message)
    _finish_pilot_if_done(pilot=pilot, phases=phases, actor=actor)
    return phase


@transaction.atomic
def phase_extend(*, phase: Phase, actor: Actor, planned_end: dt.date, message: str = "") -> Phase:
    """Move a planned or active phase's planned end later."""
    phase, pilot, phases = _lock(phase)
    _check_transition("extend", phase, pilot, phases)
    if planned_end <= phase.planned_end:
        raise TransitionError(
            {
                "planned_end": (
                    f"An extension moves the planned end later than "
                    f"{phase.planned_end.isoformat()}."
                )
            }
        )
    _apply(phase, pilot, actor, message or "extended", planned_end=planned_end)
    return phase


def next_startable_phase(phases: list[Phase]) -> Phase | None:
    """The phase a PM could start now (phases ordered), or None."""
    if any(p.status == _S.ACTIVE for p in phases):
        return None
    for phase in phases:
        if phase.status == _S.PLANNED:
            return phase
        if not phase.is_cleared:
            return None
    return None


# --- exit criteria ------------------------------------------------------------

CRITERION_FIELDS: frozenset[str] = frozenset(
    {"metric", "comparison", "direction", "threshold", "critical", "weight"}
)


LATENCY_METRICS: frozenset[str] = frozenset(
    {
        _M.E2E_LATENCY_P50,
        _M.E2E_LATENCY_P95,
        _M.E2E_LATENCY_P99,
        _M.E2E_LATENCY_P999,
        _M.TTFT_P50,
        _M.TTFT_P95,
        _M.TTFT_P99,
        _M.TTFT_P999,
    }
)
# Counts, durations, money and energy: none is ever below zero.
NON_NEGATIVE_METRICS: frozenset[str] = frozenset(
    {
        _M.THROTTLE_EVENTS,
        _M.THROTTLE_SECONDS,
        _M.COST_PER_1M_TOKENS,
        _M.COST_PER_INFERENCE,
        _M.JOULES_PER_TOKEN,
        _M.TOKENS_PER_SECOND,
    }
)


def criterion_problems(
    *, metric: str, comparison: str, threshold: Decimal | None, weight: int | None = 1
) -> dict[str, str]:
    """What is wrong with a criterion's threshold and weight for its metric,
    by field name (empty when nothing is). Thresholds are in the stored
    unit: seconds for latencies, a fraction for the error rate (0.005 is
    0.5 %; pages enter it as a percentage and convert)."""
    problems: dict[str, str] = {}
    if weight is not None and weight < 1:
        problems["weight"] = "A weight is a whole number of at least 1."
    if threshold is None:
        return problems
    if not isinstance(threshold, Decimal):
        try:
            threshold = Decimal(str(threshold))
        except InvalidOperation:
            problems["threshold"] = "The threshold must be a number."
            return problems
    if not threshold.is_finite():
        problems["threshold"] = "The threshold must be a number."
    elif comparison == _REL:
        if threshold <= 0:
            problems["threshold"] = "A ratio to baseline must be greater than zero."
    elif metric in LATENCY_METRICS:
        if threshold <= 0:
            problems["threshold"] = "A latency threshold is a time in seconds greater than zero."
    elif metric == _M.ERROR_RATE:
        if not Decimal(0) <= threshold <= Decimal(1):
            problems["threshold"] = (
                "An error rate is a fraction between 0 and 1 (0.005 means 0.5 %)."
            )
    elif metric in NON_NEGATIVE_METRICS and threshold < 0:
        label = ExitCriterion.Metric(metric).label
        problems["threshold"] = f"{label} cannot be negative."
    return problems


def _check_criterion(criterion: ExitCriterion) -> None:
    problems = criterion_problems(
        metric=criterion.metric,
        comparison=criterion.comparison,
        threshold=criterion.threshold,
        weight=criterion.weight,
    )
    if problems:
        raise DomainError(problems)


def _ensure_criteria_editable(phase: Phase) -> Phase:
    """Re-read the phase: the caller's copy may predate a transition."""
    phase = Phase.objects.select_related("pilot").get(pk=phase.pk)
    if phase.status not in {_S.PLANNED, _S.ACTIVE}:
        raise DomainError(
            f"The exit criteria of {phase.label} are fixed: the phase is "
            f"{phase.get_status_display().lower()}."
        )
    _ensure_open(phase.pilot, f"change the exit criteria of {phase.label}")
    return phase


@transaction.atomic
def exit_criterion_add(
    *,
    phase: Phase,
    actor: Actor,
    metric: str,
    comparison: str,
    direction: str,
    threshold: Decimal,
    critical: bool = True,
    weight: int = 1,
) -> ExitCriterion:
    phase = _ensure_criteria_editable(phase)
    criterion = ExitCriterion(
        phase=phase,
        metric=metric,
        comparison=comparison,
        direction=direction,
        threshold=threshold,
        critical=critical,
        weight=weight,
    )
    _check_criterion(criterion)
    criterion.full_clean()
    criterion.save()
    audit_create(actor=actor, instance=criterion, pilot=phase.pilot)
    return criterion


@transaction.atomic
def exit_criterion_update(
    *, criterion: ExitCriterion, actor: Actor, data: Mapping[str, Any]
) -> ExitCriterion:
    unknown = set(data) - CRITERION_FIELDS
    if unknown:
        raise DomainError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    criterion.phase = _ensure_criteria_editable(criterion.phase)
    before = snapshot(criterion)
    for field, value in data.items():
        setattr(criterion, field, value)
    _check_criterion(criterion)
    criterion.full_clean()
    criterion.save()
    audit_update(actor=actor, instance=criterion, pilot=criterion.phase.pilot, before=before)
    return criterion


@transaction.atomic
def exit_criterion_remove(*, criterion: ExitCriterion, actor: Actor) -> None:
    pilot = _ensure_criteria_editable(criterion.phase).pilot
    audit_delete(actor=actor, instance=criterion, pilot=pilot, before=snapshot(criterion))
    criterion.delete()
