"""Reads of red flags that the pages, fragments and API share."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from reviews.models import RedFlag
from reviews.models.redflags import SEVERITY_RANK

__all__ = ["open_counts_by_pilot", "open_flags_by_severity", "red_flag_list"]


def red_flag_list() -> QuerySet[RedFlag]:
    """Flags with their pilot and source type (one query per page)."""
    return RedFlag.objects.select_related("pilot", "source_type")


def open_counts_by_pilot(pilot_ids: Iterable[int]) -> dict[int, int]:
    """Open flags per pilot, for a list of pilots (one query)."""
    rows = (
        RedFlag.objects.filter(pilot_id__in=list(pilot_ids), cleared_at__isnull=True)
        .values("pilot_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["pilot_id"]: row["n"] for row in rows}


def open_flags_by_severity() -> list[tuple[str, str, int]]:
    """(severity, label, open count), most severe first, zeros included."""
    counts = dict(
        RedFlag.objects.filter(cleared_at__isnull=True)
        .values_list("severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        (value, label, counts.get(value, 0))
        for value, label in sorted(RedFlag.Severity.choices, key=lambda c: SEVERITY_RANK[c[0]])
    ]
