"""PostgreSQL-only behaviour of the import: COPY + staging upsert, progress
visible to other connections while the job's transaction is open, and two
workers racing for one job."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.db import connection, connections

from costs import services
from costs.metrics import storage
from costs.metrics.catalog import seed_catalog
from costs.models import HourlyRollup, ImportJob, Sample
from costs.services import import_job_create, import_job_run
from pilots.models import Backend

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = 1772359200


def csv_bytes(n: int, offset: int = 0) -> bytes:
    return "".join(
        f"{T0 + offset + i},requests_total,{i},engine={i % 3}\n" for i in range(n)
    ).encode()


def new_job(backend: Backend, content: bytes) -> ImportJob:
    return import_job_create(actor=None, backend=backend, file=io.BytesIO(content), enqueue=False)


def test_copy_path_stores_counts_duplicates_and_rollups(backend: Backend) -> None:
    seed_catalog()
    first = new_job(backend, csv_bytes(3000))
    import_job_run(job_id=first.pk)
    second = new_job(backend, csv_bytes(3000, offset=1500))
    import_job_run(job_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.samples_stored, first.duplicates) == (3000, 0)
    assert (second.samples_stored, second.duplicates) == (1500, 1500)
    assert Sample.objects.count() == 4500
    assert sum(HourlyRollup.objects.values_list("count", flat=True)) == 4500
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('costs_sample_staging')")
        assert cursor.fetchone()[0] is None  # the staging table is gone


def test_progress_is_visible_to_other_connections_during_the_job(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalog()
    monkeypatch.setattr(storage, "BATCH_SIZE", 500)
    monkeypatch.setattr(services, "PROGRESS_EVERY_SECONDS", 0)
    job = new_job(backend, csv_bytes(5000))
    seen: list[tuple[int, int]] = []
    original = storage.SampleWriter.flush

    def observing_flush(self: storage.SampleWriter) -> None:
        original(self)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT bytes_done FROM costs_importjob WHERE id = %s", [job.pk])
                row_done = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM costs_sample")
                seen.append((row_done, cursor.fetchone()[0]))
        finally:
            other.close()

    monkeypatch.setattr(storage.SampleWriter, "flush", observing_flush)
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded"
    mid_run = [done for done, _ in seen if 0 < done < job.size_bytes]
    assert mid_run, seen
    # ...while none of the job's samples are visible before it commits
    assert all(count == 0 for _, count in seen)


def test_two_workers_racing_for_one_job_import_it_once(backend: Backend) -> None:
    seed_catalog()
    job = new_job(backend, csv_bytes(20000))
    results: list[Any] = []

    def work() -> None:
        try:
            results.append(import_job_run(job_id=job.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job.refresh_from_db()
    assert sorted(result is None for result in results) == [False, True]
    assert (job.status, job.attempts, job.samples_stored) == ("succeeded", 1, 20000)
    assert Sample.objects.count() == 20000
