"""End to end on the production path: PostgreSQL, Redis and a real Celery
worker import the real FOCUS sample through ``costs.run_bill_import``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from costs.models import BillImport, BillRow
from costs.services import bill_import_create
from costs.tasks import run_bill_import
from tests.costs.bill_fixtures import SAMPLE, media

__all__ = ["media"]  # fixtures

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.sample_data]


def wait_for(job_id: int, timeout: float = 90) -> BillImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = BillImport.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.25)
    raise AssertionError(f"bill import {job_id} still {job.status} after {timeout}s")


def test_a_real_worker_imports_the_focus_sample_once(
    media: Path, celery_worker_process: str, finance: Any
) -> None:
    job = bill_import_create(actor=finance, file=SAMPLE, enqueue=False)

    run_bill_import.apply_async((job.pk,), queue=celery_worker_process)
    job = wait_for(job.pk)

    assert job.status == BillImport.Status.SUCCEEDED, job.error
    assert (job.rows_stored, job.rejected) == (1000, 0)
    # A redelivery of the same task changes nothing.
    run_bill_import.apply_async((job.pk,), queue=celery_worker_process)
    time.sleep(2)
    assert BillRow.objects.count() == 1000
    assert BillImport.objects.get(pk=job.pk).attempts == 1
