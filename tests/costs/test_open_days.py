"""The daily beat job that prices the open months' days nothing else
refreshed (issue 9, §6: showback is live for open months): an idle backend
with a cost model gets its daily rows, a second run changes nothing, and a
closed month is left as it was frozen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from celery import current_app

from costs.models import BackendDay, CostCenter, DailyAllocation, UsageMapping
from costs.selectors import Period, showback
from costs.services import period_close
from costs.tasks import refresh_open_days
from pilots.models import Backend
from tests.costs.conftest import DAY, cloud, refresh

pytestmark = pytest.mark.django_db

FEBRUARY = Period(2026, 2)
MARCH = Period(2026, 3)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """Today is March 10, 2026 for the job, the refresh, a close and budgets."""
    for where in (
        "costs.tasks",
        "costs.services.allocation",
        "costs.services.chargeback",
        "costs.services.budgets",
    ):
        monkeypatch.setattr(f"{where}.utc_today", lambda: DAY)
    return DAY


def _rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    days = BackendDay.objects.order_by("backend_id", "day").values_list(
        "backend_id", "day", "cost", "cost_model_id", "utilization", "prompt_tokens"
    )
    lines = DailyAllocation.objects.order_by(
        "backend_id", "day", "cost_center_id", "kind"
    ).values_list("backend_id", "day", "cost_center_id", "kind", "quantity", "amount")
    return list(days), list(lines)


def test_an_idle_backend_gets_every_day_of_the_open_months(
    today: dt.date, gpu: Backend, wafer: Backend, usage: Any, team_a: CostCenter, finance: Any
) -> None:
    # GPU: $192 a day from January 1, used on March 10 only (its import
    # refreshed that day); the wafer has no cost model at all.
    cloud(gpu)
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    usage(gpu, prompt=300, labels={"team": "search"})
    refresh(gpu)
    assert showback(period=MARCH, user=finance).total == Decimal("192.00")
    assert not BackendDay.objects.filter(day__lt=MARCH.start).exists()

    assert refresh_open_days() == {"backend_days": 38, "lines": 38}

    # March 1..10 (today) and all of February, which is still open.
    march = showback(period=MARCH, user=finance)
    assert march.total == Decimal("1920.00")
    assert march.backends[0].days == 10
    assert showback(period=FEBRUARY, user=finance).total == Decimal("5376.00")
    assert not BackendDay.objects.filter(backend=wafer).exists()
    assert not BackendDay.objects.filter(day__gt=today).exists()
    # The day an import priced is priced the same (CC-4100's usage); the
    # nine days nobody used are idle (no cost center is the platform's).
    assert [(line.cost_center, line.kind, line.amount) for line in march.lines] == [
        (None, "idle", Decimal("1728.00")),
        ("CC-4100", "usage", Decimal("192.00")),
    ]

    before = _rows()
    refresh_open_days()
    assert _rows() == before


def test_a_closed_month_is_left_as_it_was_frozen(
    today: dt.date, gpu: Backend, platform: CostCenter, finance: Any
) -> None:
    cloud(gpu)
    period_close(period=FEBRUARY, actor=finance)  # prices February at 4 devices
    february = _rows()
    assert len(february[0]) == 28
    # Twice the devices from now on (a change no refresh followed).
    Backend.objects.filter(pk=gpu.pk).update(device_count=8)

    refresh_open_days()

    days, lines = _rows()
    assert [row for row in days if row[1] < MARCH.start] == february[0]
    assert [row for row in lines if row[1] < MARCH.start] == february[1]
    assert showback(period=FEBRUARY, user=finance).total == Decimal("5376.00")
    # March's ten days are priced at 8 devices × $2 × 24 = $384.
    assert showback(period=MARCH, user=finance).total == Decimal("3840.00")


def test_the_job_runs_daily_from_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["costs-refresh-open-days-daily"]
    assert entry["task"] == "costs.refresh_open_days" == refresh_open_days.name
    assert entry["task"] in current_app.tasks
    assert float(entry["schedule"]) <= 86400
