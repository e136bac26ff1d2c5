"""Phase planning rules: no overlaps, warnings outside the target window,
a default plan fitted to the window, removing and reordering planned phases,
removing custom RACI activities, fixed backends once a phase ran, exit
criteria checked by metric, and the reason a pilot stopped."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from hypothesis import given
from hypothesis import strategies as st

from pilots import services
from pilots.models import ExitCriterion, Phase, Pilot, RaciActivity, RaciAssignment
from pilots.services import DomainError
from portal.models import ChangeRecord
from tests.factories import BackendFactory, CostCenterFactory, PhaseFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.date


def make_pilot(actor: Any, **overrides: Any) -> Pilot:
    fields: dict[str, Any] = {
        "name": "Wafer pilot",
        "model_name": "llama-3-70b",
        "candidate_backend": BackendFactory.create(),
        "baseline_backend": BackendFactory.create(),
        "team": "search",
        "cost_center": CostCenterFactory.create(code="CC-1").code,
        "target_start": D(2026, 1, 5),
        "target_end": D(2026, 9, 30),
    }
    fields.update(overrides)
    return services.pilot_create(actor=actor, **fields)


@pytest.fixture
def actor() -> Any:
    return UserFactory.create(username="alice")


@pytest.fixture
def pilot(actor: Any) -> Pilot:
    return make_pilot(actor)


def add(pilot: Pilot, actor: Any, start: dt.date, end: dt.date, **extra: Any) -> Phase:
    return services.phase_create(
        pilot=pilot,
        actor=actor,
        kind=extra.pop("kind", Phase.Kind.CANARY),
        planned_start=start,
        planned_end=end,
        **extra,
    )


def ordered(pilot: Pilot) -> list[tuple[int, str, dt.date, dt.date]]:
    return [
        (p.order, p.label, p.planned_start, p.planned_end) for p in pilot.phases.order_by("order")
    ]


def records(instance: Any, action: str) -> list[ChangeRecord]:
    return list(
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(type(instance)),
            object_id=str(instance.pk),
            action=action,
        )
    )


# --- overlaps -------------------------------------------------------------------


def test_phase_create_refuses_dates_overlapping_another_phase(pilot, actor):
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28), name="Canary EU")
    with pytest.raises(DomainError) as caught:
        add(pilot, actor, D(2026, 2, 28), D(2026, 3, 15), name="Canary US")
    assert caught.value.message_dict == {
        "planned_start": [
            "These dates overlap 1. Canary EU (2026-02-01 → 2026-02-28): "
            "the phases of a pilot follow one another."
        ]
    }
    assert pilot.phases.count() == 1
    # The day after is free.
    add(pilot, actor, D(2026, 3, 1), D(2026, 3, 15), name="Canary US")


def test_phase_create_refuses_a_phase_inside_another(pilot, actor):
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28))
    with pytest.raises(DomainError, match=r"overlap 1\. Canary"):
        add(pilot, actor, D(2026, 2, 10), D(2026, 2, 12))


def test_phase_update_refuses_moving_into_another_phase(pilot, actor):
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28), name="First")
    second = add(pilot, actor, D(2026, 3, 1), D(2026, 3, 31), name="Second")
    with pytest.raises(DomainError, match=r"overlap 1\. First") as caught:
        services.phase_update(phase=second, actor=actor, data={"planned_start": D(2026, 2, 20)})
    assert "planned_start" in caught.value.message_dict
    second.refresh_from_db()
    assert second.planned_start == D(2026, 3, 1)


def test_phase_update_of_other_fields_is_allowed_on_an_old_overlapping_plan(pilot, actor):
    # Plans written before the rule may overlap; their names can still be fixed.
    PhaseFactory.create(pilot=pilot, order=1, planned_start=D(2026, 2, 1))
    old = PhaseFactory.create(pilot=pilot, order=2, planned_start=D(2026, 2, 5))
    services.phase_update(phase=old, actor=actor, data={"name": "Renamed"})
    old.refresh_from_db()
    assert old.name == "Renamed"


def test_skipped_phases_hold_no_dates(pilot, actor):
    skipped = add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28))
    services.phase_skip(phase=skipped, actor=actor)
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28), name="Instead")


# --- warnings -------------------------------------------------------------------


def test_a_phase_outside_the_target_window_is_warned_not_refused(pilot, actor):
    add(pilot, actor, D(2025, 12, 20), D(2026, 1, 10), name="Early")
    add(pilot, actor, D(2026, 9, 1), D(2026, 10, 15), name="Late")
    warnings = services.phase_plan_warnings(pilot=pilot, phases=list(pilot.phases.all()))
    assert warnings == [
        "1. Early starts on 2025-12-20, before the pilot's target start (2026-01-05).",
        "2. Late ends on 2026-10-15, after the pilot's target end (2026-09-30).",
    ]


def test_phases_planned_out_of_order_are_warned(pilot, actor):
    add(pilot, actor, D(2026, 3, 1), D(2026, 3, 31), name="Second in time")
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28), name="First in time")
    warnings = services.phase_plan_warnings(pilot=pilot, phases=list(pilot.phases.all()))
    assert warnings == [
        "2. First in time is planned before 1. Second in time although it comes after it: "
        "phases start in order."
    ]


def test_finished_phases_are_not_warned_about(pilot, actor):
    early = add(pilot, actor, D(2025, 12, 1), D(2025, 12, 31))
    services.phase_skip(phase=early, actor=actor)
    assert services.phase_plan_warnings(pilot=pilot, phases=list(pilot.phases.all())) == []


# --- the default plan fitted to the window ---------------------------------------


def test_default_plan_keeps_the_default_weeks_when_they_fit(pilot, actor):
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    lengths = [(p.planned_end - p.planned_start).days + 1 for p in pilot.phases.order_by("order")]
    assert lengths == [28, 42, 49, 21, 21]
    assert services.phase_plan_warnings(pilot=pilot, phases=list(pilot.phases.all())) == []


def test_default_plan_is_scaled_into_a_short_window(actor):
    pilot = make_pilot(actor, target_start=D(2026, 1, 5), target_end=D(2026, 3, 15))  # 70 days
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    phases = list(pilot.phases.order_by("order"))
    lengths = [(p.planned_end - p.planned_start).days + 1 for p in phases]
    assert sum(lengths) == 70
    assert all(days >= services.MIN_DEFAULT_PHASE_DAYS for days in lengths)
    assert lengths[2] > lengths[0] > lengths[3]  # canary longest, ramps shortest
    assert phases[0].planned_start == D(2026, 1, 5)
    assert phases[-1].planned_end == D(2026, 3, 15)
    assert services.phase_plan_warnings(pilot=pilot, phases=phases) == []


def test_default_plan_in_a_too_short_window_is_the_minimum_plan_and_warned(actor):
    pilot = make_pilot(actor, target_start=D(2026, 1, 5), target_end=D(2026, 1, 25))  # 21 days
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    phases = list(pilot.phases.order_by("order"))
    assert [(p.planned_end - p.planned_start).days + 1 for p in phases] == [7] * 5
    warnings = services.phase_plan_warnings(pilot=pilot, phases=phases)
    assert warnings == [
        "4. Ramp to 25 % ends on 2026-02-01, after the pilot's target end (2026-01-25).",
        "5. Ramp to 100 % ends on 2026-02-08, after the pilot's target end (2026-01-25).",
    ]


@given(st.integers(min_value=1, max_value=2000))
def test_default_plan_lengths_fill_the_window_or_keep_the_defaults(window):
    lengths = services.default_plan_lengths(window)
    defaults = [spec.weeks * 7 for spec in services.DEFAULT_PLAN]
    minimum = services.MIN_DEFAULT_PHASE_DAYS
    assert len(lengths) == len(defaults)
    assert all(days >= minimum for days in lengths)
    if window >= sum(defaults):
        assert lengths == defaults
    elif window >= minimum * len(defaults):
        assert sum(lengths) == window
        assert all(days <= default for days, default in zip(lengths, defaults, strict=True))
    else:
        assert lengths == [minimum] * len(defaults)


# --- removing and reordering planned phases --------------------------------------


@pytest.fixture
def planned(pilot: Pilot, actor: Any) -> Pilot:
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    return pilot


def test_phase_remove_deletes_a_planned_phase_and_renumbers_the_rest(planned, actor):
    shadow = planned.phases.get(kind=Phase.Kind.SHADOW)
    criteria = list(shadow.exit_criteria.all())
    services.phase_remove(phase=shadow, actor=actor)
    assert [(o, label) for o, label, *_ in ordered(planned)] == [
        (1, "Lab validation"),
        (2, "Canary"),
        (3, "Ramp to 25 %"),
        (4, "Ramp to 100 %"),
    ]
    assert not ExitCriterion.objects.filter(pk__in=[c.pk for c in criteria]).exists()
    (deleted,) = records(shadow, ChangeRecord.Action.DELETE)
    assert deleted.actor == actor and deleted.changes["kind"] == "shadow"
    assert all(records(c, ChangeRecord.Action.DELETE) for c in criteria)
    canary = planned.phases.get(kind=Phase.Kind.CANARY)
    renumbered = [r for r in records(canary, ChangeRecord.Action.UPDATE) if r.message]
    assert [(r.message, r.changes) for r in renumbered] == [("renumbered", {"order": [3, 2]})]


def test_phase_remove_refuses_a_phase_that_ran(planned, actor):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(DomainError, match="Only a planned phase can be removed; Lab validation"):
        services.phase_remove(phase=lab, actor=actor)
    assert planned.phases.count() == 5


def test_phase_reorder_swaps_positions_and_keeps_lengths_and_span(planned, actor):
    before = ordered(planned)
    shadow = planned.phases.get(kind=Phase.Kind.SHADOW)
    services.phase_reorder(phase=shadow, actor=actor, direction="up")
    after = ordered(planned)
    lab_start, shadow_end = before[0][2], before[1][3]
    assert after[0][:3] == (1, "Shadow", lab_start)
    assert (after[0][3] - after[0][2]).days == (before[1][3] - before[1][2]).days
    assert after[1][:2] == (2, "Lab validation")
    assert after[1][3] == shadow_end
    assert after[1][2] == after[0][3] + dt.timedelta(days=1)
    assert after[2:] == before[2:]
    (moved,) = [r for r in records(shadow, ChangeRecord.Action.UPDATE) if r.message]
    assert moved.message == "moved up" and moved.changes["order"] == [2, 1]
    # And back down again: the original plan.
    services.phase_reorder(phase=shadow, actor=actor, direction="down")
    assert ordered(planned) == before


def test_phase_reorder_keeps_the_gap_between_the_two(pilot, actor):
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 10), name="A")
    b = add(pilot, actor, D(2026, 2, 15), D(2026, 2, 16), name="B")
    services.phase_reorder(phase=b, actor=actor, direction="up")
    assert ordered(pilot) == [
        (1, "B", D(2026, 2, 1), D(2026, 2, 2)),
        (2, "A", D(2026, 2, 7), D(2026, 2, 16)),
    ]


def test_phase_reorder_moves_only_among_planned_phases(planned, actor):
    lab, shadow = planned.phases.order_by("order")[:2]
    with pytest.raises(DomainError, match="already the first phase"):
        services.phase_reorder(phase=lab, actor=actor, direction="up")
    last = planned.phases.order_by("order").last()
    with pytest.raises(DomainError, match="already the last phase"):
        services.phase_reorder(phase=last, actor=actor, direction="down")
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(DomainError, match="Lab validation is active, and only planned phases"):
        services.phase_reorder(phase=shadow, actor=actor, direction="up")
    with pytest.raises(DomainError, match="Only a planned phase can be moved"):
        services.phase_reorder(phase=lab, actor=actor, direction="down")
    with pytest.raises(DomainError):
        services.phase_reorder(phase=shadow, actor=actor, direction="sideways")  # type: ignore[arg-type]


def test_phase_reorder_works_with_gaps_in_the_positions(pilot, actor):
    add(pilot, actor, D(2026, 2, 1), D(2026, 2, 10), name="A", order=3)
    b = add(pilot, actor, D(2026, 2, 11), D(2026, 2, 20), name="B", order=7)
    services.phase_reorder(phase=b, actor=actor, direction="up")
    assert [(o, label) for o, label, *_ in ordered(pilot)] == [(3, "B"), (7, "A")]


# --- RACI activities ---------------------------------------------------------------


def test_activity_remove_deletes_a_custom_activity_and_its_letters(pilot, actor):
    person = UserFactory.create()
    custom = services.activity_add(pilot=pilot, actor=actor, name="Capacity planning")
    services.raci_set_matrix(
        pilot=pilot,
        actor=actor,
        matrix={custom.pk: {person.pk: "A", actor.pk: "R"}},
    )
    services.activity_remove(activity=custom, actor=actor)
    assert not RaciActivity.objects.filter(pk=custom.pk).exists()
    assert not RaciAssignment.objects.filter(activity_id=custom.pk).exists()
    assert records(custom, ChangeRecord.Action.DELETE)[0].changes["name"] == "Capacity planning"
    deleted_letters = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(RaciAssignment),
        action=ChangeRecord.Action.DELETE,
        scope=pilot.scope,
    )
    assert deleted_letters.count() == 2


def test_activity_remove_refuses_built_in_activities(pilot, actor):
    go = pilot.raci_activities.get(key=RaciActivity.Key.GO_NO_GO)
    with pytest.raises(DomainError, match="Go/no-go decision is a built-in activity"):
        services.activity_remove(activity=go, actor=actor)
    assert pilot.raci_activities.count() == 5


# --- backends fixed once a phase ran -------------------------------------------------


def test_backends_change_freely_before_any_phase_ran(planned, actor):
    other = BackendFactory.create()
    services.pilot_update(pilot=planned, actor=actor, data={"candidate_backend": other})
    planned.refresh_from_db()
    assert planned.candidate_backend == other


def test_backends_are_fixed_once_a_phase_is_active(planned, actor):
    services.phase_start(phase=planned.phases.get(order=1), actor=actor)
    other, another = BackendFactory.create(), BackendFactory.create()
    with pytest.raises(DomainError) as caught:
        services.pilot_update(
            pilot=planned,
            actor=actor,
            data={"candidate_backend": other, "baseline_backend": another, "team": "x"},
        )
    errors = caught.value.message_dict
    assert set(errors) == {"candidate_backend", "baseline_backend"}
    assert (
        "The candidate backend cannot change: a phase of this pilot has run"
        in (errors["candidate_backend"][0])
    )
    planned.refresh_from_db()
    assert planned.team == "search"
    # Saving the same backends (a form always sends them) is no change.
    services.pilot_update(
        pilot=planned,
        actor=actor,
        data={
            "candidate_backend": planned.candidate_backend,
            "baseline_backend": planned.baseline_backend,
            "team": "x",
        },
    )
    planned.refresh_from_db()
    assert planned.team == "x"


def test_backends_are_fixed_after_a_passed_phase(planned, actor):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=actor)
    services.phase_pass(phase=lab, actor=actor)
    with pytest.raises(DomainError, match="baseline backend cannot change"):
        services.pilot_update(
            pilot=planned, actor=actor, data={"baseline_backend": BackendFactory.create()}
        )


# --- exit-criterion thresholds by metric ---------------------------------------------

M = ExitCriterion.Metric
ABS, REL = ExitCriterion.Comparison.ABSOLUTE, ExitCriterion.Comparison.RELATIVE


@pytest.mark.parametrize(
    ("metric", "comparison", "threshold", "field", "message"),
    [
        (M.E2E_LATENCY_P99, ABS, "0", "threshold", "latency threshold is a time in seconds"),
        (M.TTFT_P99, ABS, "-0.2", "threshold", "latency threshold"),
        (M.ERROR_RATE, ABS, "1.5", "threshold", "fraction between 0 and 1 (0.005 means 0.5 %)"),
        (M.ERROR_RATE, ABS, "-0.001", "threshold", "fraction between 0 and 1"),
        (M.THROTTLE_EVENTS, ABS, "-1", "threshold", "Throttle events cannot be negative."),
        (M.THROTTLE_SECONDS, ABS, "-1", "threshold", "Throttle time (s) cannot be negative."),
        (M.COST_PER_1M_TOKENS, REL, "0", "threshold", "ratio to baseline must be greater"),
        (M.ERROR_RATE, REL, "-1", "threshold", "ratio to baseline must be greater"),
    ],
)
def test_exit_criterion_thresholds_are_checked_by_metric(
    planned, actor, metric, comparison, threshold, field, message
):
    phase = planned.phases.get(order=1)
    with pytest.raises(DomainError) as caught:
        services.exit_criterion_add(
            phase=phase,
            actor=actor,
            metric=metric,
            comparison=comparison,
            direction=ExitCriterion.Direction.AT_MOST,
            threshold=Decimal(threshold),
        )
    assert message in caught.value.message_dict[field][0]


@pytest.mark.parametrize(
    ("metric", "comparison", "threshold"),
    [
        (M.E2E_LATENCY_P999, ABS, "0.8"),
        (M.ERROR_RATE, ABS, "0"),
        (M.ERROR_RATE, ABS, "0.005"),
        (M.ERROR_RATE, ABS, "1"),
        (M.THROTTLE_EVENTS, ABS, "0"),
        (M.THROTTLE_SECONDS, ABS, "0"),
        (M.MAX_TEMPERATURE, ABS, "85"),
    ],
)
def test_exit_criterion_thresholds_in_range_are_accepted(
    pilot, actor, metric, comparison, threshold
):
    phase = add(pilot, actor, D(2026, 2, 1), D(2026, 2, 28))
    criterion = services.exit_criterion_add(
        phase=phase,
        actor=actor,
        metric=metric,
        comparison=comparison,
        direction=ExitCriterion.Direction.AT_MOST,
        threshold=Decimal(threshold),
    )
    criterion.refresh_from_db()
    assert criterion.threshold == Decimal(threshold)


def test_exit_criterion_weight_is_at_least_one(planned, actor):
    phase = planned.phases.get(order=1)
    with pytest.raises(DomainError) as caught:
        services.exit_criterion_add(
            phase=phase,
            actor=actor,
            metric=M.TTFT_P99,
            comparison=REL,
            direction=ExitCriterion.Direction.AT_MOST,
            threshold=Decimal("1.1"),
            weight=0,
        )
    assert caught.value.message_dict == {"weight": ["A weight is a whole number of at least 1."]}
    criterion = phase.exit_criteria.first()
    with pytest.raises(DomainError, match="latency threshold"):
        services.exit_criterion_update(
            criterion=criterion,
            actor=actor,
            data={"comparison": ABS, "threshold": Decimal("0")},
        )


# --- why a pilot stopped ---------------------------------------------------------------


def test_failing_a_phase_keeps_the_reason_on_the_phase_and_the_pilot_record(planned, actor):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=actor)
    services.phase_fail(phase=lab, actor=actor, message="p99 regression under mixed load")
    lab.refresh_from_db()
    assert lab.outcome_note == "p99 regression under mixed load"
    planned.refresh_from_db()
    (stopped,) = [r for r in records(planned, ChangeRecord.Action.UPDATE) if "failed" in r.message]
    assert stopped.message == "Lab validation failed: p99 regression under mixed load"
    assert stopped.changes["status"] == ["active", "stopped"]


def test_a_transition_without_a_message_keeps_no_note(planned, actor):
    lab = planned.phases.get(order=1)
    services.phase_start(phase=lab, actor=actor)
    services.phase_pass(phase=lab, actor=actor)
    lab.refresh_from_db()
    assert lab.outcome_note == ""
