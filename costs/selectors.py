"""Reads of the costs app that pages and the API share.

Bills: the import list, a job's progress and per-backend totals, the
unmatched rows of a billing period, and a backend's billed cost of a day
(what the ``billed`` cost-model kind will call)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet, Sum

from costs.billing import bill_day_costs
from costs.models import BillImport, BillMapping, BillRow

__all__ = [
    "BillTotals",
    "UnmatchedSummary",
    "bill_backend_day_cost",
    "bill_import_backends",
    "bill_import_list",
    "bill_import_progress",
    "bill_mapping_list",
    "bill_unmatched",
    "parse_period",
]

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_ZERO = Decimal(0)


def parse_period(value: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` as its [start, end) in aware UTC; ValidationError naming
    the field ``period`` otherwise."""
    match = _PERIOD.match(value.strip())
    if not match:
        raise ValidationError({"period": "Give a month as YYYY-MM, e.g. 2024-09."})
    year, month = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def bill_import_list() -> QuerySet[BillImport]:
    """Bill imports, newest first, without the large fields lists never show."""
    return BillImport.objects.select_related("created_by").defer(
        "rejects", "missing_columns", "error"
    )


def bill_mapping_list() -> QuerySet[BillMapping]:
    return BillMapping.objects.select_related("backend").order_by("order", "id")


def bill_import_progress(job: BillImport) -> tuple[int, int]:
    """(bytes done, bytes total) of a job, for the page's progress bar. A
    running job publishes progress to the cache (its rows are invisible to
    other connections until commit)."""
    from costs.services.bills import bill_import_progress_key

    total = job.bytes_total or job.size_bytes
    if job.status == BillImport.Status.SUCCEEDED:
        return total, total
    if job.status == BillImport.Status.FAILED:
        return job.bytes_done, total
    cached = cache.get(bill_import_progress_key(job.pk))
    done = max(job.bytes_done, int(cached) if cached is not None else 0)
    return min(done, total), total


@dataclass
class BillTotals:
    """Row count and cost totals of a group of bill rows."""

    rows: int = 0
    billed_cost: Decimal = _ZERO
    effective_cost: Decimal = _ZERO
    list_cost: Decimal = _ZERO
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _totals() -> dict[str, Any]:
    return {
        "rows": Count("pk"),
        "billed": Sum("billed_cost"),
        "effective": Sum("effective_cost"),
        "listed": Sum("list_cost"),
    }


def _as_totals(values: dict[str, Any], label: str = "") -> BillTotals:
    return BillTotals(
        rows=values["rows"] or 0,
        billed_cost=values["billed"] or _ZERO,
        effective_cost=values["effective"] or _ZERO,
        list_cost=values["listed"] or _ZERO,
        label=label,
    )


def bill_import_backends(job: BillImport) -> list[BillTotals]:
    """The stored rows of one import by backend (unmatched last), with
    totals; one query."""
    rows = BillRow.objects.filter(job=job)
    grouped = (
        rows.values("backend__name", "backend__slug")
        .annotate(**_totals())
        .order_by("backend__name")
    )
    result = []
    for values in grouped:
        totals = _as_totals(values, values["backend__name"] or "")
        totals.extra = {"slug": values["backend__slug"] or ""}
        result.append(totals)
    result.sort(key=lambda t: (t.label == "", t.label))
    return result


@dataclass
class UnmatchedSummary:
    """The rows no bill mapping assigns, for one billing period (or all):
    totals, and the same by provider and service."""

    period: str
    total: BillTotals
    groups: list[BillTotals]


def bill_unmatched(period: str = "") -> UnmatchedSummary:
    """Unmatched bill rows whose billing period starts in ``period``
    (``YYYY-MM``; every period when empty), with their totals, grouped by
    ProviderName and ServiceName; two queries."""
    rows = BillRow.objects.filter(backend__isnull=True)
    if period:
        start, end = parse_period(period)
        rows = rows.filter(billing_period_start__gte=start, billing_period_start__lt=end)
    total = _as_totals(rows.aggregate(**_totals()))
    groups = []
    for values in (
        rows.values("provider_name", "service_name")
        .annotate(**_totals())
        .order_by("provider_name", "service_name")
    ):
        group = _as_totals(values, values["service_name"])
        group.extra = {"provider_name": values["provider_name"]}
        groups.append(group)
    return UnmatchedSummary(period=period, total=total, groups=groups)


def bill_backend_day_cost(*, backend_id: int, day: dt.date) -> Decimal:
    """A backend's cost on a UTC day from its mapped bill rows: each row's
    EffectiveCost spread over its charge period (``costs.billing``)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    rows = BillRow.objects.filter(
        backend_id=backend_id, charge_period_start__lt=end, charge_period_end__gte=start
    ).only("effective_cost", "charge_period_start", "charge_period_end")
    return bill_day_costs(rows, day)
