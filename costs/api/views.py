"""Endpoints of the costs API (``/api/v1/``): CRUD of cost centers, cost
models, usage mappings and bill mappings (finance and admins write,
``COSTS_WRITE``), the showback, backend comparison and pilot economics
reports, and FOCUS bill imports (a command: one view, one service call, 202
with the queued job).

Writes go through ``costs.services``; reports through ``costs.selectors``
(stored daily rows only, a constant number of queries).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from costs import selectors, services
from costs.api.serializers import (
    BillImportCreateSerializer,
    BillImportSerializer,
    BillMappingSerializer,
    BillUnmatchedSerializer,
    CompareSerializer,
    CostCenterSerializer,
    CostModelSerializer,
    PeriodQuerySerializer,
    PilotEconomicsSerializer,
    ShowbackQuerySerializer,
    ShowbackSerializer,
    UnmatchedQuerySerializer,
    UsageMappingSerializer,
)
from costs.filters import BillImportFilter, CostCenterFilter, CostModelFilter, UsageMappingFilter
from costs.models import BillImport, BillMapping, CostCenter, CostModel, UsageMapping
from pilots.models import Pilot
from portal.api import StrictPageSizeMixin
from portal.parsers import JSONParser, MultiPartParser
from portal.roles import COSTS_WRITE

__all__ = [
    "BillImportViewSet",
    "BillMappingViewSet",
]


class BillImportPagination(StrictPageSizeMixin, CursorPagination):
    """Cursor pagination: no COUNT(*) on a table that only grows; a
    ``page_size`` that is not a whole number is a 400 naming it."""

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


WRITES = {
    "create": COSTS_WRITE,
    "update": COSTS_WRITE,
    "partial_update": COSTS_WRITE,
    "destroy": COSTS_WRITE,
}


@extend_schema_view(
    list=extend_schema(
        summary="List cost centers",
        description="Cost centers by code, with owner and members as usernames.",
    ),
    retrieve=extend_schema(summary="Get a cost center", description="One cost center, by code."),
    create=extend_schema(
        summary="Create a cost center (finance, admins)",
        description="Create a cost center (finance, admins); the change is recorded.",
    ),
    update=extend_schema(
        summary="Replace a cost center (finance, admins)",
        description="Replace a cost center (finance, admins); the change is recorded.",
    ),
    partial_update=extend_schema(
        summary="Change a cost center (finance, admins)",
        description="Change a cost center (finance, admins); the change is recorded.",
    ),
    destroy=extend_schema(
        summary="Delete an unused cost center (finance, admins)",
        description="Delete an unused cost center (finance, admins); the change is recorded.",
    ),
)
class CostCenterViewSet(viewsets.ModelViewSet[CostCenter]):
    queryset = CostCenter.objects.select_related("owner").prefetch_related("members")
    serializer_class = CostCenterSerializer
    filterset_class = CostCenterFilter
    lookup_field = "code"
    lookup_value_regex = r"[^/]+"
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    capabilities = WRITES

    def perform_create(self, serializer: serializers.BaseSerializer[CostCenter]) -> None:
        data = dict(serializer.validated_data)
        members = data.pop("members", [])
        serializer.instance = services.cost_center_create(
            actor=self.request.user, members=members, **data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[CostCenter]) -> None:
        data = dict(serializer.validated_data)
        members = data.pop("members", None)
        assert serializer.instance is not None
        serializer.instance = services.cost_center_update(
            actor=self.request.user, center=serializer.instance, data=data, members=members
        )

    def perform_destroy(self, instance: CostCenter) -> None:
        services.cost_center_delete(actor=self.request.user, center=instance)


@extend_schema_view(
    list=extend_schema(
        summary="List cost models",
        description="Each backend's effective-dated cost models. Filter by backend (slug), kind.",
    ),
    retrieve=extend_schema(
        summary="Get a cost model",
        description="Get a cost model; the change is recorded.",
    ),
    create=extend_schema(
        summary="Add a cost model (finance, admins)",
        description="Applies from effective_from (UTC date) until the backend's next model; "
        "the open days it touches are recomputed after commit.",
    ),
    update=extend_schema(
        summary="Replace a cost model (finance, admins)",
        description="Replace a cost model (finance, admins); the change is recorded.",
    ),
    partial_update=extend_schema(
        summary="Change a cost model (finance, admins)",
        description="Change a cost model (finance, admins); the change is recorded.",
    ),
    destroy=extend_schema(
        summary="Delete a cost model (finance, admins)",
        description="Delete a cost model (finance, admins); the change is recorded.",
    ),
)
class CostModelViewSet(viewsets.ModelViewSet[CostModel]):
    queryset = CostModel.objects.select_related("backend").order_by(
        "backend__slug", "effective_from"
    )
    serializer_class = CostModelSerializer
    filterset_class = CostModelFilter
    ordering_fields = ["effective_from"]
    capabilities = WRITES

    def perform_create(self, serializer: serializers.BaseSerializer[CostModel]) -> None:
        serializer.instance = services.cost_model_create(
            actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[CostModel]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.cost_model_update(
            actor=self.request.user, model=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: CostModel) -> None:
        services.cost_model_delete(actor=self.request.user, model=instance)


@extend_schema_view(
    list=extend_schema(
        summary="List usage mappings",
        description="Series label values mapped to cost centers; the lowest order wins.",
    ),
    retrieve=extend_schema(
        summary="Get a usage mapping",
        description="Get a usage mapping; the change is recorded.",
    ),
    create=extend_schema(
        summary="Map a label value to a cost center (finance, admins)",
        description="Map a label value to a cost center (finance, admins); the change is recorded.",
    ),
    update=extend_schema(
        summary="Replace a usage mapping (finance, admins)",
        description="Replace a usage mapping (finance, admins); the change is recorded.",
    ),
    partial_update=extend_schema(
        summary="Change a usage mapping (finance, admins)",
        description="Change a usage mapping (finance, admins); the change is recorded.",
    ),
    destroy=extend_schema(
        summary="Delete a usage mapping (finance, admins)",
        description="Delete a usage mapping (finance, admins); the change is recorded.",
    ),
)
class UsageMappingViewSet(viewsets.ModelViewSet[UsageMapping]):
    queryset = UsageMapping.objects.select_related("cost_center")
    serializer_class = UsageMappingSerializer
    filterset_class = UsageMappingFilter
    ordering_fields = ["order", "label"]
    capabilities = WRITES

    def perform_create(self, serializer: serializers.BaseSerializer[UsageMapping]) -> None:
        serializer.instance = services.usage_mapping_create(
            actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[UsageMapping]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.usage_mapping_update(
            actor=self.request.user,
            mapping=serializer.instance,
            data=dict(serializer.validated_data),
        )

    def perform_destroy(self, instance: UsageMapping) -> None:
        services.usage_mapping_delete(actor=self.request.user, mapping=instance)


def _period(
    request: Request, query_class: type[PeriodQuerySerializer]
) -> tuple[Any, dict[str, Any]]:
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = dict(query.validated_data)
    return selectors.Period.parse(data.get("period")), data


def economics_json(figures: selectors.BackendEconomics) -> dict[str, Any]:
    """One backend's §5 figures in the API's field names."""
    point = figures.operating_point
    return {
        "backend": figures.backend,
        **{name: getattr(figures, name) for name in selectors.RATIO_FIGURES},
        "split_method": figures.split_method,
        "break_even": [
            {"utilization": p.utilization, "cost_per_1m_tokens": p.cost_per_1m_tokens}
            for p in figures.break_even
        ],
        "operating_point": None
        if point is None
        else {"utilization": point.utilization, "cost_per_1m_tokens": point.cost_per_1m_tokens},
    }


def showback_json(report: selectors.ShowbackReport) -> dict[str, Any]:
    return {
        "period": str(report.period),
        "currency": report.currency,
        "status": report.status,
        "backends": [
            {
                "backend": b.backend,
                "cost": b.cost,
                "idle": b.idle,
                "unmapped": b.unmapped,
                "utilization": b.utilization,
                "idle_policy": b.idle_policy,
                "power_source": b.power_source,
                "days_without_contract": b.days_without_contract,
            }
            for b in report.backends
        ],
        "lines": [
            {
                "cost_center": line.cost_center,
                "backend": line.backend,
                "kind": line.kind,
                "basis": line.basis,
                "quantity": line.quantity,
                "amount": line.amount,
            }
            for line in report.lines
        ],
        "total": report.total,
    }


class ShowbackView(APIView):
    """The month's showback as the caller may see it."""

    @extend_schema(
        summary="Showback of a month",
        description=(
            "Per backend: cost (the month's days summed, rounded to the cent half-even), idle, "
            "unmapped, utilization, idle policy and power source; lines per cost center and "
            "kind (usage, shadow, unmapped, idle) rounded by largest remainder so each "
            "backend's lines add up exactly to its cost. Finance and admins see every cost "
            "center; others see those they own or belong to, the rest summed into one "
            "'other' line per backend."
        ),
        parameters=[ShowbackQuerySerializer],
        responses=ShowbackSerializer,
    )
    def get(self, request: Request) -> Response:
        period, data = _period(request, ShowbackQuerySerializer)
        report = selectors.showback(
            period=period,
            user=request.user,
            backend=data.get("backend") or None,
            cost_center=data.get("cost_center") or None,
        )
        return Response(ShowbackSerializer(showback_json(report)).data)


class BackendCompareView(APIView):
    """Unit economics of every backend with a cost in the month."""

    @extend_schema(
        summary="Compare backends' unit economics",
        description=(
            "Per backend for the month: cost, input/output tokens, requests, $/1M tokens "
            "(and split into input and output by output_token_weight or, where vLLM prefill "
            "and decode histograms were imported, by their time shares: split_method), "
            "$/inference, J/token, utilization, goodput fraction at the cost model's latency "
            "objective and $/1M goodput tokens, and the break-even curve ($/1M tokens at "
            "5 %..100 % utilization: the month's average hourly cost over capacity x 3600 x u) "
            "with the measured operating point. Null where a figure cannot be computed."
        ),
        parameters=[PeriodQuerySerializer],
        responses=CompareSerializer,
    )
    def get(self, request: Request) -> Response:
        period, _ = _period(request, PeriodQuerySerializer)
        figures = selectors.backend_economics(period=period)
        body = {
            "period": str(period),
            "currency": selectors.currency(),
            "backends": [economics_json(f) for f in figures],
        }
        return Response(CompareSerializer(body).data)


class PilotEconomicsView(APIView):
    """A pilot's candidate against its baseline."""

    @extend_schema(
        summary="A pilot's unit economics",
        description="The candidate's and baseline's figures for the month and each ratio "
        "candidate / baseline.",
        parameters=[PeriodQuerySerializer],
        responses=PilotEconomicsSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        pilot = get_object_or_404(
            Pilot.objects.select_related("candidate_backend", "baseline_backend"), pk=pk
        )
        period, _ = _period(request, PeriodQuerySerializer)
        result = selectors.pilot_economics(pilot=pilot, period=period)
        body = {
            "pilot": pilot.pk,
            "period": str(period),
            "currency": selectors.currency(),
            "candidate": economics_json(result["candidate"]),
            "baseline": economics_json(result["baseline"]),
            "ratios": result["ratios"],
        }
        return Response(PilotEconomicsSerializer(body).data)
