"""Budgets (issue 10, §4): spend and forecast, and alerts once per
threshold per month whatever the number of workers."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from costs.models import Budget
from costs.selectors import Period
from costs.services import budget_set, budget_statuses, budgets_check, period_close
from portal.models import Notification
from tests.costs.chargeback_data import OCTOBER, build_world

pytestmark = pytest.mark.django_db

MID_OCTOBER = dt.date(2026, 10, 15)


def _spend(code: str) -> Decimal:
    world_center = Budget.objects.get(cost_center__code=code).cost_center
    (status,) = budget_statuses(period=OCTOBER, cost_centers=[world_center], today=MID_OCTOBER)
    return status.spend


def test_spend_and_straight_line_forecast(finance: Any) -> None:
    world = build_world()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("1000"),
        soft_percent=50,
        hard_percent=90,
        actor=finance,
    )
    (status,) = budget_statuses(period=OCTOBER, cost_centers=[world.search], today=MID_OCTOBER)
    assert status.spend > 0
    assert status.forecast == (status.spend * 31 / 15).quantize(Decimal("0.01"))
    assert status.soft_amount == Decimal("500.00") and status.hard_amount == Decimal("900.00")
    assert status.state == "ok"


def test_closed_month_spend_is_its_frozen_statement(finance: Any) -> None:
    world = build_world()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("1"),
        soft_percent=50,
        hard_percent=100,
        actor=finance,
    )
    before = _spend("CC-4100")
    period_close(period=OCTOBER, actor=finance)
    assert _spend("CC-4100") == before
    # Later usage does not move a closed month's spend.
    from tests.costs.chargeback_data import add_usage

    add_usage(world.backend, OCTOBER.start, team="search", tokens=1e6)
    assert _spend("CC-4100") == before


def test_soft_above_hard_is_refused_naming_the_field(finance: Any) -> None:
    world = build_world()
    with pytest.raises(ValidationError) as refused:
        budget_set(
            cost_center=world.search,
            monthly_amount=Decimal("10"),
            soft_percent=95,
            hard_percent=90,
            actor=finance,
        )
    assert "soft_percent" in refused.value.message_dict


def test_alerts_once_per_threshold_per_month(
    finance: Any, pm: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world = build_world()
    world.search.owner = pm
    world.search.save()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("0.02"),
        soft_percent=50,
        hard_percent=100,
        actor=finance,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert budgets_check(period=OCTOBER, today=MID_OCTOBER) == 2
        assert budgets_check(period=OCTOBER, today=MID_OCTOBER) == 0
    keys = sorted(Notification.objects.values_list("key", flat=True))
    assert keys == [
        f"budget:{world.search.pk}:2026-10:hard",
        f"budget:{world.search.pk}:2026-10:soft",
    ]
    sent = sorted(mail.outbox, key=lambda m: m.subject)
    assert len(sent) == 2
    assert "Budget hard threshold reached: CC-4100 in 2026-10" in sent[0].subject
    assert "Budget soft threshold reached: CC-4100 in 2026-10" in sent[1].subject
    assert set(sent[0].to) == {pm.email, finance.email}
    # Another month is another alert.
    assert budgets_check(period=Period(2026, 11), today=dt.date(2026, 11, 20)) == 0


def test_below_thresholds_nobody_is_told(finance: Any) -> None:
    world = build_world()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("1000000"),
        soft_percent=80,
        hard_percent=100,
        actor=finance,
    )
    assert budgets_check(period=OCTOBER, today=MID_OCTOBER) == 0
    assert not Notification.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_notify_once_per_threshold(make_user: Any) -> None:
    from portal.roles import Role

    finance = make_user("fin-race", Role.FINANCE)
    world = build_world()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("0.02"),
        soft_percent=50,
        hard_percent=100,
        actor=finance,
    )
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            counts.append(budgets_check(period=OCTOBER, today=MID_OCTOBER))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(counts) == 2
    assert Notification.objects.filter(kind="budget").count() == 2
