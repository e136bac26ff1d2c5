"""End to end on the production path: PostgreSQL, Redis and a real Celery
worker import a real vLLM scrape."""

from __future__ import annotations

import time

import pytest

from costs.metrics.catalog import GENERATION_TOKENS, seed_catalog
from costs.models import ImportJob, Sample, Series
from costs.services import import_job_create
from costs.tasks import run_import_job
from pilots.models import Backend
from tests.costs.conftest import DATA

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.sample_data]


def wait_for_job(job_id: int, timeout: float = 90) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def test_real_worker_imports_vllm_scrape(
    celery_worker_process: str, backend: Backend, admin_user
) -> None:
    seed_catalog()
    scrape = DATA / "vllm" / "kops_vllm_qwen25_0.5b_scrape.txt"
    job = import_job_create(actor=admin_user, backend=backend, file=str(scrape), enqueue=False)

    run_import_job.apply_async((job.pk,), queue=celery_worker_process)
    job = wait_for_job(job.pk)

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.samples_stored > 0
    assert Sample.objects.filter(series__backend=backend).count() == job.samples_stored
    assert Series.objects.filter(backend=backend, metric__name=GENERATION_TOKENS).exists()

    # The same task again (a redelivery) changes nothing.
    run_import_job.apply_async((job.pk,), queue=celery_worker_process)
    time.sleep(2)
    assert Sample.objects.filter(series__backend=backend).count() == job.samples_stored
