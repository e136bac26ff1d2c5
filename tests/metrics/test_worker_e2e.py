"""End to end on the production path: PostgreSQL, Redis and a real Celery
worker import a real vLLM scrape."""

from __future__ import annotations

import time

import pytest

from metrics.catalog import GENERATION_TOKENS, seed_catalog
from metrics.models import ImportJob, Sample, Series
from metrics.services import import_job_create
from metrics.tasks import run_import_job
from pilots.models import Backend
from tests.metrics.conftest import DATA

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


def test_worker_killed_mid_job_leaves_nothing_and_the_retry_stores_exactly_the_file(
    celery_worker_process: str, backend: Backend, admin_user, tmp_path
) -> None:
    import datetime as dt
    import signal

    from metrics.services import import_job_run
    from tests.conftest import worker_processes

    seed_catalog()
    rows = 400_000
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        for i in range(rows):
            out.write(f"{1772359200 + (i // 8) * 15},power_watts,{100 + i % 50},gpu={i % 8}\n")
    job = import_job_create(actor=admin_user, backend=backend, file=str(big), enqueue=False)

    run_import_job.apply_async((job.pk,), queue=celery_worker_process)
    deadline = time.monotonic() + 60
    while ImportJob.objects.get(pk=job.pk).bytes_done == 0:
        assert time.monotonic() < deadline, "the worker never started the job"
        time.sleep(0.05)
    worker_processes[celery_worker_process].send_signal(signal.SIGKILL)
    worker_processes[celery_worker_process].wait(timeout=30)

    killed = ImportJob.objects.get(pk=job.pk)
    assert killed.status == ImportJob.Status.RUNNING  # nobody finished it
    assert not Sample.objects.filter(series__backend=backend).exists()  # rolled back

    # The redelivered task (or the stale-job sweep) runs it again once its
    # heartbeat is stale (test_worker_hardening waits for that for real).
    ImportJob.objects.filter(pk=job.pk).update(
        claimed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        heartbeat_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    assert import_job_run(job_id=job.pk) is not None
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.samples_stored, job.duplicates, job.rejected) == (rows, 0, 0)
    assert Sample.objects.filter(series__backend=backend).count() == rows


def _parser_children(pid: int) -> list[int]:
    """Children of process ``pid`` that run the Prometheus text parser."""
    from pathlib import Path

    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue
        for child in pids:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"child_main" in cmdline:
                found.append(int(child))
    return found


def test_real_worker_parses_a_big_prometheus_text_file_in_child_processes(
    celery_worker_process: str, backend: Backend, admin_user, tmp_path
) -> None:
    """A daemonic worker process starts the parser processes, the import
    stores every sample, and no parser process outlives the job."""
    from metrics.parsers import textproc
    from tests.conftest import worker_processes

    seed_catalog()
    steps, gpus = 8_000, 8
    big = tmp_path / "big.prom"
    with big.open("w") as out:
        for step in range(steps):
            out.write("# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n")
            millis = 1772359200000 + step * 15000
            for gpu in range(gpus):
                out.write(
                    f'DCGM_FI_DEV_POWER_USAGE{{gpu="{gpu}",Hostname="node-1"}} '
                    f"{100 + (step + gpu) % 50} {millis}\n"
                )
    assert big.stat().st_size > textproc.PROCESS_MIN_BYTES
    job = import_job_create(actor=admin_user, backend=backend, file=str(big), enqueue=False)
    worker_pid = worker_processes[celery_worker_process].pid

    run_import_job.apply_async((job.pk,), queue=celery_worker_process)
    seen: set[int] = set()
    deadline = time.monotonic() + 90
    while ImportJob.objects.get(pk=job.pk).status not in (
        ImportJob.Status.SUCCEEDED,
        ImportJob.Status.FAILED,
    ):
        assert time.monotonic() < deadline, "the import did not finish"
        seen.update(_parser_children(worker_pid))
        time.sleep(0.02)
    job.refresh_from_db()

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.samples_read, job.samples_stored, job.rejected) == (steps * gpus, steps * gpus, 0)
    assert Sample.objects.filter(series__backend=backend).count() == steps * gpus
    assert len(seen) == 2
    assert _parser_children(worker_pid) == []
