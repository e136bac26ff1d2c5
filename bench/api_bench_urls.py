"""The benchmark's URLconf: the portal's URLs plus a bare JSON view and a
hand-written twin of each list endpoint (``bench/api_bench.py``). The twins
run the list's queries (the session, the user, the role check, one page
read with ``values()``) and answer the same JSON through ``JsonResponse``:
the floor the real endpoints are measured against. Not in production URLs."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, path

from metrics.models import ImportJob
from pilots.models import Backend, Vendor
from pilots.selectors import pilot_list
from portal.roles import may
from portal.urls import handler403, handler404, handler500
from portal.urls import urlpatterns as portal_urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]

PAGE = 50
# Built once, as the viewset's class attribute is: building its subqueries
# per request would make the twin slower than the endpoint. (Any: the
# current phase's columns are annotations the type checker cannot see.)
PILOTS: Any = pilot_list()


def _dt(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _d(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _refused(request: HttpRequest) -> JsonResponse | None:
    if not request.user.is_authenticated:
        return JsonResponse({"error": {"code": "not_authenticated"}}, status=401)
    if not may(request.user):
        return JsonResponse({"error": {"code": "permission_denied"}}, status=403)
    return None


def _page(rows: list[dict[str, Any]]) -> JsonResponse:
    # One row more than the page says whether there is a next one.
    more = len(rows) > PAGE
    return JsonResponse(
        {"next": "more" if more else None, "previous": None, "results": rows[:PAGE]}
    )


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def twin_pilots(request: HttpRequest) -> JsonResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    rows = []
    for r in PILOTS.values(
        "id", "name", "model_name", "status", "team", "cost_center", "traffic_slice",
        "target_start", "target_end",
        "candidate_backend__slug", "candidate_backend__name", "candidate_backend__kind",
        "baseline_backend__slug", "baseline_backend__name", "baseline_backend__kind",
        "current_phase_kind", "current_phase_label", "current_phase_status",
        "current_phase_end",
    )[: PAGE + 1]:  # fmt: skip
        rows.append(
            {
                "id": r["id"],
                "name": r["name"],
                "model_name": r["model_name"],
                "status": r["status"],
                "team": r["team"],
                "cost_center": r["cost_center"],
                "traffic_slice": r["traffic_slice"],
                "target_start": _d(r["target_start"]),
                "target_end": _d(r["target_end"]),
                "candidate_backend": {
                    "slug": r["candidate_backend__slug"],
                    "name": r["candidate_backend__name"],
                    "kind": r["candidate_backend__kind"],
                },
                "baseline_backend": {
                    "slug": r["baseline_backend__slug"],
                    "name": r["baseline_backend__name"],
                    "kind": r["baseline_backend__kind"],
                },
                "current_phase": None
                if r["current_phase_kind"] is None
                else {
                    "kind": r["current_phase_kind"],
                    "display_name": r["current_phase_label"],
                    "status": r["current_phase_status"],
                    "planned_end": _d(r["current_phase_end"]),
                },
            }
        )
    return _page(rows)


def twin_backends(request: HttpRequest) -> JsonResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    rows = [
        {
            "slug": r["slug"],
            "name": r["name"],
            "kind": r["kind"],
            "vendor": {"slug": r["vendor__slug"], "name": r["vendor__name"]},
            "device_model": r["device_model"],
            "device_count": r["device_count"],
            "site": r["site__slug"],
            "region": r["region"],
            "is_active": r["is_active"],
            "notes": r["notes"],
            "updated_at": _dt(r["updated_at"]),
        }
        for r in Backend.objects.values(
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
        )[: PAGE + 1]
    ]
    return _page(rows)


def twin_vendors(request: HttpRequest) -> JsonResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    rows: list[dict[str, Any]] = []
    for r in Vendor.objects.values(
        "slug", "name", "website", "contact_email", "risk_notes", "updated_at"
    )[: PAGE + 1]:
        row = dict(r)
        row["updated_at"] = _dt(r["updated_at"])
        rows.append(row)
    return _page(rows)


IMPORT_FIELDS = (
    "id", "backend__slug", "pilot", "format", "detected_format", "source",
    "original_filename", "size_bytes", "scrape_time", "status", "attempts", "samples_read",
    "samples_stored", "duplicates", "rejected", "unmapped_count", "rejects", "reject_groups",
    "unmapped", "error", "note", "bytes_done", "bytes_total", "window_start", "window_end",
    "created_by__username", "created_at", "started_at", "finished_at",
)  # fmt: skip


def twin_imports(request: HttpRequest) -> JsonResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    rows = []
    for r in ImportJob.objects.order_by("-created_at", "-id").values(*IMPORT_FIELDS)[: PAGE + 1]:
        started, finished = r["started_at"], r["finished_at"]
        row = dict(r)
        row["backend"] = row.pop("backend__slug")
        row["created_by"] = row.pop("created_by__username")
        for name in ("scrape_time", "window_start", "window_end", "created_at"):
            row[name] = _dt(row[name])
        row["started_at"], row["finished_at"] = _dt(started), _dt(finished)
        row["duration_seconds"] = (
            (finished - started).total_seconds() if started and finished else None
        )
        rows.append(row)
    return _page(rows)


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/twin/pilots/", twin_pilots, name="bench-twin-pilots"),
    path("bench/twin/backends/", twin_backends, name="bench-twin-backends"),
    path("bench/twin/vendors/", twin_vendors, name="bench-twin-vendors"),
    path("bench/twin/imports/", twin_imports, name="bench-twin-imports"),
    *cast(list[URLPattern | URLResolver], portal_urlpatterns),
]
