"""Writes of the metrics app. Metrics imports live here (DESIGN.md, "Data
flows", 1. Import); every entry point (page, API, command, scheduled pull)
goes through ``import_job_create`` and the task runs ``import_job_run``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
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
from metrics.selectors import import_pilots_for
from metrics.signals import import_succeeded
from metrics.storage import SampleWriter, TooManySeries
from pilots.models import CLOSED_PILOT_STATUSES, Backend, Pilot
from portal.audit import Actor, acting_user, record_change
from portal.models import ChangeRecord
from portal.roles import METRICS_IMPORT_ANYWHERE, may

__all__ = [
    "BROKER_DOWN_NOTE",
    "ImportRefused",
    "ImportSummary",
    "import_job_create",
    "import_job_progress_key",
    "import_job_run",
    "import_jobs_requeue_stale",
]

logger = logging.getLogger(__name__)

IMPORT_DIR = "imports"
PROGRESS_EVERY_SECONDS = 0.5


BROKER_DOWN_NOTE = (
    "The task queue was unreachable when this file arrived; the file is kept "
    "and the import starts as soon as the queue is back."
)
SINGLE_SCRAPE_NOTE = (
    "Every sample of this file is from one instant (a single scrape): the samples "
    "are stored, but rates (requests, tokens per second, error rate) need two "
    "scrapes or more of the same counters."
)


class ImportRefused(ValidationError):
    """The import (or the whole file) is refused; the message says why."""


def _stale_before(now: dt.datetime) -> dt.datetime:
    """A running job whose heartbeat is older than this has lost its worker.

    On PostgreSQL a running job beats every ``METRICS_IMPORT_HEARTBEAT_SECONDS``
    through a second connection (``_Progress``). SQLite allows one writer, so
    a job cannot beat there while its transaction is open: the only safe
    test is the task's hard time limit (the worker would have killed it).
    """
    if connection.vendor == "postgresql":
        return now - dt.timedelta(seconds=int(settings.METRICS_IMPORT_STALE_SECONDS))
    limit = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 3600)) + 60
    return now - dt.timedelta(seconds=limit)


def _error_reference() -> str:
    return f"E-{uuid.uuid4().hex[:8]}"


def _internal_error(job_id: int, what: str) -> str:
    """Log the exception (with its text, SQL or paths) under a reference and
    return what the user sees: only the reference."""
    reference = _error_reference()
    logger.exception("Import job %s: %s [%s]", job_id, what, reference)
    return f"Internal error, reference {reference}. Give the reference to a platform admin."


def import_job_progress_key(job_id: int) -> str:
    return f"metrics:import:{job_id}:bytes_done"


def _store_file(
    file: UploadedFile | IO[bytes] | str | os.PathLike[str], job_name: str
) -> tuple[str, str, int]:
    """Copy the upload (or local file) under MEDIA_ROOT/imports/ in bounded
    pieces, enforcing ``IMPORT_MAX_BYTES``. Returns (relative path,
    original name, size)."""
    limit = int(settings.IMPORT_MAX_BYTES)
    directory = Path(settings.MEDIA_ROOT) / IMPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    relative = f"{IMPORT_DIR}/{job_name}"
    target = Path(settings.MEDIA_ROOT) / relative
    size = 0
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        original = path.name
        if not path.is_file():
            raise ValidationError({"file": f"No such file: {path.name}"})
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
    import_scope_check(actor=actor, backend=backend, pilot=pilot)
    if scrape_time is not None and timezone.is_naive(scrape_time):
        raise ValidationError({"scrape_time": "Give a timezone-aware time."})
    now = timezone.now()
    relative, original, size = _store_file(file, f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}")
    sent: list[bool] = []  # whether the after-commit enqueue reached the broker
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
                transaction.on_commit(lambda: sent.append(_enqueue(job_id)))
    except BaseException:
        (Path(settings.MEDIA_ROOT) / relative).unlink(missing_ok=True)
        raise
    if sent and not sent[0]:
        # The broker is down: the job and its file stay for the sweep.
        job.enqueue_pending, job.note = True, BROKER_DOWN_NOTE
    return job


def import_scope_check(*, actor: Actor, backend: Backend, pilot: Pilot | None) -> None:
    """Where ``actor`` may import: an active backend, a pilot that runs on it
    and, for a person (page, API), is not closed; a pilot-team member only
    into the backends of pilots where they hold a RACI letter, tagging only
    those pilots. Program managers and admins anywhere. The system (``actor``
    None: commands, scheduled pulls, demo seeding) may still record a closed
    pilot's history, and is not scoped beyond the backend and pilot rules."""
    if not backend.is_active:
        raise ImportRefused({"backend": f"Backend {backend.slug} is inactive."})
    user = acting_user(actor)
    if pilot is not None:
        if not pilot.runs_on(backend):
            raise ImportRefused({"pilot": "The pilot does not run on this backend."})
        if pilot.is_closed and user is not None:
            raise ImportRefused(
                {"pilot": f"Pilot {pilot.pk} is {pilot.get_status_display().lower()}."}
            )
    if user is None or may(user, METRICS_IMPORT_ANYWHERE):
        return
    mine = import_pilots_for(user)
    if pilot is not None and not mine.filter(pk=pilot.pk).exists():
        raise ImportRefused(
            {"pilot": "You may tag only pilots where you hold a RACI letter."}, code="scope"
        )
    if not mine.filter(Q(candidate_backend=backend) | Q(baseline_backend=backend)).exists():
        raise ImportRefused(
            {
                "backend": f"You may import into {backend.slug} only as a member (a RACI "
                "letter) of an open pilot that runs on it."
            },
            code="scope",
        )


def _enqueue(job_id: int) -> bool:
    """Send the job's task; False when the broker is unreachable. Nothing is
    lost then: the job and its file stay, flagged, and the sweep
    (``import_jobs_requeue_stale``, from beat) sends it when the broker is
    back."""
    from metrics.tasks import run_import_job

    try:
        run_import_job.delay(job_id)
    except Exception:  # kombu's OperationalError, a socket error, a timeout ...
        logger.warning("Could not enqueue import job %s; the sweep will", job_id, exc_info=True)
        ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
            enqueue_pending=True, note=BROKER_DOWN_NOTE
        )
        return False
    return True


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

    def __init__(self, job: ImportJob, f: IO[bytes], attempt: int) -> None:
        self.job_id = job.pk
        self.attempt = attempt
        self.f = f
        self.last = 0.0
        self.side: Any = None
        # The side connection is shared by the caller's thread (progress)
        # and the heartbeat thread.
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.beater: threading.Thread | None = None
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
            else:
                # A beat of its own, not only with progress: the rollup
                # refresh or a slow batch may take longer than the stale
                # threshold without reading a byte.
                self.beater = threading.Thread(
                    target=self._beat, name=f"import-{self.job_id}-heartbeat", daemon=True
                )
                self.beater.start()

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        done = self.f.tell()
        cache.set(import_job_progress_key(self.job_id), done, 24 * 3600)
        self._write(done)

    def _write(self, done: int | None) -> None:
        """Heartbeat (and bytes done, when given) on the job row, only while
        this attempt still owns the job: a zombie never refreshes a job
        that another worker has reclaimed."""
        with self.lock:
            if self.side is None:
                return
            try:
                with self.side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportJob._meta.db_table} "  # noqa: S608
                        "SET heartbeat_at = now(), bytes_done = COALESCE(%s, bytes_done) "
                        "WHERE id = %s AND status = %s AND attempts = %s",
                        [done, self.job_id, ImportJob.Status.RUNNING, self.attempt],
                    )
            except DatabaseError:  # pragma: no cover - progress is best effort
                logger.warning("Could not publish progress of import %s", self.job_id)
                self.side.close()
                self.side = None

    def _beat(self) -> None:
        every = float(settings.METRICS_IMPORT_HEARTBEAT_SECONDS)
        while not self.stopped.wait(every):
            self._write(None)

    def close(self) -> None:
        self.stopped.set()
        if self.beater is not None and self.beater is not threading.current_thread():
            self.beater.join(timeout=5)
        with self.lock:
            if self.side is not None:
                self.side.close()
                self.side = None


def _claim(job_id: int) -> int | None:
    """Guarded update: only a queued job, or a running one whose heartbeat
    is stale (its worker died), can be claimed; two workers racing get one
    winner (the loser's UPDATE finds the row no longer matching). Returns
    the attempt number, which the run's own writes are guarded by."""
    now = timezone.now()
    claimable = Q(status=ImportJob.Status.QUEUED) | Q(
        Q(heartbeat_at__lt=_stale_before(now))
        | Q(heartbeat_at__isnull=True, claimed_at__lt=_stale_before(now)),
        status=ImportJob.Status.RUNNING,
    )
    claimed = ImportJob.objects.filter(Q(pk=job_id) & claimable).update(
        status=ImportJob.Status.RUNNING,
        claimed_at=now,
        heartbeat_at=now,
        started_at=now,
        attempts=F("attempts") + 1,
        error="",
        enqueue_pending=False,
        note="",
    )
    if claimed != 1:
        return None
    attempts: int = ImportJob.objects.values_list("attempts", flat=True).get(pk=job_id)
    return attempts


class _ClaimLost(Exception):
    """Another worker reclaimed the job (ours was thought dead): roll back."""


def import_job_run(*, job_id: int) -> ImportSummary | None:
    """Run one import job. Returns None when the job was not claimable
    (already done, or running elsewhere with a fresh heartbeat) or failed:
    running twice is harmless.

    The whole job is one transaction: samples, new series, rollups and the
    final counts commit together, or nothing does and the job is marked
    failed (after the rollback) with the reason. The reason users see is
    ours; an unexpected error is logged with a reference and only the
    reference is shown.
    """
    attempt = _claim(job_id)
    if attempt is None:
        logger.info("Import job %s is not claimable; nothing to do", job_id)
        return None
    job = ImportJob.objects.get(pk=job_id)
    path = Path(settings.MEDIA_ROOT) / job.file_path
    progress: _Progress | None = None
    detected = ""
    try:
        with path.open("rb") as f:
            progress = _Progress(job, f, attempt)
            detect.check_text(f)
            detect.refuse_bill(f)
            fmt = job.format
            if fmt == ImportJob.Format.AUTO:
                fmt = detect.detect_format(f)
            detected = fmt
            parser = get_parser(fmt)
            with transaction.atomic():
                summary = _ingest(job, f, fmt, parser, progress, attempt)
    except (ParseFailure, ImportRefused) as exc:
        _fail(job_id, attempt, _message(exc), detected)
        return None
    except _ClaimLost:
        logger.warning("Import job %s attempt %s lost its claim; rolled back", job_id, attempt)
        return None
    except (OSError, DatabaseError):
        # A missing file, a full disk, a database refusing a value: ours to
        # fix, not the uploader's; the job fails with a reference.
        _fail(job_id, attempt, _internal_error(job_id, "failed"), detected)
        return None
    except Exception:
        _fail(job_id, attempt, _internal_error(job_id, "failed"), detected)
        raise
    finally:
        if progress is not None:
            progress.close()
    cache.delete(import_job_progress_key(job_id))
    return summary


def _message(exc: ParseFailure | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    return str(exc)


def _fail(job_id: int, attempt: int, error: str, detected_format: str = "") -> None:
    # Written after the rollback, outside the job's transaction.
    ImportJob.objects.filter(pk=job_id, attempts=attempt).update(
        status=ImportJob.Status.FAILED,
        detected_format=detected_format,
        error=error[:2000],
        finished_at=timezone.now(),
        samples_stored=0,
        duplicates=0,
    )
    cache.delete(import_job_progress_key(job_id))


def _nothing_stored(ingestor: Ingestor, groups: list[dict[str, Any]]) -> str:
    """The one reason an import that stored nothing (and found nothing
    already stored) failed."""
    if ingestor.read == 0:
        return "The file holds no samples."
    if ingestor.unmapped_count == ingestor.read:
        names = ", ".join(sorted(ingestor.unmapped, key=lambda n: -ingestor.unmapped[n])[:3])
        return (
            f"None of the {ingestor.read:,} samples has a known metric name (e.g. {names}): "
            "add a metric mapping, or check that this is a metrics file."
        )
    top = groups[0] if groups else None
    reason = f' The most common reason: "{top["reason"]}" ({top["count"]:,} lines).' if top else ""
    return (
        f"Nothing was stored: {ingestor.rejected:,} of {ingestor.read:,} samples were "
        f"rejected and {ingestor.unmapped_count:,} had unknown metric names.{reason}"
    )


def _pilot_labels(job: ImportJob) -> dict[str, int]:
    """The values of a ``pilot`` label that tag a series with a pilot: the
    id and the name of each open pilot running on the job's backend that
    the uploader may tag (``import_scope_check``'s rule). Other values stay
    a plain label."""
    pilots = Pilot.objects.exclude(status__in=list(CLOSED_PILOT_STATUSES)).filter(
        Q(candidate_backend_id=job.backend_id) | Q(baseline_backend_id=job.backend_id)
    )
    user = job.created_by
    if user is not None and not may(user, METRICS_IMPORT_ANYWHERE):
        pilots = pilots.filter(pk__in=import_pilots_for(user).values("pk"))
    labels: dict[str, int] = {}
    for pk, name in pilots.values_list("pk", "name"):
        labels[str(pk)] = pk
        labels[name] = pk
    return labels


def _ingest(
    job: ImportJob, f: IO[bytes], fmt: str, parser: Any, progress: _Progress, attempt: int
) -> ImportSummary:
    limit = int(settings.METRICS_MAX_NEW_SERIES_PER_IMPORT)
    writer = SampleWriter(
        backend_id=job.backend_id,
        pilot_id=job.pilot_id,
        on_batch=progress,
        max_new_series=limit,
        pilot_labels=_pilot_labels(job),
    )
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
    except TooManySeries as exc:
        raise ImportRefused(
            f"This file would create {exc.new_series:,} new series; an import may create "
            f"at most {exc.limit:,} (METRICS_MAX_NEW_SERIES_PER_IMPORT). Nothing was stored. "
            "A label that changes with every sample (a request id, a timestamp) usually "
            "causes this."
        ) from None
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
        refresh_rollups(writer.touched, window_start, window_end, backend_id=job.backend_id)
    finished = timezone.now()
    groups = ingestor.groups.as_list()
    status, error, note = ImportJob.Status.SUCCEEDED, "", ""
    if stored == 0 and writer.duplicates == 0:
        # Nothing of the file is in the database: not a success. (All
        # duplicates is: the file was imported before.)
        status, error = ImportJob.Status.FAILED, _nothing_stored(ingestor, groups)
    elif writer.min_ts is not None and writer.min_ts == writer.max_ts:
        note = SINGLE_SCRAPE_NOTE
    fields = {
        "status": status,
        "error": error,
        "note": note,
        "reject_groups": groups,
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
    if not ImportJob.objects.filter(pk=job.pk, attempts=attempt).update(**fields):
        raise _ClaimLost
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
    """Enqueue again the jobs whose task was lost: queued while the broker
    was down (at once), queued for longer than ``older_than`` (default 10
    minutes: a message lost in a broker restart), or running with a stale
    heartbeat (a worker killed mid-job). Claiming makes a duplicate enqueue
    harmless. Beat runs it every few minutes (``CELERY_BEAT_SCHEDULE``)."""
    now = timezone.now()
    queued_before = now - (older_than or dt.timedelta(minutes=10))
    stale = _stale_before(now)
    ids = list(
        ImportJob.objects.filter(
            Q(status=ImportJob.Status.QUEUED, enqueue_pending=True)
            | Q(status=ImportJob.Status.QUEUED, created_at__lt=queued_before)
            | Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ImportJob.Status.RUNNING, heartbeat_at__isnull=True, claimed_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    sent = []
    for job_id in ids:
        if not _enqueue(job_id):
            break  # the broker is still down; the next sweep tries again
        ImportJob.objects.filter(pk=job_id, enqueue_pending=True).update(
            enqueue_pending=False, note=""
        )
        sent.append(job_id)
    return sent
