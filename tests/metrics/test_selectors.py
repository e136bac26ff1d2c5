"""metrics_summary and metrics_timeseries on a small hand-built dataset
with exact expected values (imported through the real path)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from metrics import catalog
from metrics.models import ImportJob
from metrics.quantile import histogram_quantile, merge_buckets
from metrics.selectors import (
    hourly_slices,
    import_job_progress,
    metrics_summary,
    metrics_timeseries,
)
from pilots.models import Backend, Pilot

pytestmark = pytest.mark.django_db

T0 = 1772359200  # 2026-03-01T10:00:00Z
START = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
END = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)

ROWS: list[tuple[int, str, float, str]] = [
    # requests by finish reason (vLLM), with a restart-free counter
    (T0, "vllm:request_success_total", 0, "finished_reason=stop;model_name=llama"),
    (T0 + 1800, "vllm:request_success_total", 100, "finished_reason=stop;model_name=llama"),
    (T0 + 3660, "vllm:request_success_total", 150, "finished_reason=stop;model_name=llama"),
    (T0, "vllm:request_success_total", 0, "finished_reason=error;model_name=llama"),
    (T0 + 1800, "vllm:request_success_total", 2, "finished_reason=error;model_name=llama"),
    (T0 + 3660, "vllm:request_success_total", 3, "finished_reason=error;model_name=llama"),
    # generated tokens with a restart in the second hour: 4000 + 500
    (T0, "vllm:generation_tokens_total", 1000, "model_name=llama"),
    (T0 + 1800, "vllm:generation_tokens_total", 5000, "model_name=llama"),
    (T0 + 3600, "vllm:generation_tokens_total", 500, "model_name=llama"),
    # e2e latency histogram on two engines
    *[
        (
            T0 + dt_,
            "vllm:e2e_request_latency_seconds_bucket",
            v,
            f"engine={e};le={le};model_name=llama",
        )
        for e, dt_, values in [
            ("0", 0, (0, 0, 0)),
            ("0", 1800, (50, 90, 100)),
            ("1", 0, (0, 0, 0)),
            ("1", 1800, (0, 60, 100)),
        ]
        for le, v in zip(("0.1", "1", "+Inf"), values, strict=True)
    ],
    # DCGM
    (T0, "DCGM_FI_DEV_GPU_UTIL", 50, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_GPU_UTIL", 70, "gpu=0"),
    (T0, "DCGM_FI_DEV_GPU_UTIL", 90, "gpu=1"),
    (T0, "DCGM_FI_DEV_POWER_USAGE", 200, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_POWER_USAGE", 300, "gpu=0"),
    (T0, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 1_000_000, "gpu=0"),
    (T0 + 1800, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 10_000_000, "gpu=0"),
    (T0, "DCGM_FI_DEV_GPU_TEMP", 60, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_GPU_TEMP", 85, "gpu=0"),
    (T0, "DCGM_FI_DEV_THERMAL_VIOLATION", 0, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_THERMAL_VIOLATION", 2_000_000_000, "gpu=0"),
    (T0, "DCGM_FI_DEV_POWER_VIOLATION", 0, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_POWER_VIOLATION", 1_000_000_000, "gpu=0"),
    (T0, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 1, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 32, "gpu=0"),
    (T0 + 120, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 64, "gpu=0"),
    (T0, "DCGM_FI_DEV_XID_ERRORS", 0, "gpu=0"),
    (T0 + 60, "DCGM_FI_DEV_XID_ERRORS", 43, "gpu=0"),
]


def as_csv(rows: list[tuple[int, str, float, str]]) -> str:
    return "".join(f"{ts},{name},{value},{labels}\n" for ts, name, value, labels in rows)


@pytest.fixture
def dataset(run_import: Callable[..., ImportJob], other_backend: Backend) -> None:
    job = run_import(as_csv(ROWS))
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.rejected == 0 and job.unmapped_count == 0
    # Another backend's data never leaks into this one's figures.
    other = run_import(as_csv([(T0, "DCGM_FI_DEV_GPU_TEMP", 99, "gpu=0")]), on=other_backend)
    assert other.samples_stored == 1


def test_summary_numbers_are_exact(dataset: None, backend: Backend) -> None:
    s = metrics_summary(backend=backend, start=START, end=END)
    assert s.requests == 153
    assert s.errors == 3
    assert s.error_rate == 3 / 153
    assert s.tokens_generated == 4500
    assert s.tokens_per_second == 4500 / 3600
    # merged buckets: le=0.1 → 50, le=1 → 150, +Inf → 200
    assert s.e2e_p50 == pytest.approx(0.55)
    assert s.e2e_p95 == 1.0
    assert s.e2e_p99 == 1.0
    assert s.e2e_p999 == 1.0
    assert s.ttft_p50 is None
    assert s.utilization_mean == pytest.approx(70)
    assert s.utilization_max == 90
    assert s.power_mean == 250
    assert s.energy_joules == pytest.approx(9000)
    assert s.joules_per_token == pytest.approx(2.0)
    assert s.temperature_max == 85
    assert s.throttle_seconds == pytest.approx(3.0)
    assert s.throttled_samples == 2
    assert s.xid_errors == 1
    assert s.covered_start == START
    assert s.covered_end == START + dt.timedelta(seconds=3660)
    assert s.sample_count == len(ROWS)
    assert s["requests"] == 153  # also a mapping, for templates


def test_summary_quantile_is_not_the_average_of_engine_quantiles(
    dataset: None, backend: Backend
) -> None:
    s = metrics_summary(backend=backend, start=START, end=END)
    engine0 = histogram_quantile(0.5, {0.1: 50, 1.0: 90, float("inf"): 100})
    engine1 = histogram_quantile(0.5, {0.1: 0, 1.0: 60, float("inf"): 100})
    assert s.e2e_p50 != pytest.approx((engine0 + engine1) / 2)


def test_summary_filters_by_model_label(dataset: None, backend: Backend) -> None:
    assert metrics_summary(backend=backend, start=START, end=END, model="llama").requests == 153
    other = metrics_summary(backend=backend, start=START, end=END, model="mistral")
    assert other.requests is None
    assert other.sample_count == 0


def test_summary_window_excludes_later_hours(dataset: None, backend: Backend) -> None:
    s = metrics_summary(backend=backend, start=START, end=START + dt.timedelta(minutes=30))
    assert s.requests == 102
    assert s.tokens_generated == 4000


def test_summary_of_a_pilot_reads_only_its_series(
    run_import: Callable[..., ImportJob], backend: Backend, pilot: Pilot
) -> None:
    run_import(as_csv([(T0, "power_watts", 100, "")]), pilot=pilot)
    run_import(as_csv([(T0, "power_watts", 300, "")]))
    assert metrics_summary(backend=backend, start=START, end=END, pilot=pilot).power_mean == 100
    assert metrics_summary(backend=backend, start=START, end=END).power_mean == 200


def test_summary_runs_one_query(
    dataset: None, backend: Backend, django_assert_num_queries: Any
) -> None:
    # 1. the grouped aggregate over hourly rollups (series and metric joined)
    with django_assert_num_queries(1):
        metrics_summary(backend=backend, start=START, end=END)


def test_summary_with_no_data_is_all_none(db: None, backend: Backend) -> None:
    s = metrics_summary(backend=backend, start=START, end=END)
    assert s.requests is None and s.e2e_p99 is None and s.sample_count == 0


def test_summary_refuses_naive_or_inverted_windows(db: None, backend: Backend) -> None:
    with pytest.raises(ValueError, match="aware"):
        metrics_summary(backend=backend, start=START.replace(tzinfo=None), end=END)
    with pytest.raises(ValueError, match="after"):
        metrics_summary(backend=backend, start=END, end=START)


def test_timeseries_has_one_row_per_hour_with_gaps(
    dataset: None, backend: Backend, django_assert_num_queries: Any
) -> None:
    # 1. the aggregate grouped by hour
    with django_assert_num_queries(1):
        rows = metrics_timeseries(backend=backend, start=START, end=END + dt.timedelta(hours=1))
    assert [row["t"] for row in rows] == [START + dt.timedelta(hours=h) for h in range(3)]
    first, second, third = rows
    assert first["e2e_p50"] == pytest.approx(0.55)
    assert second["e2e_p50"] is None
    assert first["tokens_per_second"] == 4000 / 3600
    assert second["tokens_per_second"] == 500 / 3600
    assert first["utilization_mean"] == pytest.approx(70)
    assert first["temperature_max"] == 85
    assert first["throttle_seconds"] == pytest.approx(3.0)
    assert all(value is None for key, value in third.items() if key != "t")


def test_progress_of_a_finished_job_is_complete(run_import: Callable[..., ImportJob]) -> None:
    job = run_import(as_csv([(T0, "power_watts", 100, "")]))
    done, total = import_job_progress(job)
    assert done == total == job.size_bytes > 0


def test_summary_limited_to_metrics_gives_their_figures_exactly(
    dataset: None, backend: Backend, django_assert_num_queries: Any
) -> None:
    full = metrics_summary(backend=backend, start=START, end=END)
    names = [catalog.ENERGY, catalog.GENERATION_TOKENS, catalog.TEMPERATURE]
    # 1. the grouped aggregate over the named metrics' hourly rollups
    with django_assert_num_queries(1):
        limited = metrics_summary(backend=backend, start=START, end=END, metrics=names)
    assert limited.joules_per_token == full.joules_per_token is not None
    assert limited.temperature_max == full.temperature_max == 85
    assert limited.tokens_generated == full.tokens_generated == 4500
    # Metrics not asked for are not read.
    assert full.requests is not None and full.e2e_p99 is not None
    assert limited.requests is None and limited.e2e_p99 is None and limited.power_mean is None


def test_hourly_slices_are_per_aware_utc_hour_as_the_summary_merges_them(
    dataset: None, backend: Backend, django_assert_num_queries: Any
) -> None:
    # 1. the series of the five metrics; 2. their rollups' increases
    with django_assert_num_queries(2):
        slices = hourly_slices(backend=backend, start=START, end=END)
    hours = [hour for hour, _ in slices.requests]
    assert hours == [START, START + dt.timedelta(hours=1)]
    assert all(hour.tzinfo is not None and hour.utcoffset() == dt.timedelta(0) for hour in hours)
    assert [hour for hour, _ in slices.e2e] == [START]
    assert [v for _, v in slices.requests] == [102.0, 51.0]
    assert [v for _, v in slices.errors] == [2.0, 1.0]
    summary = metrics_summary(backend=backend, start=START, end=END)
    merged = merge_buckets(buckets for _, buckets in slices.e2e)
    assert histogram_quantile(0.99, merged) == summary.e2e_p99
