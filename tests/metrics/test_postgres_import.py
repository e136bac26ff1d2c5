"""PostgreSQL-only behaviour of the import: COPY + staging upsert, progress
visible to other connections while the job's transaction is open, and two
workers racing for one job."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.db import connection, connections

from metrics import storage
from metrics.catalog import seed_catalog
from metrics.models import HourlyRollup, ImportJob, Sample
from metrics.parsers import csv_long
from metrics.services import import_job_create, import_job_run, imports
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
        cursor.execute("SELECT to_regclass('metrics_sample_staging')")
        assert cursor.fetchone()[0] is None  # the staging table is gone


def test_progress_is_visible_to_other_connections_during_the_job(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalog()
    monkeypatch.setattr(storage, "BATCH_SIZE", 500)
    monkeypatch.setattr(csv_long, "CSV_CHUNK_LINES", 500)
    monkeypatch.setattr(imports, "PROGRESS_EVERY_SECONDS", 0)
    job = new_job(backend, csv_bytes(5000))
    seen: list[tuple[int, int]] = []
    original = storage.SampleWriter.flush

    def observing_flush(self: storage.SampleWriter) -> None:
        original(self)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT bytes_done FROM metrics_importjob WHERE id = %s", [job.pk])
                row_done = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM metrics_sample")
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


def _copy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "metrics-copy"]


def test_batches_mixing_new_rows_and_duplicates_count_both(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches on the COPY thread: some go straight in, the ones that
    # meet a repeated timestamp fall back to the staged upsert.
    seed_catalog()
    monkeypatch.setattr(storage, "BATCH_SIZE", 700)
    # Offsets are multiples of 3 so a repeated timestamp has the same labels.
    rows = csv_bytes(3000) + csv_bytes(500, offset=2001) + csv_bytes(1000, offset=2700)
    job = new_job(backend, rows)
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert (job.samples_read, job.samples_stored, job.duplicates) == (4500, 3700, 800)
    assert Sample.objects.count() == 3700
    assert sum(HourlyRollup.objects.values_list("count", flat=True)) == 3700
    assert _copy_threads() == []


def test_copy_thread_failure_rolls_back_the_whole_job(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalog()
    monkeypatch.setattr(storage, "BATCH_SIZE", 500)
    calls = {"n": 0}
    original = storage._CopyThread._copy

    def failing_copy(self: storage._CopyThread, data: bytes, rows: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("server went away")
        original(self, data, rows)

    monkeypatch.setattr(storage._CopyThread, "_copy", failing_copy)
    job = new_job(backend, csv_bytes(5000))
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Internal error, reference E-")  # logged under it
    assert Sample.objects.count() == 0
    assert HourlyRollup.objects.count() == 0
    assert _copy_threads() == []


def test_parse_failure_while_batches_are_copied_leaves_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalog()
    monkeypatch.setattr(storage, "BATCH_SIZE", 100)
    points = ",".join(f'[{T0 + i},"{i}"]' for i in range(2000))
    truncated = (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        '{"__name__":"requests_total","engine":"0"},"values":[' + points
    )
    job = new_job(backend, truncated.encode())
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error
    assert Sample.objects.count() == 0
    assert _copy_threads() == []


def test_copy_path_stores_the_exact_instant(backend: Backend) -> None:
    seed_catalog()
    content = (
        b"1772359200.123456,requests_total,1,engine=0\n"
        b"2026-03-01T10:00:01.5Z,requests_total,2,engine=0\n"
    )
    job = new_job(backend, content)
    import_job_run(job_id=job.pk)
    stamps = [s.ts.isoformat() for s in Sample.objects.order_by("ts")]
    assert stamps == ["2026-03-01T10:00:00.123456+00:00", "2026-03-01T10:00:01.500000+00:00"]


def test_sql_rollups_match_the_portable_pass(backend: Backend) -> None:
    # Counters with resets, a gauge, hour boundaries and a second import
    # that backfills between existing samples: the set-based SQL and the
    # Python pass used on SQLite must write the same rollups.
    import datetime as dt
    import random

    from metrics import rollups

    seed_catalog()
    rng = random.Random(7)
    lines = []
    counter = 0.0
    for i in range(0, 4 * 3600, 37):
        counter = counter + rng.randint(0, 50) if rng.random() > 0.02 else rng.randint(0, 5)
        lines.append(f"{T0 + i},requests_total,{counter},engine=0\n")
        lines.append(f"{T0 + i},power_watts,{rng.uniform(-5, 400):.3f},gpu=0\n")
    import_job_run(job_id=new_job(backend, "".join(lines[::4]).encode()).pk)
    import_job_run(job_id=new_job(backend, "".join(lines).encode()).pk)

    def snapshot() -> list[tuple[Any, ...]]:
        return list(
            HourlyRollup.objects.order_by("series_id", "hour").values_list(
                "series_id",
                "hour",
                "count",
                "sum",
                "min",
                "max",
                "first",
                "last",
                "first_ts",
                "last_ts",
                "increase",
            )
        )

    from metrics.models import Series

    ids = list(Series.objects.values_list("id", flat=True))
    start = dt.datetime.fromtimestamp(T0, dt.UTC)
    end = start + dt.timedelta(hours=5)
    sql_rows = snapshot()
    assert len(sql_rows) >= 8
    HourlyRollup.objects.all().delete()
    rollups._refresh_portable(ids, start, end)
    portable_rows = snapshot()
    assert [r[:3] for r in sql_rows] == [r[:3] for r in portable_rows]
    for a, b in zip(sql_rows, portable_rows, strict=True):
        assert _close(a, b), (a, b)


def _close(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-6 * max(1.0, abs(x)):
                return False
        elif x != y:
            return False
    return True


def test_repeated_timestamp_in_one_batch_keeps_the_files_first_value(backend: Backend) -> None:
    # The writer sorts each batch by (series, ts) before the COPY; the sort
    # is stable, so the staged upsert still keeps the first row of the file.
    seed_catalog()
    content = (
        f"{T0 + 5},requests_total,7,engine=0\n"
        f"{T0},requests_total,1,engine=0\n"
        f"{T0 + 5},requests_total,9,engine=0\n"
    ).encode()
    job = new_job(backend, content)
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.samples_stored, job.duplicates) == (2, 1)
    assert list(Sample.objects.order_by("ts").values_list("value", flat=True)) == [1.0, 7.0]
