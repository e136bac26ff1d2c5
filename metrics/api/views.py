"""Metrics endpoints (``/api/v1/``): import jobs and the backend summary.

Starting an import is a command: one view, one service call, 202 with the
queued job. Reads are open to every role; imports to the roles that push
metrics.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics import selectors, services
from metrics.api.serializers import (
    ImportJobCreateSerializer,
    ImportJobSerializer,
    MetricsSummarySerializer,
    SummaryWindowSerializer,
    import_job_json,
    import_job_rows,
)
from metrics.filters import ImportJobFilter
from metrics.models import ImportJob
from pilots.models import Backend
from portal.api import StrictPageSizeMixin, ValuesListMixin
from portal.parsers import JSONParser, MultiPartParser
from portal.roles import METRICS_IMPORT

__all__ = ["BackendSummaryView", "ImportJobViewSet"]


class ImportJobPagination(StrictPageSizeMixin, CursorPagination):
    """Cursor pagination: the job table grows without bound and
    page-number pagination would run a COUNT(*) on every page."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="List import jobs", description="Newest first, cursor-paginated."),
    retrieve=extend_schema(
        summary="Get an import job",
        description="Status, counts (read, stored, duplicates, rejected, unmapped), the "
        "first rejects with line number and reason, unmapped metric names and progress.",
    ),
    create=extend_schema(
        summary="Import a metrics file",
        description="Multipart upload: `file`, `backend` (slug), optional `pilot` (id), "
        "`format` (auto, prometheus_text, openmetrics, query_range_json, csv) and "
        "`scrape_time`. Answers 202 with the queued job; poll it for the result.",
        request=ImportJobCreateSerializer,
        responses={202: ImportJobSerializer},
    ),
)
class ImportJobViewSet(
    ValuesListMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ImportJob],
):
    # The list is written from values() rows (same JSON as the serializer,
    # tests/portal/test_api_lists.py): no model instance per job.
    list_rows = staticmethod(import_job_rows)
    list_json = staticmethod(import_job_json)
    queryset = ImportJob.objects.select_related("backend", "created_by")
    serializer_class = ImportJobSerializer
    pagination_class = ImportJobPagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = ImportJobFilter
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    capabilities = {"create": METRICS_IMPORT}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = ImportJobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = services.import_job_create(
            actor=request.user,
            backend=data["backend"],
            pilot=data.get("pilot"),
            fmt=data.get("format") or ImportJob.Format.AUTO,
            source=ImportJob.Source.API,
            file=data["file"],
            scrape_time=data.get("scrape_time"),
        )
        body = ImportJobSerializer(job).data
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{request.path.rstrip('/')}/{job.pk}/"},
        )


class BackendSummaryView(APIView):
    """``GET /api/v1/backends/{slug}/summary/?start=&end=``: the backend's
    metrics summary over a window (hourly rollups; constant queries)."""

    @extend_schema(
        summary="Metrics summary of a backend",
        description="Requests, tokens, tokens/s, latency and TTFT quantiles (p50/p95/p99/"
        "p99.9 from merged histogram buckets), error rate (fraction), utilization, power, "
        "energy and J/token, max temperature and throttling over [start, end). The "
        "window is aligned to whole UTC hours; without start and end it is the last 24 "
        "hours. Counts are integers. Optional: pilot (id), model, cost_center.",
        parameters=[SummaryWindowSerializer],
        responses={200: MetricsSummarySerializer},
    )
    def get(self, request: Request, slug: str) -> Response:
        backend = get_object_or_404(Backend, slug=slug)
        window = SummaryWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        data = window.validated_data
        pilot = data.get("pilot")
        if pilot is not None and not pilot.runs_on(backend):
            # An empty summary would read as "no traffic"; say what is wrong.
            raise ValidationError({"pilot": [f"Pilot {pilot.pk} does not run on {backend.slug}."]})
        summary = selectors.metrics_summary(
            backend=backend,
            start=data["start"],
            end=data["end"],
            pilot=data.get("pilot"),
            model=data.get("model") or None,
            cost_center=data.get("cost_center") or None,
        )
        body = {**summary.as_dict(), "note": selectors.summary_note(summary)}
        return Response(MetricsSummarySerializer(body).data)
