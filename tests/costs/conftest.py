"""Fixtures of the showback tests: backends with cost models, and usage
written as real samples whose rollups are refreshed (so counter resets are
handled by the same code as an import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from costs import services
from costs.models import CostCenter, CostModel
from metrics.catalog import seed_catalog
from metrics.models import MetricDefinition, Sample, Series
from metrics.rollups import refresh_rollups
from pilots.models import Backend, Pilot
from tests.factories import BackendFactory, CostCenterFactory, SeriesFactory

D = Decimal
DAY = dt.date(2026, 3, 10)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


@pytest.fixture
def catalog(db: None) -> None:
    seed_catalog()


@pytest.fixture
def gpu(db: None) -> Backend:
    return BackendFactory.create(name="GPU four", slug="gpu-four", device_count=4)


@pytest.fixture
def wafer(db: None) -> Backend:
    return BackendFactory.create(
        name="Wafer one", slug="wafer-one", device_count=2, kind=Backend.Kind.WAFER_SCALE
    )


@pytest.fixture
def platform(db: None) -> CostCenter:
    return services.cost_center_create(
        actor=None, code="CC-9000", name="AI platform", is_platform=True
    )


@pytest.fixture
def team_a(db: None) -> CostCenter:
    return CostCenterFactory.create(code="CC-4100", name="Search")


@pytest.fixture
def team_b(db: None) -> CostCenter:
    return CostCenterFactory.create(code="CC-4200", name="Ads")


def cloud(backend: Backend, rate: str = "2", **extra: Any) -> CostModel:
    """A cloud_rate model from 2026-01-01 (4 devices × $2 = $192 a day)."""
    data: dict[str, Any] = {
        "backend": backend,
        "kind": "cloud_rate",
        "effective_from": dt.date(2026, 1, 1),
        "device_hour_rate": D(rate),
        **extra,
    }
    return services.cost_model_create(actor=None, data=data)


def owned(backend: Backend, **extra: Any) -> CostModel:
    """capex 36,000 over 12 months from 2026-01-01, opex 3,100 a month, PUE
    1.5, $0.20/kWh, nameplate 1 kW per device."""
    data: dict[str, Any] = {
        "backend": backend,
        "kind": "owned",
        "effective_from": dt.date(2026, 1, 1),
        "capex": D("36000"),
        "amortization_months": 12,
        "amortization_start": dt.date(2026, 1, 1),
        "opex_monthly": D("3100"),
        "pue": D("1.5"),
        "energy_price_kwh": D("0.2"),
        "nameplate_kw_per_device": D("1"),
        **extra,
    }
    return services.cost_model_create(actor=None, data=data)


Points = Sequence[tuple[dt.datetime, float]]


@pytest.fixture
def counter(catalog: None) -> Callable[..., Series]:
    """Write samples of a canonical counter and refresh its rollups."""

    def write(
        backend: Backend,
        metric: str,
        points: Points,
        *,
        labels: dict[str, str] | None = None,
        pilot: Pilot | None = None,
    ) -> Series:
        metric_row = MetricDefinition.objects.get(name=metric)
        series = next(
            (
                s
                for s in Series.objects.filter(backend=backend, metric=metric_row, pilot=pilot)
                if s.labels == (labels or {})
            ),
            None,
        ) or SeriesFactory.create(
            backend=backend, metric=metric_row, labels=labels or {}, pilot=pilot
        )
        Sample.objects.bulk_create(Sample(series=series, ts=ts, value=v) for ts, v in points)
        refresh_rollups([series.pk], min(ts for ts, _ in points), max(ts for ts, _ in points))
        return series

    return write


@pytest.fixture
def usage(counter: Callable[..., Series]) -> Callable[..., None]:
    """Prompt and generated tokens of one series' labels on ``day``:
    counters at 0 at 00:00 and at the given totals at 12:00."""

    def write(
        backend: Backend,
        *,
        prompt: float = 0,
        generated: float = 0,
        requests: float = 0,
        day: dt.date = DAY,
        labels: dict[str, str] | None = None,
        pilot: Pilot | None = None,
    ) -> None:
        for metric, total in (
            ("prompt_tokens_total", prompt),
            ("generation_tokens_total", generated),
            ("requests_total", requests),
        ):
            if total:
                counter(
                    backend,
                    metric,
                    [(at(day, 0), 0.0), (at(day, 12), float(total))],
                    labels=labels,
                    pilot=pilot,
                )

    return write


def refresh(*backends: Backend, start: dt.date = DAY, end: dt.date = DAY) -> None:
    services.allocation_refresh(backend_ids=[b.pk for b in backends], start=start, end=end)
