"""Pilot, phase, exit-criterion and RACI services: rules, messages, audit."""

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from pilots import services
from pilots.models import (
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
)
from pilots.services import DomainError, TransitionError
from portal.models import ChangeRecord
from tests.factories import BackendFactory, CostCenterFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_pilot(actor, **overrides):
    CostCenterFactory.create(code="CC-1")
    fields: dict[str, Any] = {
        "name": "Wafer pilot",
        "model_name": "llama-3-70b",
        "candidate_backend": BackendFactory.create(),
        "baseline_backend": BackendFactory.create(),
        "team": "search",
        "cost_center": "CC-1",
        "target_start": dt.date(2026, 1, 5),
        "target_end": dt.date(2026, 9, 30),
    }
    fields.update(overrides)
    return services.pilot_create(actor=actor, **fields)


@pytest.fixture
def actor():
    return UserFactory.create(username="alice", first_name="Alice", last_name="")


@pytest.fixture
def planned(actor):
    pilot = make_pilot(actor)
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    return pilot


def phases_of(pilot):
    return list(pilot.phases.order_by("order"))


# --- pilots -------------------------------------------------------------------


def test_pilot_create_adds_default_activities_and_unanswered_checklist(actor):
    pilot = make_pilot(actor)
    assert pilot.status == Pilot.Status.DRAFT
    assert pilot.created_by == actor
    keys = list(pilot.raci_activities.values_list("key", flat=True))
    assert keys == [k.value for k in services.DEFAULT_ACTIVITIES]
    assert pilot.raci_activities.get(key=RaciActivity.Key.GO_NO_GO).name == "Go/no-go decision"
    answers = pilot.readiness_answers.all()
    assert sorted(a.question for a in answers) == sorted(ReadinessAnswer.Question.values)
    assert {a.answer for a in answers} == {ReadinessAnswer.Answer.UNKNOWN}


def test_pilot_create_records_creation_with_actor(actor):
    pilot = make_pilot(actor)
    record = ChangeRecord.objects.get(
        content_type=ContentType.objects.get_for_model(Pilot), object_id=str(pilot.pk)
    )
    assert record.actor == actor
    assert record.action == ChangeRecord.Action.CREATE
    assert record.scope == pilot.scope
    assert record.changes["name"] == "Wafer pilot"


def test_pilot_create_rejects_same_backends_and_writes_nothing(actor):
    backend = BackendFactory.create()
    with pytest.raises(ValidationError, match="must differ"):
        make_pilot(actor, candidate_backend=backend, baseline_backend=backend)
    assert not Pilot.objects.exists()
    assert not RaciActivity.objects.exists()
    assert not ChangeRecord.objects.exists()


def test_pilot_update_records_old_and_new_values(actor):
    pilot = make_pilot(actor)
    services.pilot_update(pilot=pilot, actor=actor, data={"team": "ads", "cost_center": "CC-1"})
    record = ChangeRecord.objects.filter(action=ChangeRecord.Action.UPDATE).get()
    assert record.changes == {"team": ["search", "ads"]}
    assert record.actor == actor


def test_pilot_update_refuses_status(actor):
    pilot = make_pilot(actor)
    with pytest.raises(DomainError, match="cannot be edited here: status"):
        services.pilot_update(pilot=pilot, actor=actor, data={"status": "completed"})


# --- planning -----------------------------------------------------------------


def test_default_plan_is_consecutive_from_target_start(planned):
    phases = phases_of(planned)
    assert [p.kind for p in phases[:3]] == ["lab_validation", "shadow", "canary"]
    assert {p.kind for p in phases[3:]} == {"production_ramp"}
    assert phases[0].planned_start == planned.target_start
    assert (phases[0].planned_end - phases[0].planned_start).days + 1 == 28
    assert (phases[1].planned_end - phases[1].planned_start).days + 1 == 42
    assert 42 <= (phases[2].planned_end - phases[2].planned_start).days + 1 <= 56
    for previous, following in itertools.pairwise(phases):
        assert following.planned_start == previous.planned_end + dt.timedelta(days=1)
    assert [p.order for p in phases] == list(range(1, len(phases) + 1))


def test_default_plan_brings_exit_criteria(planned):
    canary = planned.phases.get(kind=Phase.Kind.CANARY)
    criteria = {(c.metric, c.comparison): c.threshold for c in canary.exit_criteria.all()}
    assert criteria[("e2e_latency_p99", "relative")] == Decimal("1.0")
    assert criteria[("cost_per_1m_tokens", "relative")] == Decimal("0.9")
    assert criteria[("throttle_events", "absolute")] == Decimal("0")
    assert criteria[("error_rate", "absolute")] == Decimal("0.001")


def test_default_plan_refused_when_pilot_has_phases(planned, actor):
    with pytest.raises(DomainError, match="already has phases"):
        services.phase_plan_defaults(pilot=planned, actor=actor)


def test_phase_create_goes_last_and_is_audited(planned, actor):
    phase = services.phase_create(
        pilot=planned,
        actor=actor,
        kind=Phase.Kind.PRODUCTION_RAMP,
        name="Ramp EU",
        planned_start=dt.date(2026, 10, 1),
        planned_end=dt.date(2026, 10, 14),
        traffic_percent=Decimal("50"),
    )
    assert phase.order == 6
    assert ChangeRecord.objects.filter(object_id=str(phase.pk), scope=planned.scope).exists()


def test_phase_create_rejects_end_before_start(planned, actor):
    with pytest.raises(ValidationError, match="planned end cannot be before"):
        services.phase_create(
            pilot=planned,
            actor=actor,
            kind=Phase.Kind.CANARY,
            planned_start=dt.date(2026, 10, 1),
            planned_end=dt.date(2026, 9, 1),
        )


def test_phase_update_only_while_planned(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    lab.refresh_from_db()
    with pytest.raises(
        DomainError, match="Only a planned phase can be edited; Lab validation is active"
    ):
        services.phase_update(phase=lab, actor=actor, data={"traffic_percent": Decimal("1")})


def test_phase_update_records_old_and_new(planned, actor):
    shadow = phases_of(planned)[1]
    services.phase_update(phase=shadow, actor=actor, data={"traffic_percent": Decimal("2.50")})
    record = ChangeRecord.objects.get(
        content_type=ContentType.objects.get_for_model(Phase),
        object_id=str(shadow.pk),
        action=ChangeRecord.Action.UPDATE,
    )
    # Decimals are recorded as stored, without trailing zeros (portal.audit).
    assert record.changes == {"traffic_percent": ["0", "2.5"]}


# --- transitions --------------------------------------------------------------


def test_legal_sequence_start_pass_start_next(planned, actor):
    lab, shadow, *_ = phases_of(planned)
    services.phase_start(phase=lab, actor=actor)
    planned.refresh_from_db()
    assert planned.status == Pilot.Status.ACTIVE
    services.phase_pass(phase=lab, actor=actor)
    services.phase_start(phase=shadow, actor=actor)
    lab.refresh_from_db()
    shadow.refresh_from_db()
    assert lab.status == Phase.Status.PASSED
    assert lab.actual_end is not None
    assert shadow.status == Phase.Status.ACTIVE
    assert shadow.actual_start is not None


def test_cannot_start_while_another_phase_is_active(planned, actor):
    lab, shadow, *_ = phases_of(planned)
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(
        TransitionError, match="Cannot start Shadow: Lab validation is still active"
    ):
        services.phase_start(phase=shadow, actor=actor)


def test_cannot_start_out_of_order(planned, actor):
    _lab, _shadow, canary, *_ = phases_of(planned)
    with pytest.raises(
        TransitionError, match="Cannot start Canary: Lab validation comes first and is planned"
    ):
        services.phase_start(phase=canary, actor=actor)


def test_skipped_phase_lets_the_next_start(planned, actor):
    lab, shadow, *_ = phases_of(planned)
    services.phase_skip(phase=lab, actor=actor)
    services.phase_start(phase=shadow, actor=actor)
    shadow.refresh_from_db()
    assert shadow.status == Phase.Status.ACTIVE


def test_only_planned_phase_can_be_started(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(
        TransitionError, match="Only a planned phase can be started; Lab validation is active"
    ):
        services.phase_start(phase=lab, actor=actor)


def test_only_active_phase_can_be_passed(planned, actor):
    lab = phases_of(planned)[0]
    with pytest.raises(
        TransitionError, match="Only an active phase can be passed; Lab validation is planned"
    ):
        services.phase_pass(phase=lab, actor=actor)


def test_only_active_phase_can_be_failed(planned, actor):
    lab = phases_of(planned)[0]
    with pytest.raises(TransitionError, match="phase can be failed; Lab validation is planned"):
        services.phase_fail(phase=lab, actor=actor)


def test_only_planned_phase_can_be_skipped(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(TransitionError, match="Only a planned phase can be skipped"):
        services.phase_skip(phase=lab, actor=actor)


def test_passed_phase_cannot_be_extended(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    services.phase_pass(phase=lab, actor=actor)
    with pytest.raises(TransitionError, match="can be extended; Lab validation is passed"):
        services.phase_extend(phase=lab, actor=actor, planned_end=dt.date(2027, 1, 1))


def test_fail_stops_the_pilot_and_nothing_starts_after(planned, actor):
    lab, shadow, *_ = phases_of(planned)
    services.phase_start(phase=lab, actor=actor)
    services.phase_fail(phase=lab, actor=actor)
    planned.refresh_from_db()
    assert planned.status == Pilot.Status.STOPPED
    with pytest.raises(TransitionError, match="Cannot start Shadow: the pilot is stopped"):
        services.phase_start(phase=shadow, actor=actor)


def test_passing_the_last_phase_completes_the_pilot(actor):
    pilot = make_pilot(actor)
    services.phase_plan_defaults(pilot=pilot, actor=actor)
    for phase in phases_of(pilot):
        services.phase_start(phase=phase, actor=actor)
        pilot.refresh_from_db()
        assert pilot.status == Pilot.Status.ACTIVE
        services.phase_pass(phase=phase, actor=actor)
    pilot.refresh_from_db()
    assert pilot.status == Pilot.Status.COMPLETED


def test_extend_moves_planned_end_and_records_it(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    old_end = lab.planned_end
    new_end = old_end + dt.timedelta(weeks=2)
    services.phase_extend(phase=lab, actor=actor, planned_end=new_end, message="more soak time")
    lab.refresh_from_db()
    assert lab.planned_end == new_end
    assert lab.status == Phase.Status.ACTIVE
    record = ChangeRecord.objects.filter(object_id=str(lab.pk), message="more soak time").get()
    assert record.changes == {"planned_end": [old_end.isoformat(), new_end.isoformat()]}


def test_extend_refuses_an_earlier_end(planned, actor):
    lab = phases_of(planned)[0]
    with pytest.raises(TransitionError, match="moves the planned end later"):
        services.phase_extend(phase=lab, actor=actor, planned_end=lab.planned_end)


def test_start_records_status_change_with_actor(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    record = ChangeRecord.objects.get(
        content_type=ContentType.objects.get_for_model(Phase),
        object_id=str(lab.pk),
        action=ChangeRecord.Action.UPDATE,
    )
    assert record.changes["status"] == ["planned", "active"]
    assert record.actor == actor
    pilot_record = ChangeRecord.objects.get(
        content_type=ContentType.objects.get_for_model(Pilot), action=ChangeRecord.Action.UPDATE
    )
    assert pilot_record.changes == {"status": ["draft", "active"]}


def test_next_startable_phase(planned, actor):
    lab, shadow, *_ = phases_of(planned)
    assert services.next_startable_phase(phases_of(planned)) == lab
    services.phase_start(phase=lab, actor=actor)
    assert services.next_startable_phase(phases_of(planned)) is None
    services.phase_pass(phase=lab, actor=actor)
    assert services.next_startable_phase(phases_of(planned)) == shadow


# --- exit criteria ------------------------------------------------------------


def test_exit_criterion_add_update_remove_are_audited(actor):
    pilot = make_pilot(actor)
    phase = services.phase_create(
        pilot=pilot,
        actor=actor,
        kind=Phase.Kind.CANARY,
        planned_start=dt.date(2026, 2, 1),
        planned_end=dt.date(2026, 3, 1),
    )
    criterion = services.exit_criterion_add(
        phase=phase,
        actor=actor,
        metric=ExitCriterion.Metric.ERROR_RATE,
        comparison=ExitCriterion.Comparison.ABSOLUTE,
        direction=ExitCriterion.Direction.AT_MOST,
        threshold=Decimal("0.001"),
    )
    services.exit_criterion_update(
        criterion=criterion, actor=actor, data={"threshold": Decimal("0.002")}
    )
    services.exit_criterion_remove(criterion=criterion, actor=actor)
    assert not ExitCriterion.objects.exists()
    records = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(ExitCriterion)
    ).order_by("id")
    assert [r.action for r in records] == ["create", "update", "delete"]
    assert records[1].changes == {"threshold": ["0.001", "0.002"]}


def test_exit_criterion_duplicate_metric_is_refused(planned, actor):
    canary = planned.phases.get(kind=Phase.Kind.CANARY)
    with pytest.raises(ValidationError, match="already has a criterion on this metric"):
        services.exit_criterion_add(
            phase=canary,
            actor=actor,
            metric=ExitCriterion.Metric.ERROR_RATE,
            comparison=ExitCriterion.Comparison.ABSOLUTE,
            direction=ExitCriterion.Direction.AT_MOST,
            threshold=Decimal("0.01"),
        )


def test_exit_criteria_of_a_passed_phase_are_fixed(planned, actor):
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    services.phase_pass(phase=lab, actor=actor)
    criterion = lab.exit_criteria.first()
    with pytest.raises(DomainError, match="exit criteria of Lab validation are fixed"):
        services.exit_criterion_remove(criterion=criterion, actor=actor)


# --- RACI ---------------------------------------------------------------------


@pytest.fixture
def people():
    return {
        "bob": UserFactory.create(username="bob", first_name="Bob", last_name="Builder"),
        "cleo": UserFactory.create(username="cleo", first_name="Cleo", last_name="Ops"),
    }


def go_no_go(pilot):
    return pilot.raci_activities.get(key=RaciActivity.Key.GO_NO_GO)


def test_raci_matrix_sets_letters_and_records_them(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    services.raci_set_matrix(
        pilot=pilot,
        actor=actor,
        matrix={activity.pk: {actor.pk: "A", people["bob"].pk: "R", people["cleo"].pk: "I"}},
    )
    letters = {a.user.username: a.letter for a in activity.assignments.select_related("user")}
    assert letters == {"alice": "A", "bob": "R", "cleo": "I"}
    assert services.accountable_for(pilot) == actor
    assert (
        ChangeRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(RaciAssignment), scope=pilot.scope
        ).count()
        == 3
    )


def test_rejects_second_accountable(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "A", people["bob"].pk: "R"}}
    )
    with pytest.raises(DomainError) as excinfo:
        services.raci_set_matrix(
            pilot=pilot, actor=actor, matrix={activity.pk: {people["cleo"].pk: "A"}}
        )
    assert excinfo.value.message_dict == {
        str(activity.pk): ["Go/no-go decision already has an Accountable: Alice"]
    }
    assert activity.assignments.count() == 2


def test_rejects_activity_without_responsible(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    with pytest.raises(DomainError, match="Go/no-go decision needs at least one Responsible"):
        services.raci_set_matrix(
            pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "A", people["bob"].pk: "C"}}
        )
    assert not RaciAssignment.objects.exists()


def test_rejects_activity_without_accountable(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    with pytest.raises(DomainError, match="needs exactly one Accountable"):
        services.raci_set_matrix(pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "R"}})


def test_matrix_is_all_or_nothing(actor, people):
    pilot = make_pilot(actor)
    good, bad = pilot.raci_activities.all()[:2]
    with pytest.raises(DomainError):
        services.raci_set_matrix(
            pilot=pilot,
            actor=actor,
            matrix={good.pk: {actor.pk: "A", people["bob"].pk: "R"}, bad.pk: {actor.pk: "C"}},
        )
    assert not RaciAssignment.objects.exists()
    assert not ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(RaciAssignment)
    ).exists()


def test_accountable_can_be_handed_over(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    bob = people["bob"]
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "A", bob.pk: "R"}}
    )
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "R", bob.pk: "A"}}
    )
    assert services.accountable_for(pilot) == bob


def test_clearing_an_activity_is_allowed(actor, people):
    pilot = make_pilot(actor)
    activity = go_no_go(pilot)
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: "A", people["bob"].pk: "R"}}
    )
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={activity.pk: {actor.pk: None, people["bob"].pk: ""}}
    )
    assert not activity.assignments.exists()
    assert ChangeRecord.objects.filter(action=ChangeRecord.Action.DELETE).count() == 2


def test_activity_add_appends_custom_activity(actor):
    pilot = make_pilot(actor)
    activity = services.activity_add(pilot=pilot, actor=actor, name="Capacity planning")
    assert activity.key == ""
    assert activity.order == 6
    with pytest.raises(ValidationError, match="already has an activity with this name"):
        services.activity_add(pilot=pilot, actor=actor, name="Capacity planning")


def test_phase_update_rereads_a_stale_copy(planned, actor):
    lab = phases_of(planned)[0]
    stale = Phase.objects.get(pk=lab.pk)
    services.phase_start(phase=lab, actor=actor)
    with pytest.raises(DomainError, match="Lab validation is active"):
        services.phase_update(phase=stale, actor=actor, data={"name": "Renamed"})


def test_pilot_update_rereads_a_stale_copy(planned, actor):
    stale = Pilot.objects.get(pk=planned.pk)
    lab = phases_of(planned)[0]
    services.phase_start(phase=lab, actor=actor)
    services.phase_fail(phase=lab, actor=actor)
    with pytest.raises(DomainError, match="is stopped; it can no longer be edited"):
        services.pilot_update(pilot=stale, actor=actor, data={"team": "late"})
