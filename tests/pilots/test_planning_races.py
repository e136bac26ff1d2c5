"""Two program managers planning the same pilot at the same moment."""

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, connections

from pilots import services
from pilots.models import Phase
from pilots.services import DomainError
from pilots.services import phases as phase_services
from tests.factories import PilotFactory, UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_phases_added_at_once_one_is_refused(monkeypatch):
    pilot = PilotFactory.create()
    actor = UserFactory.create()
    check = phase_services._check_overlap

    def slow_check(phase: Phase, others: Any) -> None:
        # Widen the window between reading the plan and writing the phase:
        # without the pilot's row lock both writers see an empty plan.
        check(phase, others)
        time.sleep(0.3)

    monkeypatch.setattr(phase_services, "_check_overlap", slow_check)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(name: str) -> None:
        try:
            barrier.wait()
            services.phase_create(
                pilot=pilot,
                actor=actor,
                kind=Phase.Kind.CANARY,
                name=name,
                planned_start=dt.date(2026, 2, 1),
                planned_end=dt.date(2026, 2, 28),
            )
            outcomes.append("added")
        except DomainError as error:
            outcomes.append("refused: " + " ".join(error.messages))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(f"Canary {i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert connection.vendor == "postgresql"
    assert sorted(o.split(":")[0] for o in outcomes) == ["added", "refused"]
    assert Phase.objects.filter(pilot=pilot).count() == 1
