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
from rest_framework.test import APIClient

from costs.models import Budget, CostCenter, UsageMapping
from costs.selectors import Period
from costs.services import budget_set, budget_statuses, budgets_check, period_close
from costs.services.budgets import BudgetStatus
from pilots.models import Backend
from portal.models import Notification
from tests.costs.chargeback_data import OCTOBER, build_world
from tests.costs.conftest import DAY, cloud, owned, refresh

pytestmark = pytest.mark.django_db

MID_OCTOBER = dt.date(2026, 10, 15)
MARCH = Period(2026, 3)


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


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_spend_below_the_exact_soft_threshold_is_not_soft(
    gpu: Backend, platform: CostCenter, finance: Any
) -> None:
    # March: an owned backend whose only cost is 80.02 of opex, nobody
    # uses it, so the platform carries all of it as idle: spend 80.02.
    owned(
        gpu,
        capex=Decimal("0"),
        opex_monthly=Decimal("80.02"),
        nameplate_kw_per_device=Decimal("0"),
    )
    refresh(gpu, start=MARCH.start, end=MARCH.end)
    platform.owner = finance
    platform.save()
    # Soft threshold: 80 % of 100.03 = 80.024, which 80.02 has not reached.
    budget_set(
        cost_center=platform,
        monthly_amount=Decimal("100.03"),
        soft_percent=80,
        hard_percent=100,
        actor=finance,
    )
    body = (
        _client(finance)
        .get(f"/api/v1/cost-centers/{platform.code}/budget/", {"period": str(MARCH)})
        .json()
    )
    assert body["spend"] == "80.02"
    assert body["forecast"] == "80.02"  # a month that has ended: forecast = spend
    assert body["state"] == "ok"
    assert budgets_check(period=MARCH, today=dt.date(2026, 4, 1)) == 0
    assert not Notification.objects.filter(kind="budget").exists()
    # The threshold is shown to the cent.
    (status,) = budget_statuses(period=MARCH, cost_centers=[platform], today=dt.date(2026, 4, 1))
    assert status.soft_amount == Decimal("80.02") and status.soft_threshold == Decimal("80.024")


def _status(projected: str) -> BudgetStatus:
    return BudgetStatus(
        cost_center="CC-4100",
        cost_center_name="Search",
        period="2026-03",
        budget=Decimal("100.03"),
        soft_percent=80,
        hard_percent=100,
        soft_threshold=Decimal("80.024"),
        hard_threshold=Decimal("100.03"),
        spend=Decimal("40.00"),
        projected=Decimal(projected),
        days_elapsed=15,
        days_in_month=31,
        closed=False,
    )


def test_the_forecast_is_compared_before_it_is_rounded() -> None:
    # Both forecasts read 80.02 to the cent; only one has reached 80.024.
    below, above = _status("80.0235"), _status("80.0245")
    assert below.forecast == above.forecast == Decimal("80.02")
    assert below.state == "ok"
    assert above.state == "soft"


def test_budget_spend_without_a_platform_cost_center(
    gpu: Backend, usage: Any, team_a: CostCenter, finance: Any
) -> None:
    # March 9 and 10 at $192 a day (cloud, 4 devices × $2): March 10 used
    # by CC-4100 alone, March 9 by nobody (idle, the platform's, and no
    # cost center is marked as the platform's).
    cloud(gpu)
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    usage(gpu, prompt=300, labels={"team": "search"})
    refresh(gpu, start=DAY - dt.timedelta(days=1), end=DAY)
    assert not CostCenter.objects.filter(is_platform=True).exists()
    budget_set(
        cost_center=team_a,
        monthly_amount=Decimal("100"),
        soft_percent=80,
        hard_percent=100,
        actor=finance,
    )
    body = (
        _client(finance)
        .get(f"/api/v1/cost-centers/{team_a.code}/budget/", {"period": str(MARCH)})
        .json()
    )
    assert body["spend"] == "192.00"  # March 10; March 9's idle is nobody's yet
    assert body["state"] == "hard"
    team_a.owner = finance
    team_a.save()
    assert budgets_check(period=MARCH, today=dt.date(2026, 4, 1)) == 2


def test_closed_month_spend_stays_frozen_once_no_center_is_the_platforms(finance: Any) -> None:
    world = build_world()
    budget_set(
        cost_center=world.platform,
        monthly_amount=Decimal("1"),
        soft_percent=50,
        hard_percent=100,
        actor=finance,
    )
    before = _spend("CC-0000")
    assert before > 0
    period_close(period=OCTOBER, actor=finance)
    world.platform.is_platform = False
    world.platform.save()
    assert _spend("CC-0000") == before


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
