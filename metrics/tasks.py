"""Celery tasks of the metrics app. Thin: ids in, a service does the work,
and running a task twice is harmless (the service claims the job)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from metrics import services

__all__ = ["pull_metric_source", "requeue_stale_import_jobs", "run_import_job"]

# One file per task; a 2M-sample import runs well under these limits.
IMPORT_TIME_LIMIT = 3600
IMPORT_SOFT_TIME_LIMIT = 3300


@shared_task(
    name="metrics.run_import_job",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=IMPORT_TIME_LIMIT,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    ignore_result=True,
)
def run_import_job(job_id: int) -> dict[str, Any] | None:
    """Import one ImportJob by id. A job already done or being run by a
    live worker is left alone; a worker killed mid-job leaves nothing behind
    (one transaction), and the redelivered task or the stale-job sweep
    imports it again from the start."""
    summary = services.import_job_run(job_id=job_id)
    if summary is None:
        return None
    return {key: summary[key] for key in ("job_id", "samples_stored", "duplicates", "rejected")}


@shared_task(name="metrics.requeue_stale_import_jobs", time_limit=60, soft_time_limit=50)
def requeue_stale_import_jobs() -> list[int]:
    """Re-enqueue jobs whose task message was lost (run it from beat)."""
    return services.import_jobs_requeue_stale()


# ---------------------------------------------------------------------------
# Scheduled pulls (metrics/services/pulls.py and schedules.py): the beat schedule (a
# django-celery-beat PeriodicTask per source) calls this task by its
# registered name with the source id.
# ---------------------------------------------------------------------------

PULL_TIME_LIMIT = 900
PULL_SOFT_TIME_LIMIT = 840


@shared_task(
    name="metrics.pull_metric_source",
    time_limit=PULL_TIME_LIMIT,
    soft_time_limit=PULL_SOFT_TIME_LIMIT,
    ignore_result=True,
)
def pull_metric_source(source_id: int) -> int | None:
    """Pull one MetricSource's queries and import them; returns the job id.
    Running twice is harmless: a re-pulled window stores nothing new, and
    the watermark only moves forward."""
    job = services.pull_source(source_id=source_id)
    return None if job is None else job.pk
