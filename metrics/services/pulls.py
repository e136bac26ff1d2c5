"""Scheduled pulls: fetch a MetricSource's queries from Prometheus'
``/api/v1/query_range`` (``metrics.promhttp``) and import the answer through
the normal ImportJob path (source "pull"), so a pull shows up in the imports
list like an upload.

The window is ``last_pulled_until`` (or ``now - lookback``) to ``now``;
``last_pulled_until`` moves on only when the import succeeded, so a failed
pull is retried over the same window next time. Re-pulling a window stores
nothing new: samples are unique by (series, ts).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from metrics.models import ImportJob, MetricSource
from metrics.promhttp import PullError, fetch_query_range, pull_windows
from metrics.services.imports import import_job_create, import_job_run

__all__ = ["pull_source"]

logger = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _write_matrix(out: IO[str], source: MetricSource, start: dt.datetime, end: dt.datetime) -> int:
    """Fetch every query over [start, end] and write one matrix document.

    Results are written as they arrive, so memory holds one answer at a
    time. The document is closed even when a fetch fails (the caller keeps
    what was written as the failed job's file). Returns the series count.
    """
    timeout = float(getattr(settings, "PULL_TIMEOUT_SECONDS", 30))
    max_bytes = _setting("PULL_MAX_RESPONSE_BYTES", 64 * 1024 * 1024)
    written = 0
    out.write('{"status":"success","data":{"resultType":"matrix","result":[')
    try:
        for query in source.queries:
            for chunk_start, chunk_end in pull_windows(start, end, source.step_seconds):
                for result in fetch_query_range(
                    base_url=source.base_url,
                    query=str(query),
                    start=chunk_start,
                    end=chunk_end,
                    step_seconds=source.step_seconds,
                    timeout=timeout,
                    max_bytes=max_bytes,
                ):
                    out.write(("," if written else "") + json.dumps(result))
                    written += 1
    finally:
        out.write("]}}\n")
    return written


def pull_source(*, source_id: int, now: dt.datetime | None = None) -> ImportJob | None:
    """Pull one source's window and import it; returns the job, or None
    when the source is disabled, gone, or has nothing new to pull."""
    source = MetricSource.objects.select_related("backend", "pilot").filter(pk=source_id).first()
    if source is None or not source.enabled:
        logger.info("Metric source %s is missing or disabled; not pulled", source_id)
        return None
    end = now or timezone.now()
    start = source.last_pulled_until or end - dt.timedelta(seconds=source.lookback_seconds)
    if start >= end:
        return None
    if not source.queries:
        logger.warning("Metric source %s has no queries; not pulled", source_id)
        return None

    started = timezone.now()
    error = ""
    with tempfile.TemporaryDirectory(prefix="pilotgate-pull-") as directory:
        path = Path(directory) / f"pull-{source.pk}-{end:%Y%m%dT%H%M%S}.json"
        with path.open("w", encoding="utf-8") as out:
            try:
                _write_matrix(out, source, start, end)
            except PullError as exc:
                error = str(exc)
        # enqueue=False: this task runs the import itself, so it knows the
        # outcome before it moves the watermark.
        job = import_job_create(
            actor=None,
            backend=source.backend,
            pilot=source.pilot,
            fmt=ImportJob.Format.QUERY_RANGE_JSON,
            source=ImportJob.Source.PULL,
            file=path,
            enqueue=False,
        )
    if error:
        _fail_unrun_job(job, error=error, started=started)
        logger.warning("Pull of metric source %s failed: %s", source_id, error)
        return job

    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    if job.status == ImportJob.Status.SUCCEEDED:
        # Guarded: a slower concurrent pull never moves the watermark back.
        MetricSource.objects.filter(
            Q(last_pulled_until__isnull=True) | Q(last_pulled_until__lt=end), pk=source.pk
        ).update(last_pulled_until=end)
    return job


def _fail_unrun_job(job: ImportJob, *, error: str, started: dt.datetime) -> None:
    """A pull that failed before its import could run: the job records why;
    it was never queued, and the guard keeps a claimed job untouched."""
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.FAILED,
        error=f"pull failed, nothing imported: {error}"[:2000],
        started_at=started,
        finished_at=timezone.now(),
    )
