"""Writes of the metrics app. Metrics imports live here (DESIGN.md, "Data
flows", 1. Import); every entry point (page, API, command, scheduled pull)
goes through ``import_job_create`` and the task runs ``import_job_run``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from metrics import detect
from metrics.models import ImportJob
from metrics.parsers import ParseFailure, get_parser
from metrics.pipeline import Ingestor, Mapper, gc_frozen
from metrics.rollups import refresh_rollups
from metrics.signals import import_succeeded
from metrics.storage import SampleWriter
from pilots.models import Backend, Pilot
from portal.audit import Actor, acting_user, record_change
from portal.models import ChangeRecord

__all__ = [
    "ImportSummary",
    "import_job_create",
    "import_job_progress_key",
    "import_job_run",
    "import_jobs_requeue_stale",
]

logger = logging.getLogger(__name__)

IMPORT_DIR = "imports"
PROGRESS_EVERY_SECONDS = 0.5


def _stale_after() -> dt.timedelta:
    """A running job older than the task's hard time limit cannot still be
    alive (the worker would have killed it), so it may be claimed again."""
    return dt.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 3600)) + 60)


def import_job_progress_key(job_id: int) -> str:
    return f"metrics:import:{job_id}:bytes_done"


def _store_file(
    file: UploadedFile | IO[bytes] | str | os.PathLike[str], job_name: str
) -> tuple[str, str, int]:
    """Copy the upload (or local file) under MEDIA_ROOT/imports/ in bounded
    pieces, enforcing ``IMPORT_MAX_UPLOAD_BYTES``. Returns (relative path,
    original name, size)."""
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    directory = Path(settings.MEDIA_ROOT) / IMPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    relative = f"{IMPORT_DIR}/{job_name}"
    target = Path(settings.MEDIA_ROOT) / relative
    size = 0
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        original = path.name
        if not path.is_file():
            raise ValidationError({"file": f"No such file: {path}"})
        if path.stat().st_size > limit:
            raise ValidationError({"file": f"The file is larger than the {limit}-byte limit."})
        shutil.copyfile(path, target)
        return relative, original, path.stat().st_size
    original = os.path.basename(getattr(file, "name", "") or "") or "upload"
    chunks: Any = (
        file.chunks()
        if isinstance(file, UploadedFile)
        else iter(lambda: file.read(1024 * 1024), b"")
    )
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        {"file": f"The file is larger than the {limit}-byte limit."}
                    )
                out.write(chunk)
    except ValidationError:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise ValidationError({"file": "The file is empty."})
    return relative, original, size


def import_job_create(
    *,
    actor: Actor,
    backend: Backend,
    file: UploadedFile | IO[bytes] | str | os.PathLike[str],
    source: str = ImportJob.Source.UPLOAD,
    fmt: str = ImportJob.Format.AUTO,
    pilot: Pilot | None = None,
    scrape_time: dt.datetime | None = None,
    enqueue: bool = True,
) -> ImportJob:
    """Store the file, create a queued job, and enqueue the import after
    commit (``enqueue=False``: the caller runs ``import_job_run`` itself,
    as the management command does).

    ``scrape_time`` is the timestamp of samples that carry none; it
    defaults to the job's creation time, so re-importing a scrape without
    timestamps stores it again at a new instant unless the same
    ``scrape_time`` is given.
    """
    if fmt not in ImportJob.Format.values:
        raise ValidationError({"format": f"Unknown format {fmt!r}."})
    if pilot is not None and not pilot.runs_on(backend):
        raise ValidationError({"pilot": "The pilot does not run on this backend."})
    if scrape_time is not None and timezone.is_naive(scrape_time):
        raise ValidationError({"scrape_time": "Give a timezone-aware time."})
    now = timezone.now()
    relative, original, size = _store_file(file, f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}")
    try:
        with transaction.atomic():
            job = ImportJob(
                backend=backend,
                pilot=pilot,
                format=fmt,
                source=source,
                file_path=relative,
                original_filename=original[:255],
                size_bytes=size,
                bytes_total=size,
                scrape_time=scrape_time or now,
                created_by=acting_user(actor),
            )
            job.full_clean()
            job.save()
            record_change(
                actor=actor,
                instance=job,
                action=ChangeRecord.Action.CREATE,
                scope=f"pilot:{pilot.pk}" if pilot else f"backend:{backend.pk}",
                message=f"Import of {original[:120]}",
            )
            if enqueue:
                job_id = job.pk
                transaction.on_commit(lambda: _enqueue(job_id))
    except BaseException:
        (Path(settings.MEDIA_ROOT) / relative).unlink(missing_ok=True)
        raise
    return job


def _enqueue(job_id: int) -> None:
    from metrics.tasks import run_import_job

    run_import_job.delay(job_id)


class ImportSummary(dict[str, Any]):
    """What ``import_job_run`` did (also printed by the command)."""


class _Progress:
    """Publishes bytes_done while the job's transaction is open.

    Rows the import writes are invisible to other connections until commit,
    so progress cannot go through the job row of that transaction. It goes
    to the Django cache (the page's poll reads it; shared by every process
    when the cache is shared, e.g. Redis, and within the embedded
    single-process setup with the default local-memory cache) and, on
    PostgreSQL, to the job row through a second, autocommit connection, so
    a page served by another machine sees it too. SQLite allows a single
    writer, so there the cache is the only channel.
    """

    def __init__(self, job: ImportJob, f: IO[bytes]) -> None:
        self.job_id = job.pk
        self.f = f
        self.last = 0.0
        self.side: Any = None
        # Inside a caller's transaction the claim's row lock is held until
        # that transaction ends: a second connection would wait on it.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            try:
                self.side = connections.create_connection("default")
                with self.side.cursor() as cursor:
                    # Never let progress reporting wait on a lock.
                    cursor.execute("SET lock_timeout = '200ms'")
            except DatabaseError:  # pragma: no cover - progress is best effort
                self.close()

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        done = self.f.tell()
        cache.set(import_job_progress_key(self.job_id), done, 24 * 3600)
        if self.side is not None:
            try:
                with self.side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportJob._meta.db_table} SET bytes_done = %s "  # noqa: S608
                        "WHERE id = %s AND status = %s",
                        [done, self.job_id, ImportJob.Status.RUNNING],
                    )
            except DatabaseError:  # pragma: no cover - progress is best effort
                logger.warning("Could not publish progress of import %s", self.job_id)
                self.close()

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def _claim(job_id: int) -> bool:
    """Guarded update: only a queued job, or a running one whose worker is
    certainly gone, can be claimed. Two workers racing get one winner."""
    now = timezone.now()
    claimable = Q(status=ImportJob.Status.QUEUED) | Q(
        status=ImportJob.Status.RUNNING, claimed_at__lt=now - _stale_after()
    )
    claimed = ImportJob.objects.filter(Q(pk=job_id) & claimable).update(
        status=ImportJob.Status.RUNNING,
        claimed_at=now,
        started_at=now,
        attempts=F("attempts") + 1,
        error="",
    )
    return claimed == 1


def import_job_run(*, job_id: int) -> ImportSummary | None:
    """Run one import job. Returns None when the job was not claimable
    (already done, or running elsewhere): running twice is harmless.

    The whole job is one transaction: samples, new series, rollups and the
    final counts commit together, or nothing does and the job is marked
    failed (after the rollback) with the reason.
    """
    if not _claim(job_id):
        logger.info("Import job %s is not claimable; nothing to do", job_id)
        return None
    job = ImportJob.objects.get(pk=job_id)
    path = Path(settings.MEDIA_ROOT) / job.file_path
    progress: _Progress | None = None
    detected = ""
    try:
        with path.open("rb") as f:
            progress = _Progress(job, f)
            detect.check_text(f)
            fmt = job.format
            if fmt == ImportJob.Format.AUTO:
                fmt = detect.detect_format(f)
            detected = fmt
            parser = get_parser(fmt)
            with transaction.atomic():
                summary = _ingest(job, f, fmt, parser, progress)
    except (ParseFailure, ValidationError, OSError) as exc:
        _fail(job_id, str(exc), detected)
        return None
    except Exception as exc:
        logger.exception("Import job %s failed", job_id)
        _fail(job_id, f"internal error: {type(exc).__name__}: {str(exc)[:300]}", detected)
        raise
    finally:
        if progress is not None:
            progress.close()
    cache.delete(import_job_progress_key(job_id))
    return summary


def _fail(job_id: int, error: str, detected_format: str = "") -> None:
    # Written after the rollback, outside the job's transaction.
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED,
        detected_format=detected_format,
        error=error[:2000],
        finished_at=timezone.now(),
        samples_stored=0,
        duplicates=0,
    )
    cache.delete(import_job_progress_key(job_id))


def _ingest(
    job: ImportJob, f: IO[bytes], fmt: str, parser: Any, progress: _Progress
) -> ImportSummary:
    writer = SampleWriter(backend_id=job.backend_id, pilot_id=job.pilot_id, on_batch=progress)
    ingestor = Ingestor(
        writer=writer,
        mapper=Mapper(),
        scrape_ts=job.scrape_time.timestamp(),
        now_ts=time.time(),
        max_rejects=ImportJob.MAX_REJECTS,
    )
    items = parser(f)
    try:
        with gc_frozen():
            ingestor.feed(items)
        stored = writer.finish()
    finally:
        # The COPY thread must be stopped before the transaction ends, on
        # every way out (a parse failure rolls back behind it otherwise),
        # and a parser's own process or thread with it.
        close = getattr(items, "close", None)
        if close is not None:
            close()
        writer.close()
    progress(force=True)
    window_start = window_end = None
    if writer.min_ts is not None and writer.max_ts is not None:
        window_start = dt.datetime.fromtimestamp(writer.min_ts, dt.UTC)
        window_end = dt.datetime.fromtimestamp(writer.max_ts, dt.UTC)
        refresh_rollups(writer.touched, window_start, window_end)
    finished = timezone.now()
    fields = {
        "status": ImportJob.Status.SUCCEEDED,
        "detected_format": fmt,
        "samples_read": ingestor.read,
        "samples_stored": stored,
        "duplicates": writer.duplicates,
        "rejected": ingestor.rejected,
        "rejects": ingestor.rejects,
        "unmapped_count": ingestor.unmapped_count,
        "unmapped": dict(sorted(ingestor.unmapped.items())),
        "bytes_done": job.size_bytes,
        "window_start": window_start,
        "window_end": window_end,
        "finished_at": finished,
    }
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    # Costs refreshes the touched days' allocation (metrics never imports costs).
    transaction.on_commit(
        lambda: import_succeeded.send(
            sender=ImportJob,
            job_id=job.pk,
            backend_id=job.backend_id,
            window_start=window_start,
            window_end=window_end,
        )
    )
    return ImportSummary(job_id=job.pk, **fields)


def import_jobs_requeue_stale(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Enqueue again the jobs whose task was lost: queued for longer than
    ``older_than`` (default 10 minutes) or running past the hard time
    limit. Claiming makes a duplicate enqueue harmless."""
    now = timezone.now()
    queued_before = now - (older_than or dt.timedelta(minutes=10))
    ids = list(
        ImportJob.objects.filter(
            Q(status=ImportJob.Status.QUEUED, created_at__lt=queued_before)
            | Q(status=ImportJob.Status.RUNNING, claimed_at__lt=now - _stale_after())
        ).values_list("pk", flat=True)
    )
    for job_id in ids:
        _enqueue(job_id)
    return ids
