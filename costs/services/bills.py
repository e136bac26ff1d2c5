"""FOCUS bill imports and bill mappings (issue 10 §2).

Every entry point (page, ``POST /api/v1/bills/``, ``manage.py
import_focus``) goes through ``bill_import_create``; the Celery task
``costs.tasks.run_bill_import`` runs ``bill_import_run``, which claims the
job with a guarded update, streams the file through ``costs.focus``, maps
each row to a backend and stores the rows in one transaction.

Bill mappings are written here too; every write re-assigns the stored rows
(``bill_rows_reassign``) in the same transaction, so a row's backend always
follows the current rules.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from costs.focus import FocusFormatError, FocusReader, FocusReject, FocusRow
from costs.models import BillImport, BillMapping, BillRow
from costs.services.allocation import allocation_refresh_later
from costs.services.chargeback import period_record_late_arrival
from pilots.models import Backend
from portal.audit import Actor, acting_user, record_change, snapshot
from portal.models import ChangeRecord

__all__ = [
    "BillMatcher",
    "bill_import_create",
    "bill_import_progress_key",
    "bill_import_run",
    "bill_imports_requeue_stale",
    "bill_mapping_create",
    "bill_mapping_delete",
    "bill_mapping_update",
    "bill_rows_reassign",
]

logger = logging.getLogger(__name__)

BILL_DIR = "bills"
BATCH_ROWS = 2000
PROGRESS_EVERY_SECONDS = 0.5
_SCOPE = "bills"


def bill_import_progress_key(job_id: int) -> str:
    return f"costs:bill-import:{job_id}:bytes_done"


def _stale_after() -> dt.timedelta:
    """A running job older than the task's hard time limit cannot still be
    alive (the worker would have killed it), so it may be claimed again."""
    return dt.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 3600)) + 60)


# ---------------------------------------------------------------------------
# Mapping rules
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    backend_id: int
    column: str
    tag_key: str
    regex: re.Pattern[str]


class BillMatcher:
    """The bill mappings, compiled, in order: ``backend_for`` gives the
    backend id of the first rule whose column value matches its pattern in
    full, or None. A Tags rule matches only rows that have its key."""

    def __init__(self, mappings: Iterable[BillMapping]) -> None:
        self.rules = [
            _Rule(m.backend_id, m.column, m.tag_key, re.compile(m.pattern))
            for m in sorted(mappings, key=lambda m: (m.order, m.pk or 0))
        ]

    @classmethod
    def load(cls) -> BillMatcher:
        return cls(BillMapping.objects.all())

    def backend_for(self, values: Mapping[str, str], tags: Mapping[str, str]) -> int | None:
        """``values``: column name -> text for ResourceId, ServiceName,
        SkuId and ProviderName; ``tags``: the row's tags."""
        for rule in self.rules:
            if rule.column == BillMapping.Column.TAGS:
                value = tags.get(rule.tag_key)
                if value is None:
                    continue
            else:
                value = values.get(rule.column, "")
            if rule.regex.fullmatch(value):
                return rule.backend_id
        return None

    def backend_for_row(self, row: FocusRow) -> int | None:
        return self.backend_for(
            {
                "ResourceId": row.resource_id,
                "ServiceName": row.service_name,
                "SkuId": row.sku_id,
                "ProviderName": row.provider_name,
            },
            row.tags,
        )


def bill_rows_reassign(*, matcher: BillMatcher | None = None) -> int:
    """Give every stored bill row the backend the current mappings assign
    (None where none matches). Returns the number of rows that changed.
    Runs in the caller's transaction; rows are read in chunks."""
    matcher = matcher or BillMatcher.load()
    moves: dict[int | None, list[int]] = defaultdict(list)
    spans = _Spans()
    rows = BillRow.objects.values_list(
        "pk",
        "backend_id",
        "resource_id",
        "service_name",
        "sku_id",
        "provider_name",
        "tags",
        "charge_period_start",
        "charge_period_end",
    ).order_by("pk")
    for (
        pk,
        current,
        resource_id,
        service_name,
        sku_id,
        provider_name,
        tags,
        period_start,
        period_end,
    ) in rows.iterator(chunk_size=BATCH_ROWS):
        target = matcher.backend_for(
            {
                "ResourceId": resource_id,
                "ServiceName": service_name,
                "SkuId": sku_id,
                "ProviderName": provider_name,
            },
            tags or {},
        )
        if target != current:
            moves[target].append(pk)
            # Both backends' billed days change: the one losing the row too.
            spans.add(current, period_start, period_end)
            spans.add(target, period_start, period_end)
    changed = 0
    for target, ids in moves.items():
        for start in range(0, len(ids), BATCH_ROWS):
            chunk = ids[start : start + BATCH_ROWS]
            changed += BillRow.objects.filter(pk__in=chunk).update(backend_id=target)
    # Import counts of unmatched rows follow the rules too.
    if changed:
        for job_id, count in _unmatched_by_job().items():
            BillImport.objects.filter(pk=job_id).exclude(unmatched_count=count).update(
                unmatched_count=count
            )
    spans.refresh_later()
    return changed


class _Spans:
    """The UTC days each backend's bill rows cover, to refresh their
    allocation (billed cost models) after the transaction commits."""

    def __init__(self) -> None:
        self.days: dict[int, tuple[dt.date, dt.date]] = {}

    @staticmethod
    def row_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
        # Charge periods end exclusively: a row ending at midnight stops the day before.
        last = end - dt.timedelta(microseconds=1) if end > start else start
        return start.astimezone(dt.UTC).date(), last.astimezone(dt.UTC).date()

    def add(self, backend_id: int | None, start: dt.datetime, end: dt.datetime) -> None:
        if backend_id is None:
            return
        first, last = self.row_days(start, end)
        known = self.days.get(backend_id)
        if known is not None:
            first, last = min(first, known[0]), max(last, known[1])
        self.days[backend_id] = (first, last)

    def refresh_later(self) -> None:
        for backend_id, (first, last) in sorted(self.days.items()):
            allocation_refresh_later(backend_ids=[backend_id], start=first, end=last)


def _after_import(job: BillImport) -> None:
    """In the import's transaction: enqueue the allocation refresh of the
    days its new rows cover, per mapped backend, for after the commit; rows
    for a closed month are a late arrival (counted on the period, its
    effect computed by a task, never booked: the allocation skips closed
    days)."""
    spans = _Spans()
    overall: tuple[dt.datetime, dt.datetime] | None = None
    for backend_id, first, last in (
        BillRow.objects.filter(job=job)
        .values_list("backend_id")
        .annotate(first=Min("charge_period_start"), last=Max("charge_period_end"))
        .values_list("backend_id", "first", "last")
        .order_by("backend_id")
    ):
        spans.add(backend_id, first, last)
        overall = (
            (first, last) if overall is None else (min(overall[0], first), max(overall[1], last))
        )
    spans.refresh_later()
    if overall is None:
        return
    day_from, day_to = _Spans.row_days(*overall)
    touched = period_record_late_arrival(
        day_from=day_from,
        day_to=day_to,
        source="bill import",
        reference=f"bill-import:{job.pk}",
        backend_id=next(iter(spans.days)) if len(spans.days) == 1 else None,
    )
    for period in touched:
        transaction.on_commit(_late_check(period.period))


def _late_check(period: str) -> Callable[[], None]:
    def enqueue() -> None:
        from costs.tasks_chargeback import check_late_data

        check_late_data.delay(period)

    return enqueue


def _unmatched_by_job() -> dict[int, int]:
    counts = dict(
        BillRow.objects.filter(backend__isnull=True)
        .values_list("job_id")
        .annotate(n=Count("pk"))
        .values_list("job_id", "n")
    )
    jobs = BillImport.objects.filter(status=BillImport.Status.SUCCEEDED).values_list(
        "pk", flat=True
    )
    return {job_id: counts.get(job_id, 0) for job_id in jobs}


def _mapping_save(*, actor: Actor, mapping: BillMapping, before: dict[str, Any] | None) -> None:
    mapping.full_clean()
    mapping.save()
    record_change(
        actor=actor,
        instance=mapping,
        action=ChangeRecord.Action.CREATE if before is None else ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(mapping),
        scope=_SCOPE,
    )
    bill_rows_reassign()


def bill_mapping_create(
    *,
    actor: Actor,
    backend: Backend,
    column: str,
    pattern: str,
    order: int,
    tag_key: str = "",
) -> BillMapping:
    """Add a rule and re-assign the stored rows to what the rules now say."""
    with transaction.atomic():
        mapping = BillMapping(
            backend=backend, column=column, tag_key=tag_key.strip(), pattern=pattern, order=order
        )
        _mapping_save(actor=actor, mapping=mapping, before=None)
    return mapping


def bill_mapping_update(
    *,
    actor: Actor,
    mapping: BillMapping,
    backend: Backend | None = None,
    column: str | None = None,
    pattern: str | None = None,
    order: int | None = None,
    tag_key: str | None = None,
) -> BillMapping:
    """Change a rule (the fields given) and re-assign the stored rows."""
    with transaction.atomic():
        # The row lock orders two edits of one rule: each re-assigns after
        # the other's change, never from a stale copy.
        locked = BillMapping.objects.select_for_update().get(pk=mapping.pk)
        before = snapshot(locked)
        if backend is not None:
            locked.backend = backend
        if column is not None:
            locked.column = column
        if pattern is not None:
            locked.pattern = pattern
        if order is not None:
            locked.order = order
        if tag_key is not None:
            locked.tag_key = tag_key.strip()
        _mapping_save(actor=actor, mapping=locked, before=before)
    return locked


def bill_mapping_delete(*, actor: Actor, mapping: BillMapping) -> None:
    """Remove a rule; the rows it assigned go to the next matching rule, or
    become unmatched."""
    with transaction.atomic():
        record_change(
            actor=actor,
            instance=mapping,
            action=ChangeRecord.Action.DELETE,
            before=snapshot(mapping),
            scope=_SCOPE,
        )
        mapping.delete()
        bill_rows_reassign()


# ---------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------


def _store_file(
    file: UploadedFile | IO[bytes] | str | os.PathLike[str], name: str
) -> tuple[str, str, int]:
    """Copy the upload (or a local file) under MEDIA_ROOT/bills/ in bounded
    pieces, enforcing IMPORT_MAX_UPLOAD_BYTES. Returns (relative path,
    original name, size)."""
    limit = int(settings.IMPORT_MAX_UPLOAD_BYTES)
    directory = Path(settings.MEDIA_ROOT) / BILL_DIR
    directory.mkdir(parents=True, exist_ok=True)
    relative = f"{BILL_DIR}/{name}"
    target = Path(settings.MEDIA_ROOT) / relative
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValidationError({"file": f"No such file: {path.name}"})
        source: IO[bytes] = path.open("rb")
        original = path.name
    else:
        source = file
        original = os.path.basename(getattr(file, "name", "") or "") or "upload.csv"
    chunks: Any = (
        file.chunks()
        if isinstance(file, UploadedFile)
        else iter(lambda: source.read(1024 * 1024), b"")
    )
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        {"file": f"The file is larger than the {limit:,}-byte limit."}
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        if isinstance(file, (str, os.PathLike)):
            source.close()
    if size == 0:
        target.unlink(missing_ok=True)
        raise ValidationError({"file": "The file is empty."})
    return relative, original, size


def bill_import_create(
    *,
    actor: Actor,
    file: UploadedFile | IO[bytes] | str | os.PathLike[str],
    source: str = BillImport.Source.UPLOAD,
    enqueue: bool = True,
) -> BillImport:
    """Store the file, create a queued job and enqueue its import after
    commit (``enqueue=False``: the caller runs ``bill_import_run`` itself,
    as the command does)."""
    if source not in BillImport.Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    now = timezone.now()
    relative, original, size = _store_file(file, f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.csv")
    try:
        with transaction.atomic():
            job = BillImport(
                source=source,
                file_path=relative,
                original_filename=original[:255],
                size_bytes=size,
                bytes_total=size,
                currency=settings.PILOTGATE_CURRENCY,
                created_by=acting_user(actor),
            )
            job.full_clean()
            job.save()
            record_change(
                actor=actor,
                instance=job,
                action=ChangeRecord.Action.CREATE,
                scope=_SCOPE,
                message=f"Bill import of {original[:120]}",
            )
            if enqueue:
                job_id = job.pk
                transaction.on_commit(lambda: _enqueue(job_id))
    except BaseException:
        (Path(settings.MEDIA_ROOT) / relative).unlink(missing_ok=True)
        raise
    return job


def _enqueue(job_id: int) -> None:
    from costs.tasks import run_bill_import

    run_bill_import.delay(job_id)


def _claim(job_id: int) -> bool:
    """Guarded update: only a queued job, or a running one whose worker is
    certainly gone, can be claimed. Two workers racing get one winner."""
    now = timezone.now()
    claimable = Q(status=BillImport.Status.QUEUED) | Q(
        status=BillImport.Status.RUNNING, claimed_at__lt=now - _stale_after()
    )
    claimed = BillImport.objects.filter(Q(pk=job_id) & claimable).update(
        status=BillImport.Status.RUNNING,
        claimed_at=now,
        started_at=now,
        attempts=F("attempts") + 1,
        error="",
    )
    return claimed == 1


def bill_import_run(*, job_id: int) -> dict[str, Any] | None:
    """Run one bill import. Returns None when the job was not claimable
    (already done, or running elsewhere) or failed: running twice is
    harmless. Rows and final counts commit together, or nothing does and
    the job is marked failed (after the rollback) with the reason."""
    if not _claim(job_id):
        logger.info("Bill import %s is not claimable; nothing to do", job_id)
        return None
    job = BillImport.objects.get(pk=job_id)
    path = Path(settings.MEDIA_ROOT) / job.file_path
    try:
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            with transaction.atomic():
                summary = _ingest(job, raw, text)
    except FocusFormatError as exc:
        _fail(job_id, str(exc))
        return None
    except UnicodeDecodeError:
        _fail(job_id, "The file is not UTF-8 text, so it is not a FOCUS CSV.")
        return None
    except (ValidationError, OSError) as exc:
        _fail(job_id, "; ".join(getattr(exc, "messages", [str(exc)]))[:500])
        return None
    except Exception as exc:
        logger.exception("Bill import %s failed", job_id)
        _fail(job_id, f"internal error ({type(exc).__name__}); it has been logged.")
        raise
    cache.delete(bill_import_progress_key(job_id))
    return summary


def _fail(job_id: int, error: str) -> None:
    # Written after the rollback, outside the job's transaction.
    BillImport.objects.filter(pk=job_id).update(
        status=BillImport.Status.FAILED,
        error=error[:2000],
        finished_at=timezone.now(),
        rows_stored=0,
        duplicates=0,
    )
    cache.delete(bill_import_progress_key(job_id))


def _ingest(job: BillImport, raw: IO[bytes], text: io.TextIOWrapper) -> dict[str, Any]:
    reader = FocusReader(text, currency=job.currency)
    matcher = BillMatcher.load()
    rejects: list[dict[str, Any]] = []
    rejected = accepted = 0
    totals = {"billed": Decimal(0), "effective": Decimal(0), "list": Decimal(0)}
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    batch: list[BillRow] = []
    last_progress = 0.0

    def flush() -> None:
        nonlocal last_progress
        # A row hash already stored (this file imported before, or a row
        # shared with another file) is skipped by the database itself, so
        # concurrent imports of one file store each row once.
        BillRow.objects.bulk_create(batch, ignore_conflicts=True)
        batch.clear()
        now = time.monotonic()
        if now - last_progress >= PROGRESS_EVERY_SECONDS:
            last_progress = now
            cache.set(bill_import_progress_key(job.pk), raw.tell(), 24 * 3600)

    for item in reader:
        if isinstance(item, FocusReject):
            rejected += 1
            if len(rejects) < BillImport.MAX_REJECTS:
                rejects.append({"line": item.line, "reason": item.reason})
            continue
        accepted += 1
        totals["billed"] += item.billed_cost
        totals["effective"] += item.effective_cost
        totals["list"] += item.list_cost or 0
        if period_start is None or item.charge_period_start < period_start:
            period_start = item.charge_period_start
        if period_end is None or item.charge_period_end > period_end:
            period_end = item.charge_period_end
        batch.append(_bill_row(job, item, matcher.backend_for_row(item)))
        if len(batch) >= BATCH_ROWS:
            flush()
    if batch:
        flush()
    stored = BillRow.objects.filter(job=job).count()
    unmatched = BillRow.objects.filter(job=job, backend__isnull=True).count()
    fields: dict[str, Any] = {
        "status": BillImport.Status.SUCCEEDED,
        "focus_version": reader.version,
        "rows_read": reader.read,
        "rows_stored": stored,
        "duplicates": accepted - stored,
        "rejected": rejected,
        "currency_refused": reader.currency_refused,
        "unmatched_count": unmatched,
        "rejects": rejects,
        "missing_columns": reader.missing_mandatory,
        "billed_cost": totals["billed"],
        "effective_cost": totals["effective"],
        "list_cost": totals["list"],
        "bytes_done": job.size_bytes,
        "period_start": period_start,
        "period_end": period_end,
        "finished_at": timezone.now(),
    }
    BillImport.objects.filter(pk=job.pk).update(**fields)
    _after_import(job)
    return {"job_id": job.pk, **fields}


def _bill_row(job: BillImport, row: FocusRow, backend_id: int | None) -> BillRow:
    return BillRow(
        job=job,
        line=row.line,
        row_hash=row.row_hash,
        backend_id=backend_id,
        billed_cost=row.billed_cost,
        effective_cost=row.effective_cost,
        list_cost=row.list_cost,
        contracted_cost=row.contracted_cost,
        currency=row.billing_currency,
        charge_period_start=row.charge_period_start,
        charge_period_end=row.charge_period_end,
        billing_period_start=row.billing_period_start,
        billing_period_end=row.billing_period_end,
        charge_category=row.charge_category,
        charge_frequency=row.charge_frequency[:20],
        charge_description=row.charge_description,
        billing_account_id=row.billing_account_id[:200],
        resource_id=row.resource_id,
        service_name=row.service_name[:200],
        service_category=row.service_category[:100],
        sku_id=row.sku_id[:200],
        provider_name=row.provider_name[:200],
        pricing_quantity=row.pricing_quantity,
        pricing_unit=row.pricing_unit[:100],
        tags=row.tags,
    )


def bill_imports_requeue_stale(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Enqueue again the jobs whose task was lost: queued for longer than
    ``older_than`` (default 10 minutes) or running past the hard time
    limit. Claiming makes a duplicate enqueue harmless."""
    now = timezone.now()
    queued_before = now - (older_than or dt.timedelta(minutes=10))
    ids = list(
        BillImport.objects.filter(
            Q(status=BillImport.Status.QUEUED, created_at__lt=queued_before)
            | Q(status=BillImport.Status.RUNNING, claimed_at__lt=now - _stale_after())
        ).values_list("pk", flat=True)
    )
    for job_id in ids:
        _enqueue(job_id)
    return ids
