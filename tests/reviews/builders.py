"""Known data for evidence tests: hourly rollups of a backend (optionally a
pilot's series) with a log-normal latency histogram, request, error and
token counters, built directly as rollups."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from metrics import catalog
from metrics.models import HourlyRollup, MetricDefinition, Series
from pilots.models import Phase, Pilot, RaciActivity, RaciAssignment
from tests.factories import (
    PhaseFactory,
    PilotFactory,
    RaciActivityFactory,
    RaciAssignmentFactory,
    SeriesFactory,
)

# Fine buckets, so bucket interpolation follows the distribution closely.
BOUNDS: tuple[float, ...] = (*(round(0.05 * i, 2) for i in range(1, 101)), math.inf)
# Two days before now (whole hour): the window of a review submitted now.
START = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=48)


def _cdf(x: float, median: float, sigma: float) -> float:
    if math.isinf(x):
        return 1.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


def _definitions() -> dict[str, MetricDefinition]:
    if not MetricDefinition.objects.filter(name=catalog.E2E_LATENCY).exists():
        catalog.seed_catalog()
    return {d.name: d for d in MetricDefinition.objects.all()}


def _series(
    backend: Any, pilot: Pilot | None, definition: MetricDefinition, **extra: Any
) -> Series:
    series: Series = SeriesFactory.build(backend=backend, pilot=pilot, metric=definition, **extra)
    return series


def _rollup(series: Series, hour: dt.datetime, increase: float, value: float = 0.0) -> HourlyRollup:
    return HourlyRollup(
        series=series,
        hour=hour,
        count=60,
        sum=value * 60,
        min=value,
        max=value,
        first=value,
        last=value,
        first_ts=hour,
        last_ts=hour + dt.timedelta(minutes=59),
        increase=increase,
    )


def feed(
    backend: Any,
    *,
    pilot: Pilot | None = None,
    start: dt.datetime = START,
    hours: int = 24,
    requests_per_hour: float = 5000,
    scale: float = 1.0,
    median: float = 1.0,
    sigma: float = 0.4,
    error_rate: float = 0.0005,
    tokens_per_request: float = 100,
    temperature: float = 60.0,
    throttle_seconds_per_hour: float = 0.0,
    latency: bool = True,
) -> None:
    """``hours`` hours of traffic from ``start``: every hour the same
    latency shape (log-normal, median × scale), requests, errors and tokens."""
    rollups: list[HourlyRollup] = []
    hour_list = [start + dt.timedelta(hours=h) for h in range(hours)]
    defs = _definitions()
    buckets: list[tuple[Series, float]] = []
    if latency:
        for family in (catalog.E2E_LATENCY, catalog.TTFT):
            for le in BOUNDS:
                bucket = _series(
                    backend, pilot, defs[family], component=Series.Component.BUCKET, le=le
                )
                buckets.append((bucket, _cdf(le, median * scale, sigma)))
    requests = _series(backend, pilot, defs[catalog.REQUESTS])
    errors = _series(backend, pilot, defs[catalog.ERRORS])
    tokens = _series(backend, pilot, defs[catalog.GENERATION_TOKENS])
    temp = _series(backend, pilot, defs[catalog.TEMPERATURE])
    throttle = _series(backend, pilot, defs[catalog.THROTTLE_SECONDS])
    events = _series(backend, pilot, defs[catalog.THROTTLE_EVENTS])
    plain = [requests, errors, tokens, temp, throttle, events]
    Series.objects.bulk_create([b for b, _ in buckets] + plain)
    for bucket, share in buckets:
        rollups += [_rollup(bucket, h, requests_per_hour * share) for h in hour_list]
    for h in hour_list:
        rollups.append(_rollup(requests, h, requests_per_hour))
        rollups.append(_rollup(errors, h, requests_per_hour * error_rate))
        rollups.append(_rollup(tokens, h, requests_per_hour * tokens_per_request))
        rollups.append(_rollup(temp, h, 0.0, temperature))
        rollups.append(_rollup(throttle, h, throttle_seconds_per_hour))
        rollups.append(_rollup(events, h, 1.0 if throttle_seconds_per_hour else 0.0))
    HourlyRollup.objects.bulk_create(rollups, batch_size=2000)


def pilot_in_canary(
    *, responsible: Any, accountable: Any, consulted: Any = None, informed: Any = None
) -> tuple[Pilot, Phase, Phase]:
    """An active pilot whose first phase is active since START, a second
    phase planned, and a go/no-go activity with the given letters."""
    pilot: Any = PilotFactory(status=Pilot.Status.ACTIVE)
    active: Any = PhaseFactory(
        pilot=pilot,
        order=1,
        kind=Phase.Kind.CANARY,
        status=Phase.Status.ACTIVE,
        actual_start=START,
        planned_start=START.date(),
        planned_end=START.date() + dt.timedelta(weeks=4),
    )
    following: Any = PhaseFactory(
        pilot=pilot,
        order=2,
        kind=Phase.Kind.PRODUCTION_RAMP,
        planned_start=START.date() + dt.timedelta(weeks=4, days=1),
        planned_end=START.date() + dt.timedelta(weeks=8),
    )
    activity = RaciActivityFactory(
        pilot=pilot, key=RaciActivity.Key.GO_NO_GO, name="Go/no-go decision"
    )
    L = RaciAssignment.Letter
    RaciAssignmentFactory(activity=activity, user=responsible, letter=L.RESPONSIBLE)
    RaciAssignmentFactory(activity=activity, user=accountable, letter=L.ACCOUNTABLE)
    if consulted is not None:
        RaciAssignmentFactory(activity=activity, user=consulted, letter=L.CONSULTED)
    if informed is not None:
        RaciAssignmentFactory(activity=activity, user=informed, letter=L.INFORMED)
    return pilot, active, following
