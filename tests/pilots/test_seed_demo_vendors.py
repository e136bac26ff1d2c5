"""The vendor demo data shows each state of issue 12 and loads once."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from pilots.models import Contract, Incident
from pilots.selectors_vendors import contract_compliance, contracts_near_notice, stock_below_reorder
from reviews.models import RedFlag


@pytest.mark.django_db(transaction=True)
def test_seed_shows_each_state_and_is_idempotent():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo_vendors")
    call_command("seed_demo_vendors")

    assert Contract.objects.count() == 2
    assert Incident.objects.count() == 4
    today = timezone.now().date()
    assert [c.reference for c in contracts_near_notice(today=today)] == ["DEMO-CS3-SUPPORT"]
    support = Contract.objects.get(reference="DEMO-CS3-SUPPORT")
    now = timezone.now()
    months = sorted({(i.opened_at.year, i.opened_at.month) for i in support.incidents.all()})
    first, last = months[0], (now.year, now.month)
    from pilots import sla

    report = contract_compliance(support, months=sla.month_range(first, last), now=now)
    assert report.total.breached == 1
    assert report.total.credits == sum(m.credits for m in report.months) > 0
    assert [s.part.part_number for s in stock_below_reorder()] == ["CS3-SYSMOD"]
    canary = RedFlag.objects.filter(
        pilot__name="Chat assistant on wafer-scale", cleared_at__isnull=True
    )
    assert {"contract_ending", "spares_below_reorder", "firmware_drift"} <= set(
        canary.values_list("kind", flat=True)
    )
