"""Recording changes: what a snapshot holds and when an update is recorded."""

from decimal import Decimal

import pytest

from pilots.models import Phase
from portal.audit import record_change, snapshot
from portal.models import ChangeRecord
from tests.factories import PhaseFactory

pytestmark = pytest.mark.django_db


def test_decimal_set_in_code_equals_the_stored_value():
    phase = PhaseFactory.create(traffic_percent=Decimal("5.00"))
    before = snapshot(Phase.objects.get(pk=phase.pk))
    phase.traffic_percent = Decimal("5")
    assert snapshot(phase)["traffic_percent"] == before["traffic_percent"] == "5"
    recorded = record_change(
        actor=None, instance=phase, action="update", before=before, after=snapshot(phase)
    )
    assert recorded is None
    assert not ChangeRecord.objects.exists()


def test_decimals_are_recorded_as_stored_without_trailing_zeros():
    phase = PhaseFactory.create(traffic_percent=Decimal("12.50"))
    assert snapshot(Phase.objects.get(pk=phase.pk))["traffic_percent"] == "12.5"
    phase.traffic_percent = Decimal("100")
    assert snapshot(phase)["traffic_percent"] == "100"


def test_update_records_only_changed_fields_with_old_and_new():
    phase = PhaseFactory.create(traffic_percent=Decimal("5"), name="Ramp")
    before = snapshot(phase)
    phase.traffic_percent = Decimal("25")
    record = record_change(
        actor=None, instance=phase, action="update", before=before, after=snapshot(phase)
    )
    assert record is not None
    assert record.changes == {"traffic_percent": ["5", "25"]}
    assert record.object_id == str(phase.pk)
