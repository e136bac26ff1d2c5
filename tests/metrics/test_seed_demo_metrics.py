"""seed_demo_metrics: synthetic demo metrics through the real import path."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from metrics.models import ImportJob, Sample
from metrics.selectors import metrics_summary
from pilots.models import Backend
from tests.factories import BackendFactory

pytestmark = pytest.mark.django_db

UNTIL = "2026-03-02T00:00:00Z"  # one whole day: 2026-03-01


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo_metrics", "--days", "1", "--until", UNTIL, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_backends(catalog: None) -> tuple[Backend, Backend]:
    return BackendFactory.create(slug="wse-3"), BackendFactory.create(slug="h100-cluster")


def test_seeds_every_demo_backend_and_a_second_run_adds_no_job(
    demo_backends: tuple[Backend, Backend],
) -> None:
    first = _seed()
    stored = Sample.objects.count()

    second = _seed()

    assert stored > 0
    assert "h100-cluster: import" in first and "wse-3: import" in first
    assert Sample.objects.count() == stored
    jobs = list(ImportJob.objects.order_by("id"))
    # `make run` twice: no duplicate demo jobs (job-level idempotence).
    assert [job.status for job in jobs] == ["succeeded"] * 2
    assert sum(job.samples_stored for job in jobs) == stored
    assert "h100-cluster: up to date" in second and "wse-3: up to date" in second
    assert all(job.rejected == 0 and job.unmapped_count == 0 for job in jobs)


def test_a_later_run_imports_again_up_to_the_new_hour(
    demo_backends: tuple[Backend, Backend],
) -> None:
    _seed()
    before = Sample.objects.count()

    out = io.StringIO()
    call_command("seed_demo_metrics", "--days", "1", "--until", "2026-03-02T03:00:00Z", stdout=out)

    assert ImportJob.objects.count() == 4
    assert Sample.objects.count() > before


def test_candidate_and_baseline_differ_plausibly(demo_backends: tuple[Backend, Backend]) -> None:
    wse, h100 = demo_backends
    _seed()
    start, end = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)

    fast = metrics_summary(backend=wse, start=start, end=end)
    slow = metrics_summary(backend=h100, start=start, end=end)

    assert fast.e2e_p99 is not None and slow.e2e_p99 is not None
    assert fast.e2e_p99 < slow.e2e_p99
    assert fast.ttft_p50 is not None and slow.ttft_p50 is not None
    assert fast.ttft_p50 < slow.ttft_p50
    # Every figure of the pilot panel has data on the GPU baseline (DCGM + vLLM names).
    for name in (
        "requests",
        "tokens_per_second",
        "power_mean",
        "energy_joules",
        "joules_per_token",
        "temperature_max",
        "utilization_max",
    ):
        assert getattr(slow, name), name
    assert slow.error_rate is not None and 0 < slow.error_rate < 0.01
    assert slow.throttle_seconds is not None and slow.throttle_seconds > 0
    assert fast.throttle_seconds == 0


def test_without_demo_backends_it_says_to_seed_first(catalog: None) -> None:
    with pytest.raises(CommandError, match="run seed_demo first"):
        _seed()
