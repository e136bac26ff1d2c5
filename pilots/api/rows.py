"""List rows straight from ``values()``: the JSON of the list serializers
(``VendorSerializer``, ``BackendSerializer``, ``PilotListSerializer``, which
stay the documented schema) without building a model instance or running a
serializer field per row. On these machines that is what a list costs; its
queries are cheap (DESIGN.md, "Performance facts").

``tests/pilots/test_api_rows.py`` holds each function to its serializer's
output, so the schema stays true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from pilots.models import Backend, Pilot
from portal.api import iso_datetime

__all__ = [
    "BACKEND_FIELDS",
    "PILOT_FIELDS",
    "backend_json",
    "backend_rows",
    "iso_datetime",
    "pilot_json",
    "pilot_rows",
]


def _iso_date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


BACKEND_FIELDS = (
    "slug",
    "name",
    "kind",
    "vendor__slug",
    "vendor__name",
    "device_model",
    "device_count",
    "site__slug",
    "region",
    "is_active",
    "notes",
    "updated_at",
)


def backend_rows(queryset: QuerySet[Backend]) -> QuerySet[Backend, dict[str, Any]]:
    rows: QuerySet[Any, dict[str, Any]] = queryset.values(*BACKEND_FIELDS)
    return rows


def backend_json(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "slug": row["slug"],
            "name": row["name"],
            "kind": row["kind"],
            "vendor": {"slug": row["vendor__slug"], "name": row["vendor__name"]},
            "device_model": row["device_model"],
            "device_count": row["device_count"],
            "site": row["site__slug"],
            "region": row["region"],
            "is_active": row["is_active"],
            "notes": row["notes"],
            "updated_at": iso_datetime(row["updated_at"]),
        }
        for row in rows
    ]


# The pilot's own columns, then its backends' and the current phase's
# (annotated by ``pilots.selectors.pilot_list()``).
_PILOT_OWN = (
    "id",
    "name",
    "model_name",
    "status",
    "team",
    "cost_center",
    "traffic_slice",
)
PILOT_FIELDS = (
    *_PILOT_OWN,
    "target_start",
    "target_end",
    "candidate_backend__slug",
    "candidate_backend__name",
    "candidate_backend__kind",
    "baseline_backend__slug",
    "baseline_backend__name",
    "baseline_backend__kind",
    "current_phase_kind",
    "current_phase_label",
    "current_phase_status",
    "current_phase_end",
)


def pilot_rows(queryset: QuerySet[Pilot]) -> QuerySet[Pilot, dict[str, Any]]:
    """``queryset`` must come from ``pilot_list()`` (the current phase's annotations)."""
    rows: QuerySet[Any, dict[str, Any]] = queryset.values(*PILOT_FIELDS)
    return rows


def pilot_json(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = {name: row[name] for name in _PILOT_OWN}
        item["target_start"] = _iso_date(row["target_start"])
        item["target_end"] = _iso_date(row["target_end"])
        item["candidate_backend"] = {
            "slug": row["candidate_backend__slug"],
            "name": row["candidate_backend__name"],
            "kind": row["candidate_backend__kind"],
        }
        item["baseline_backend"] = {
            "slug": row["baseline_backend__slug"],
            "name": row["baseline_backend__name"],
            "kind": row["baseline_backend__kind"],
        }
        kind = row["current_phase_kind"]
        item["current_phase"] = (
            None
            if kind is None
            else {
                "kind": kind,
                "display_name": row["current_phase_label"],
                "status": row["current_phase_status"],
                "planned_end": _iso_date(row["current_phase_end"]),
            }
        )
        out.append(item)
    return out
