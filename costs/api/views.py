"""Costs endpoints (``/api/v1/``): FOCUS bill imports and bill mappings.

Starting an import is a command: one view, one service call, 202 with the
queued job. Reads are open to every role; imports and mapping writes to
finance and admins (``COSTS_WRITE``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from costs import selectors, services
from costs.api.serializers import (
    BillImportCreateSerializer,
    BillImportSerializer,
    BillMappingSerializer,
    BillUnmatchedSerializer,
    UnmatchedQuerySerializer,
)
from costs.filters import BillImportFilter
from costs.models import BillImport, BillMapping
from portal.roles import COSTS_WRITE

__all__ = ["BillImportViewSet", "BillMappingViewSet"]


class BillImportPagination(CursorPagination):
    """Cursor pagination: no COUNT(*) on a table that only grows."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="List bill imports", description="Newest first, cursor-paginated."),
    retrieve=extend_schema(
        summary="Get a bill import",
        description="Status, counts (read, stored, duplicates, rejected — of which refused "
        "for their currency —, unmatched), the first rejects with line and reason, the "
        "mandatory FOCUS columns the file lacks, cost totals and progress.",
    ),
    create=extend_schema(
        summary="Import a FOCUS bill",
        description="Multipart upload of `file`, a FOCUS 1.0, 1.1 or 1.2 CSV. Answers 202 "
        "with the queued job; poll it for the result.",
        request=BillImportCreateSerializer,
        responses={202: BillImportSerializer},
    ),
)
class BillImportViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[BillImport],
):
    queryset = BillImport.objects.select_related("created_by")
    serializer_class = BillImportSerializer
    pagination_class = BillImportPagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = BillImportFilter
    lookup_value_regex = r"\d+"
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    capabilities = {"create": COSTS_WRITE}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = BillImportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        job = services.bill_import_create(
            actor=request.user, file=form.validated_data["file"], source=BillImport.Source.API
        )
        return Response(
            BillImportSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{request.path.rstrip('/')}/{job.pk}/"},
        )

    @extend_schema(
        summary="Unmatched bill rows",
        description="Rows no bill mapping assigns to a backend, with their totals, grouped "
        "by ProviderName and ServiceName; `period` (YYYY-MM) picks a billing period.",
        parameters=[UnmatchedQuerySerializer],
        responses={200: BillUnmatchedSerializer},
        filters=False,
    )
    @action(detail=False, methods=["get"], url_path="unmatched", pagination_class=None)
    def unmatched(self, request: Request) -> Response:
        query = UnmatchedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = selectors.bill_unmatched(query.validated_data.get("period") or "")
        body = {
            "period": summary.period,
            "total": summary.total,
            "groups": [
                {**vars(group), "service_name": group.label, **group.extra}
                for group in summary.groups
            ],
        }
        return Response(BillUnmatchedSerializer(body).data)


@extend_schema_view(
    list=extend_schema(
        summary="List bill mappings",
        description="The rules in the order they are tried, lowest first: a bill row goes "
        "to the backend of the first rule whose column matches its pattern in full.",
    ),
    retrieve=extend_schema(summary="Get a bill mapping", description="One rule."),
    create=extend_schema(
        summary="Add a bill mapping",
        description="`column` is ResourceId, ServiceName, SkuId, ProviderName or Tags (then "
        "`tag_key` names the tag); `pattern` a regular expression the whole value must "
        "match; `order` unique, lowest wins. Stored rows are re-assigned.",
    ),
    update=extend_schema(
        summary="Replace a bill mapping", description="Stored rows are re-assigned."
    ),
    partial_update=extend_schema(
        summary="Change a bill mapping", description="Stored rows are re-assigned."
    ),
    destroy=extend_schema(
        summary="Remove a bill mapping",
        description="The rows it assigned go to the next matching rule, or become unmatched.",
    ),
)
class BillMappingViewSet(viewsets.ModelViewSet[BillMapping]):
    queryset = BillMapping.objects.select_related("backend").order_by("order", "id")
    serializer_class = BillMappingSerializer
    pagination_class = None
    lookup_value_regex = r"\d+"
    search_fields: list[str] = []
    ordering_fields: list[str] = []
    filterset_class = None

    capabilities = {
        "create": COSTS_WRITE,
        "update": COSTS_WRITE,
        "partial_update": COSTS_WRITE,
        "destroy": COSTS_WRITE,
    }

    def perform_create(self, serializer: serializers.BaseSerializer[BillMapping]) -> None:
        data = serializer.validated_data
        serializer.instance = services.bill_mapping_create(
            actor=self.request.user,
            backend=data["backend"],
            column=data["column"],
            tag_key=data.get("tag_key", ""),
            pattern=data["pattern"],
            order=data["order"],
        )

    def perform_update(self, serializer: serializers.BaseSerializer[BillMapping]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.bill_mapping_update(
            actor=self.request.user, mapping=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: BillMapping) -> None:
        with transaction.atomic():
            services.bill_mapping_delete(actor=self.request.user, mapping=instance)
