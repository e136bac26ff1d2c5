"""A small world with a month of real allocation for the chargeback tests:
three cost centers (one the platform's), one backend priced per
device-hour with a capacity (so there is idle), usage of two teams, usage
nobody claims (unmapped) and a pilot's shadow traffic; stored through the
allocation service from metrics rollups, as in production."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costs.models import CostCenter, CostModel, UsageMapping
from costs.selectors import Period
from costs.services import allocation_refresh
from metrics import catalog
from metrics.models import Series
from pilots.models import Backend, Phase
from tests.factories import (
    BackendFactory,
    CostCenterFactory,
    HourlyRollupFactory,
    MetricDefinitionFactory,
    PhaseFactory,
    PilotFactory,
    SeriesFactory,
)

OCTOBER = Period(2026, 10)
NOVEMBER = Period(2026, 11)


@dataclass
class World:
    platform: CostCenter
    search: CostCenter
    ads: CostCenter
    backend: Backend
    model: CostModel
    pilot: Any


def add_usage(
    backend: Any,
    day: dt.date,
    *,
    team: str | None,
    tokens: float,
    pilot: Any = None,
    hour: int = 10,
) -> None:
    """``tokens`` prompt tokens of ``team`` (label) on ``day`` at ``hour``."""
    metric: Any = MetricDefinitionFactory(name=catalog.PROMPT_TOKENS)
    labels = {"team": team} if team else {"team": "nobody-knows"}
    series: Any = Series.objects.filter(
        backend=backend, metric=metric, labels=labels, pilot=pilot
    ).first() or SeriesFactory(backend=backend, metric=metric, labels=labels, pilot=pilot)
    HourlyRollupFactory(
        series=series,
        hour=dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC),
        first=0.0,
        last=tokens,
    )


def build_world(*periods: Period) -> World:
    periods = periods or (OCTOBER,)
    platform: Any = CostCenterFactory(code="CC-0000", name="Platform", is_platform=True)
    search: Any = CostCenterFactory(code="CC-4100", name="Search")
    ads: Any = CostCenterFactory(code="CC-4200", name="Ads")
    backend: Any = BackendFactory(slug="gpu-a", name="GPU A", device_count=2)
    model = CostModel.objects.create(
        backend=backend,
        kind=CostModel.Kind.CLOUD_RATE,
        effective_from=periods[0].start,
        device_hour_rate=Decimal("1.37"),
        capacity_tokens_per_second=Decimal("1"),
        idle_policy=CostModel.IdlePolicy.PLATFORM,
    )
    UsageMapping.objects.create(label="team", value="search", cost_center=search)
    UsageMapping.objects.create(label="team", value="ads", cost_center=ads)
    pilot = PilotFactory(name="Shadow pilot", candidate_backend=backend, cost_center=ads)
    PhaseFactory(
        pilot=pilot,
        order=1,
        kind=Phase.Kind.SHADOW,
        actual_start=dt.datetime.combine(periods[0].start, dt.time(), tzinfo=dt.UTC),
        actual_end=None,
    )
    for period in periods:
        for offset, (search_tokens, ads_tokens) in enumerate([(30_000, 10_000), (7_001, 3)]):
            day = period.start + dt.timedelta(days=offset * 9 + 2)
            add_usage(backend, day, team="search", tokens=search_tokens)
            add_usage(backend, day, team="ads", tokens=ads_tokens)
            add_usage(backend, day, team=None, tokens=1_234)
            add_usage(backend, day, team="ads", tokens=555, pilot=pilot, hour=14)
        allocation_refresh(backend_ids=None, start=period.start, end=period.end)
    return World(platform, search, ads, backend, model, pilot)
