"""Scheduled pulls: fetch a MetricSource's queries from Prometheus'
``/api/v1/query_range`` and import the answer through the normal ImportJob
path (source "pull"), so a pull shows up in the imports list like an upload.

The window is ``last_pulled_until`` (or ``now - lookback``) to ``now``;
``last_pulled_until`` moves on only when the import succeeded, so a failed
pull is retried over the same window next time. Re-pulling a window stores
nothing new: samples are unique by (series, ts).

Queries should select raw series (``vllm:generation_tokens_total{...}``,
``DCGM_FI_DEV_POWER_USAGE``): the import maps them by ``__name__`` and computes
rates itself. An expression such as ``rate(x[5m])`` loses ``__name__`` and is
reported as unmapped.

Only the standard library talks HTTP here (urllib): a timeout on every
request and a cap on the response size, so a misbehaving server can neither
hang a worker nor exhaust its memory.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from metrics import services
from metrics.models import ImportJob, MetricSource

__all__ = ["PullError", "fetch_query_range", "pull_source", "pull_windows"]

logger = logging.getLogger(__name__)

# Prometheus refuses a query_range that would return more than 11,000 points
# per series; stay under it by splitting long windows.
MAX_POINTS_PER_REQUEST = 10_000


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


class PullError(Exception):
    """A query could not be fetched; the message says which and why."""


def pull_windows(
    start: dt.datetime, end: dt.datetime, step_seconds: int
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Split [start, end] into windows of at most MAX_POINTS_PER_REQUEST steps."""
    span = dt.timedelta(seconds=step_seconds * (MAX_POINTS_PER_REQUEST - 1))
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + span, end)
        yield chunk_start, chunk_end
        chunk_start = chunk_end


def fetch_query_range(
    *,
    base_url: str,
    query: str,
    start: dt.datetime,
    end: dt.datetime,
    step_seconds: int,
    timeout: float,
    max_bytes: int,
) -> list[dict[str, Any]]:
    """One ``query_range`` call; returns the matrix's result list."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise PullError(f"base URL {base_url!r} is not an http(s) URL")
    params = urllib.parse.urlencode(
        {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": str(step_seconds),
        }
    )
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise PullError(f"query {query!r}: HTTP {exc.code}: {_prometheus_error(exc)}") from exc
    except urllib.error.URLError as exc:
        raise PullError(f"query {query!r}: cannot reach {base_url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise PullError(f"query {query!r}: no answer from {base_url} in {timeout:g} s") from exc
    if len(body) > max_bytes:
        raise PullError(f"query {query!r}: the answer is larger than {max_bytes:,} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PullError(f"query {query!r}: the answer is not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("status") != "success":
        reason = document.get("error") if isinstance(document, dict) else None
        raise PullError(f"query {query!r}: Prometheus answered an error: {reason or document!r}")
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise PullError(f"query {query!r}: expected a matrix result")
    result = data.get("result")
    if not isinstance(result, list):
        raise PullError(f"query {query!r}: the matrix has no result list")
    return result


def _prometheus_error(exc: urllib.error.HTTPError) -> str:
    """Prometheus explains failures in a JSON body; fall back to the reason."""
    try:
        body = json.loads(exc.read(64 * 1024))
    except (OSError, ValueError):
        return str(exc.reason)
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return str(exc.reason)


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
        job = services.import_job_create(
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

    services.import_job_run(job_id=job.pk)
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
