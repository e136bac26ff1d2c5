"""Rules the database holds, checked below the services."""

import pytest
from django.db import IntegrityError, transaction

from pilots.models import Phase, Pilot, RaciAssignment
from tests.factories import (
    BackendFactory,
    PhaseFactory,
    PilotFactory,
    RaciActivityFactory,
    RaciAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_database_rejects_pilot_with_same_candidate_and_baseline():
    backend = BackendFactory.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        PilotFactory.create(candidate_backend=backend, baseline_backend=backend)
    assert not Pilot.objects.exists()


def test_database_rejects_second_active_phase():
    pilot = PilotFactory.create()
    PhaseFactory.create(pilot=pilot, order=1, status=Phase.Status.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        PhaseFactory.create(pilot=pilot, order=2, status=Phase.Status.ACTIVE)


def test_two_pilots_may_each_have_an_active_phase():
    PhaseFactory.create(status=Phase.Status.ACTIVE)
    PhaseFactory.create(status=Phase.Status.ACTIVE)
    assert Phase.objects.filter(status=Phase.Status.ACTIVE).count() == 2


def test_database_rejects_second_accountable_per_activity():
    activity = RaciActivityFactory.create()
    RaciAssignmentFactory.create(activity=activity, letter=RaciAssignment.Letter.ACCOUNTABLE)
    with pytest.raises(IntegrityError), transaction.atomic():
        RaciAssignmentFactory.create(activity=activity, letter=RaciAssignment.Letter.ACCOUNTABLE)


def test_database_allows_many_responsibles_per_activity():
    activity = RaciActivityFactory.create()
    RaciAssignmentFactory.create(activity=activity, user=UserFactory.create())
    RaciAssignmentFactory.create(activity=activity, user=UserFactory.create())
    assert activity.assignments.count() == 2


def test_full_clean_names_the_backend_rule():
    backend = BackendFactory.create()
    pilot = PilotFactory.build(candidate_backend=backend, baseline_backend=backend)
    with pytest.raises(Exception, match="candidate and baseline backends must differ"):
        pilot.full_clean()


def test_names_read_as_people_and_labels():
    activity = RaciActivityFactory.create(name="Go/no-go decision")
    named = UserFactory.create(username="ana", first_name="Ana", last_name="Approver")
    bare = UserFactory.create(username="theo", first_name="", last_name="")
    a = RaciAssignmentFactory.create(activity=activity, user=named, letter="A")
    r = RaciAssignmentFactory.create(activity=activity, user=bare, letter="R")
    assert str(a) == "Go/no-go decision: A Ana Approver"
    assert str(r) == "Go/no-go decision: R theo"
    assert str(PhaseFactory.build(kind=Phase.Kind.CANARY, name="")).endswith("· Canary")
