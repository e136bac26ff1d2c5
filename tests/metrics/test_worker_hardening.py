"""Issue 8 on the production path (PostgreSQL, Redis, real workers):
concurrent imports into the same series and hours are all counted, and a
worker killed mid-import is recovered once, by heartbeat, within minutes."""

from __future__ import annotations

import datetime as dt
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum

from metrics.catalog import seed_catalog
from metrics.models import HourlyRollup, ImportJob, Sample
from metrics.services import import_job_create, import_job_run, imports
from metrics.tasks import run_import_job
from pilots.models import Backend
from portal.celery import app
from tests.metrics.conftest import spawn_worker, stop_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]

T0 = 1772359200  # 2026-03-01T10:00:00Z
GPUS = 8


def _wait(job_ids: list[int], timeout: float) -> list[ImportJob]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = list(ImportJob.objects.filter(pk__in=job_ids).order_by("pk"))
        if all(j.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED) for j in jobs):
            return jobs
        assert time.monotonic() < deadline, [(j.pk, j.status) for j in jobs]
        time.sleep(0.2)


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"METRICS_PARSER_PROCESSES": "0"}


def test_five_concurrent_imports_into_the_same_series_and_hours_all_count(
    transactional_db: None, backend: Backend, admin_user: Any, tmp_path: Path
) -> None:
    """Before the per-backend rollup lock, two of the five failed with an
    IntegrityError from the rollup refresh (delete, then insert)."""
    seed_catalog()
    # The series exist already (as after any earlier import), so the five
    # jobs do not queue behind each other's series inserts: they reach the
    # rollup refresh of the same (series, hour) rows together.
    base = tmp_path / "base.csv"
    base.write_text("".join(f"{T0 - 7200},power_watts,100,gpu={g}\n" for g in range(GPUS)))
    import_job_run(
        job_id=import_job_create(actor=admin_user, backend=backend, file=base, enqueue=False).pk
    )

    steps = 3000  # per file: 2 hours of samples, 8 series
    files = []
    for k in range(5):
        path = tmp_path / f"part-{k}.csv"
        with path.open("w") as out:
            for i in range(steps):
                ts = T0 + i * 2.4 + k * 0.4  # same hours, different instants
                for g in range(GPUS):
                    out.write(f"{ts:.1f},power_watts,{100 + k},gpu={g}\n")
        files.append(path)
    jobs = [
        import_job_create(actor=admin_user, backend=backend, file=path, enqueue=False)
        for path in files
    ]
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = spawn_worker(
        queue, tmp_path / "worker.log", extra_env={"METRICS_PARSER_PROCESSES": "0"}, concurrency=5
    )
    app.conf.task_always_eager = False
    try:
        started = time.monotonic()
        for job in jobs:
            run_import_job.apply_async((job.pk,), queue=queue)
        done = _wait([job.pk for job in jobs], timeout=180)
        elapsed = time.monotonic() - started
    finally:
        app.conf.task_always_eager = True
        stop_worker(worker)
        print((tmp_path / "worker.log").read_text()[-3000:])

    assert [job.status for job in done] == ["succeeded"] * 5, [job.error for job in done]
    per_file = steps * GPUS
    assert [job.samples_stored for job in done] == [per_file] * 5
    hours = HourlyRollup.objects.filter(
        series__backend=backend, hour__gte=dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    )
    totals = hours.aggregate(n=Sum("count"), total=Sum("sum"))
    assert totals["n"] == 5 * per_file
    assert totals["total"] == pytest.approx(sum((100 + k) * per_file for k in range(5)))
    assert Sample.objects.filter(series__backend=backend).count() == 5 * per_file + GPUS
    print(f"five concurrent imports of {per_file:,} samples each: {elapsed:.1f} s")


def test_a_killed_worker_s_job_is_finished_once_by_a_fresh_worker_within_two_minutes(
    transactional_db: None,
    backend: Backend,
    admin_user: Any,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_catalog()
    settings.METRICS_IMPORT_HEARTBEAT_SECONDS = 1
    settings.METRICS_IMPORT_STALE_SECONDS = 6
    env = {
        "METRICS_PARSER_PROCESSES": "0",
        "METRICS_IMPORT_HEARTBEAT_SECONDS": "1",
        "METRICS_IMPORT_STALE_SECONDS": "6",
    }
    rows = 400_000
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        for i in range(rows):
            out.write(f"{T0 + (i // 8) * 15},power_watts,{100 + i % 50},gpu={i % 8}\n")
    job = import_job_create(actor=admin_user, backend=backend, file=big, enqueue=False)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    # What beat's sweep sends goes to this test's queue.
    monkeypatch.setattr(
        imports,
        "_enqueue",
        lambda job_id: bool(run_import_job.apply_async((job_id,), queue=queue)),
    )
    first = spawn_worker(queue, tmp_path / "worker.log", extra_env=env)
    fresh = None
    app.conf.task_always_eager = False
    try:
        run_import_job.apply_async((job.pk,), queue=queue)
        deadline = time.monotonic() + 60
        while True:
            running = ImportJob.objects.get(pk=job.pk)
            beat, claimed = running.heartbeat_at, running.claimed_at
            if running.bytes_done and beat is not None and claimed is not None and beat > claimed:
                break  # it beats while it runs
            assert time.monotonic() < deadline, "the worker never started (or never beat)"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = time.monotonic()
        assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING
        assert not Sample.objects.filter(series__backend=backend).exists()

        fresh = spawn_worker(queue, tmp_path / "worker.log", extra_env=env)
        # A redelivered message, or the sweep before the heartbeat is stale:
        # the job still looks alive and is left alone.
        assert imports.import_job_run(job_id=job.pk) is None
        # Beat's sweep, every few minutes (here: every 2 s until it sends it).
        while not imports.import_jobs_requeue_stale():
            assert time.monotonic() - killed_at < 60, "the heartbeat never went stale"
            time.sleep(2)
        (done,) = _wait([job.pk], timeout=120 - (time.monotonic() - killed_at))
        recovered = time.monotonic() - killed_at
    finally:
        app.conf.task_always_eager = True
        stop_worker(first)
        if fresh is not None:
            stop_worker(fresh)
        print((tmp_path / "worker.log").read_text()[-3000:])

    assert done.status == ImportJob.Status.SUCCEEDED, done.error
    assert done.attempts == 2
    assert (done.samples_stored, done.duplicates, done.rejected) == (rows, 0, 0)
    assert Sample.objects.filter(series__backend=backend).count() == rows
    assert recovered < 120
    print(f"killed mid-import, finished by a fresh worker {recovered:.1f} s later")


def test_a_redelivered_task_reclaims_only_a_job_whose_heartbeat_is_stale(
    transactional_db: None, backend: Backend, admin_user: Any, tmp_path: Path, settings: Any
) -> None:
    seed_catalog()
    path = tmp_path / "m.csv"
    path.write_text(f"{T0},power_watts,1,gpu=0\n")
    job = import_job_create(actor=admin_user, backend=backend, file=path, enqueue=False)
    now = dt.datetime.now(dt.UTC)
    fresh = now - dt.timedelta(seconds=settings.METRICS_IMPORT_STALE_SECONDS // 2)
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=1, claimed_at=now - dt.timedelta(hours=2), heartbeat_at=fresh
    )

    assert import_job_run(job_id=job.pk) is None  # alive: not claimable
    assert imports.import_jobs_requeue_stale() == []

    stale = now - dt.timedelta(seconds=settings.METRICS_IMPORT_STALE_SECONDS + 5)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert import_job_run(job_id=job.pk) is not None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.samples_stored) == ("succeeded", 2, 1)


def test_a_run_whose_claim_was_taken_over_rolls_back(
    transactional_db: None,
    backend: Backend,
    admin_user: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker thought dead (its claim taken over) must not also commit."""
    seed_catalog()
    path = tmp_path / "m.csv"
    path.write_text(f"{T0},power_watts,1,gpu=0\n")
    job = import_job_create(actor=admin_user, backend=backend, file=path, enqueue=False)
    from metrics import rollups

    original = rollups.refresh_rollups

    def stolen(*args: Any, **kwargs: Any) -> int:
        from django.db import connections

        # Another worker's claim, committed on its own connection.
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute(
                "UPDATE metrics_importjob SET attempts = attempts + 1 WHERE id = %s", [job.pk]
            )
        other.close()
        return original(*args, **kwargs)

    monkeypatch.setattr(imports, "refresh_rollups", stolen)

    assert import_job_run(job_id=job.pk) is None
    assert not Sample.objects.exists()
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING
