"""Reads: current phase annotation, home dashboard, change log, RACI grid."""

import datetime as dt

import pytest

from pilots import selectors, services
from pilots.models import Phase, Pilot
from portal.models import ChangeRecord
from tests.factories import PhaseFactory, PilotFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 10)


def current(pilot):
    return selectors.pilot_list().get(pk=pilot.pk)


def test_current_phase_is_the_active_one():
    pilot = PilotFactory.create()
    PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.PASSED)
    PhaseFactory.create(pilot=pilot, order=2, kind=Phase.Kind.SHADOW, status=Phase.Status.ACTIVE)
    PhaseFactory.create(pilot=pilot, order=3, kind=Phase.Kind.CANARY)
    row = current(pilot)
    assert (row.current_phase_kind, row.current_phase_status) == ("shadow", "active")
    assert row.current_phase_label == "Shadow"


def test_current_phase_is_the_next_planned_when_none_active():
    pilot = PilotFactory.create()
    PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.PASSED)
    PhaseFactory.create(pilot=pilot, order=2, kind=Phase.Kind.CANARY, name="Canary EU")
    PhaseFactory.create(pilot=pilot, order=3, kind=Phase.Kind.PRODUCTION_RAMP)
    row = current(pilot)
    assert (row.current_phase_kind, row.current_phase_status) == ("canary", "planned")
    assert row.current_phase_label == "Canary EU"


def test_current_phase_of_a_stopped_pilot_is_the_failed_one():
    pilot = PilotFactory.create(status=Pilot.Status.STOPPED)
    PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.PASSED)
    PhaseFactory.create(pilot=pilot, order=2, kind=Phase.Kind.SHADOW, status=Phase.Status.FAILED)
    PhaseFactory.create(pilot=pilot, order=3, kind=Phase.Kind.CANARY)
    row = current(pilot)
    assert (row.current_phase_kind, row.current_phase_status) == ("shadow", "failed")


def test_current_phase_of_a_completed_pilot_is_the_last():
    pilot = PilotFactory.create(status=Pilot.Status.COMPLETED)
    PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.PASSED)
    PhaseFactory.create(pilot=pilot, order=2, kind=Phase.Kind.CANARY, status=Phase.Status.PASSED)
    assert current(pilot).current_phase_kind == "canary"


def test_pilot_without_phases_has_no_current_phase():
    assert current(PilotFactory.create()).current_phase_kind is None


def test_home_groups_open_pilots_by_current_phase():
    shadow_pilot = PilotFactory.create(name="S", status=Pilot.Status.ACTIVE)
    PhaseFactory.create(
        pilot=shadow_pilot, order=1, kind=Phase.Kind.SHADOW, status=Phase.Status.ACTIVE
    )
    PilotFactory.create(name="Unplanned")
    done = PilotFactory.create(name="Done", status=Pilot.Status.COMPLETED)
    PhaseFactory.create(pilot=done, order=1, status=Phase.Status.PASSED)
    dashboard = selectors.home_dashboard(today=TODAY)
    groups = {g.label: [p.name for p in g.pilots] for g in dashboard.groups}
    assert groups == {"Shadow": ["S"], "Not planned": ["Unplanned"]}
    assert dashboard.closed_count == 1


def test_home_lists_phases_ending_soon_and_overdue():
    pilot = PilotFactory.create(status=Pilot.Status.ACTIVE)
    overdue = PhaseFactory.create(
        pilot=pilot,
        order=1,
        status=Phase.Status.ACTIVE,
        planned_start=dt.date(2026, 1, 1),
        planned_end=TODAY - dt.timedelta(days=1),
    )
    soon = PhaseFactory.create(
        pilot=pilot, order=2, planned_start=TODAY, planned_end=TODAY + dt.timedelta(days=14)
    )
    PhaseFactory.create(
        pilot=pilot, order=3, planned_start=TODAY, planned_end=TODAY + dt.timedelta(days=15)
    )
    PhaseFactory.create(
        pilot=pilot,
        order=4,
        status=Phase.Status.SKIPPED,
        planned_start=dt.date(2026, 1, 1),
        planned_end=dt.date(2026, 1, 2),
    )
    stopped = PilotFactory.create(status=Pilot.Status.STOPPED)
    PhaseFactory.create(
        pilot=stopped, order=1, planned_start=dt.date(2026, 1, 1), planned_end=TODAY
    )
    dashboard = selectors.home_dashboard(today=TODAY)
    assert dashboard.overdue == [overdue]
    assert dashboard.ending_soon == [soon]


def test_changelog_is_the_pilots_scope_newest_first():
    actor = UserFactory.create()
    pilot = PilotFactory.create()
    other = PilotFactory.create()
    services.pilot_update(pilot=pilot, actor=actor, data={"team": "a"})
    services.pilot_update(pilot=pilot, actor=actor, data={"team": "b"})
    services.pilot_update(pilot=other, actor=actor, data={"team": "c"})
    log = list(selectors.pilot_changelog(pilot=pilot))
    assert [r.changes["team"][1] for r in log] == ["b", "a"]
    assert all(r.actor == actor for r in log)
    assert ChangeRecord.objects.count() == 3


def test_raci_people_are_role_holders_and_assignees(make_user):
    pm = make_user("p", "program_manager")
    make_user("nobody")
    inactive = make_user("gone", "finance", is_active=False)
    pilot = PilotFactory.create()
    go = pilot.raci_activities.create(name="Go", key="go_no_go")
    go.assignments.create(user=inactive, letter="A")
    matrix = selectors.raci_matrix(pilot=pilot)
    assert {u.username for u in matrix.people} == {"p", "gone"}
    assert matrix.letters == {(go.pk, inactive.pk): "A"}
    assert pm in matrix.people
