"""Bill imports on PostgreSQL: races. Two workers claiming one job import
it once; two jobs of the same file imported at the same time store each row
once (the row-hash unique constraint, ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import io
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from costs.models import BillImport, BillRow
from costs.services import bill_import_create, bill_import_run
from tests.costs.bill_fixtures import bill_csv, bill_line, media

__all__ = ["media"]  # fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONTENT = bill_csv(
    *(bill_line(resource=f"r-{n}", effective="0.123456789012345") for n in range(3000))
)


def _job() -> BillImport:
    upload = io.BytesIO(CONTENT)
    upload.name = "race.csv"
    return bill_import_create(actor=None, file=upload, enqueue=False)


def _in_threads(*targets: Any) -> None:
    barrier = threading.Barrier(len(targets))

    def run(target: Any) -> None:
        try:
            barrier.wait()
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_workers_racing_for_one_job_import_it_once(media: Path) -> None:
    job = _job()
    results: list[Any] = []
    _in_threads(*[lambda: results.append(bill_import_run(job_id=job.pk))] * 2)
    assert sum(1 for result in results if result is not None) == 1
    job.refresh_from_db()
    assert (job.status, job.rows_stored, job.attempts) == (BillImport.Status.SUCCEEDED, 3000, 1)
    assert BillRow.objects.count() == 3000


def test_the_same_file_imported_twice_at_once_stores_each_row_once(media: Path) -> None:
    first, second = _job(), _job()
    _in_threads(lambda: bill_import_run(job_id=first.pk), lambda: bill_import_run(job_id=second.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert {first.status, second.status} == {BillImport.Status.SUCCEEDED}
    assert first.rows_stored + second.rows_stored == 3000
    assert first.duplicates + second.duplicates == 3000
    assert BillRow.objects.count() == 3000
    # PostgreSQL sums exactly: 3000 × 0.123456789012345.
    assert BillRow.objects.aggregate(total=Sum("effective_cost"))["total"] == Decimal(
        "370.370367037035000"
    )
