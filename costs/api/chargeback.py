"""Chargeback API (issue 10, §6): periods, statements, close and restate
commands, and budgets on the cost centers resource.

Visibility as in showback: finance and admins see every cost center's
statements and budgets; anyone else with a role those of the cost centers
they own or belong to (others answer 404, never a hint). Closing and
restating need ``COSTS_WRITE``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from costs import selectors
from costs.models import ChargebackPeriod, CostCenter, Statement, StatementLine
from costs.selectors import Period
from costs.services import (
    PeriodConflict,
    budget_delete,
    budget_set,
    budget_statuses,
    period_close,
    period_restate,
)
from costs.services.chargeback import months_with_data
from portal.api import JsonTypesMixin, QuerySerializer
from portal.roles import COSTS_WRITE

__all__ = [
    "BudgetView",
    "PeriodCloseView",
    "PeriodListView",
    "PeriodRestateView",
    "PeriodStatementsView",
    "StatementDetailView",
    "parse_period",
    "visible_statements",
]


STATE_REFUSED = OpenApiResponse(
    description="The month's state refuses it (`error.message` says why)."
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The period's state does not allow this now."


def parse_period(value: str) -> Period:
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise ValidationError({"period": [str(exc)]}) from None


def visible_statements(user: Any) -> QuerySet[Statement]:
    """Statements ``user`` may read (one query for the membership, or none)."""
    statements = Statement.objects.select_related("period", "replaces")
    visible = selectors.visible_cost_center_ids(user)
    if visible is not None:
        statements = statements.filter(cost_center_id__in=visible)
    return statements.prefetch_related(
        Prefetch("lines", queryset=StatementLine.objects.order_by("position"))
    )


# --- serializers -------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer[dict[str, Any]]):
    period = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=ChargebackPeriod.Status.choices)
    version = serializers.IntegerField(
        allow_null=True, help_text="Version of the latest statements; null while open."
    )


class StatementLineSerializer(serializers.ModelSerializer[StatementLine]):
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    quantity = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True)
    unit_cost = serializers.DecimalField(
        max_digits=30,
        decimal_places=12,
        allow_null=True,
        help_text="Amount per basis unit (token or request); null without a quantity.",
    )
    kind = serializers.ChoiceField(
        choices=StatementLine.Kind.choices,
        help_text="shadow_memo: this cost center's shadow traffic, charged to the "
        "platform's cost center and not in this total.",
    )

    class Meta:
        model = StatementLine
        fields = ["backend", "kind", "basis", "quantity", "unit_cost", "amount"]


class StatementSerializer(serializers.ModelSerializer[Statement]):
    cost_center = serializers.CharField(source="cost_center_code")
    period = serializers.CharField(source="period.period", help_text="YYYY-MM")
    replaces = serializers.SerializerMethodField(
        help_text="Number of the statement this version replaces (null for version 1)."
    )
    total = serializers.DecimalField(max_digits=20, decimal_places=2)
    lines = StatementLineSerializer(many=True)

    class Meta:
        model = Statement
        fields = ["number", "cost_center", "period", "version", "replaces", "total", "lines"]

    def get_replaces(self, statement: Statement) -> str | None:
        return None if statement.replaces is None else statement.replaces.number


class StatementDetailSerializer(StatementSerializer):
    closed_by = serializers.CharField(source="closed_by_name")

    class Meta(StatementSerializer.Meta):
        fields = [
            *StatementSerializer.Meta.fields,
            "currency",
            "cost_center_name",
            "content_hash",
            "closed_at",
            "closed_by",
            "reason",
        ]


class RestateSerializer(JsonTypesMixin, serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=500, help_text="Why the month is restated.")


class StatementVersionSerializer(QuerySerializer):
    version = serializers.IntegerField(required=False, min_value=1)


class BudgetSerializer(JsonTypesMixin, serializers.Serializer[dict[str, Any]]):
    cost_center = serializers.CharField(read_only=True)
    period = serializers.CharField(read_only=True)
    monthly_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, source="budget", allow_null=True
    )
    soft_percent = serializers.IntegerField(allow_null=True, min_value=1, max_value=1000)
    hard_percent = serializers.IntegerField(allow_null=True, min_value=1, max_value=1000)
    spend = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    forecast = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    state = serializers.ChoiceField(
        choices=["ok", "soft", "hard"], read_only=True, help_text="Highest threshold reached."
    )


class BudgetWriteSerializer(serializers.Serializer[dict[str, Any]]):
    monthly_amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    soft_percent = serializers.IntegerField(min_value=1, max_value=1000, default=80)
    hard_percent = serializers.IntegerField(min_value=1, max_value=1000, default=100)


# --- views -------------------------------------------------------------------------


class PeriodListView(APIView):
    """``GET /api/v1/chargeback/``: every month with data, newest first."""

    @extend_schema(
        summary="Chargeback periods",
        description="Every month with data: open or closed, and the version of its "
        "latest statements (null while open).",
        responses={200: PeriodSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        # Two queries: the months with daily rows, the period rows.
        rows = {row.period: row for row in ChargebackPeriod.objects.all()}
        out = []
        for period in reversed(months_with_data()):
            row = rows.get(str(period))
            closed = row is not None and row.is_closed
            out.append(
                {
                    "period": str(period),
                    "status": "closed" if closed else "open",
                    "version": row.version if closed and row is not None else None,
                }
            )
        return Response([PeriodSerializer(item).data for item in out])


class PeriodStatementsView(APIView):
    """``GET /api/v1/chargeback/{period}/statements/``: the month's latest
    statements the user may see (``?version=`` for an earlier one)."""

    @extend_schema(
        summary="Statements of a month",
        description="Latest versions by default; version=n for version n. Lines in order.",
        parameters=[StatementVersionSerializer],
        responses={200: StatementSerializer(many=True)},
    )
    def get(self, request: Request, period: str) -> Response:
        month = parse_period(period)
        query = StatementVersionSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        row = ChargebackPeriod.objects.filter(period=str(month)).first()
        if row is None or not row.version:
            return Response([])
        version = query.validated_data.get("version", row.version)
        statements = visible_statements(request.user).filter(period=row, version=version)
        return Response(StatementSerializer(statements, many=True).data)


class StatementDetailView(APIView):
    """``GET /api/v1/statements/{number}/``."""

    @extend_schema(
        summary="One statement",
        description="With its lines, content hash and who closed it.",
        responses={200: StatementDetailSerializer},
    )
    def get(self, request: Request, number: str) -> Response:
        statement = get_object_or_404(visible_statements(request.user), number=number)
        return Response(StatementDetailSerializer(statement).data)


def _conflict_or_invalid(exc: DjangoValidationError) -> APIException:
    if isinstance(exc, PeriodConflict):
        return Conflict(" ".join(exc.messages))
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"period": exc.messages})


class PeriodCloseView(APIView):
    """``POST /api/v1/chargeback/{period}/close/``."""

    capability = COSTS_WRITE

    @extend_schema(
        summary="Close a month",
        description="Runs the allocation for the month once more and freezes one "
        "statement per cost center. 409 when the month is closed already (or a close "
        "of it is running); 400 when it has not ended or an earlier month is open.",
        request=None,
        responses={201: PeriodSerializer, 409: STATE_REFUSED},
    )
    def post(self, request: Request, period: str) -> Response:
        month = parse_period(period)
        try:
            row = period_close(period=month, actor=request.user)
        except DjangoValidationError as exc:
            raise _conflict_or_invalid(exc) from None
        data = {"period": row.period, "status": row.status, "version": row.version}
        return Response(PeriodSerializer(data).data, status=status.HTTP_201_CREATED)


class PeriodRestateView(APIView):
    """``POST /api/v1/chargeback/{period}/restate/`` with ``{"reason"}``."""

    capability = COSTS_WRITE

    @extend_schema(
        summary="Restate a closed month",
        description="Recomputes the month with today's data and models and writes "
        "version n+1 of every statement, each replacing version n. 409 when the month "
        "is not closed.",
        request=RestateSerializer,
        responses={201: PeriodSerializer, 409: STATE_REFUSED},
    )
    def post(self, request: Request, period: str) -> Response:
        month = parse_period(period)
        body = RestateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = period_restate(
                period=month, actor=request.user, reason=body.validated_data["reason"]
            )
        except DjangoValidationError as exc:
            raise _conflict_or_invalid(exc) from None
        data = {"period": row.period, "status": row.status, "version": row.version}
        return Response(PeriodSerializer(data).data, status=status.HTTP_201_CREATED)


class BudgetView(APIView):
    """``/api/v1/cost-centers/{code}/budget/``: the month's budget status
    (``?period=``, default this month); PUT sets the budget, DELETE removes it."""

    capabilities = {"put": COSTS_WRITE, "delete": COSTS_WRITE}

    def _center(self, request: Request, code: str) -> CostCenter:
        center = get_object_or_404(CostCenter, code=code)
        visible = selectors.visible_cost_center_ids(request.user)
        if visible is not None and center.pk not in visible:
            raise Http404
        return center

    def _status(self, request: Request, center: CostCenter) -> dict[str, Any]:
        month = parse_period(request.query_params.get("period", ""))
        (found,) = budget_statuses(period=month, cost_centers=[center])
        return {
            "cost_center": found.cost_center,
            "period": found.period,
            "budget": found.budget,
            "soft_percent": found.soft_percent,
            "hard_percent": found.hard_percent,
            "spend": found.spend,
            "forecast": found.forecast,
            "state": found.state,
        }

    @extend_schema(
        summary="A cost center's budget this month",
        description="Budget, thresholds, month-to-date spend and straight-line forecast.",
        parameters=[OpenApiParameter("period", str, description="YYYY-MM (default: now)")],
        responses={200: BudgetSerializer},
    )
    def get(self, request: Request, code: str) -> Response:
        center = self._center(request, code)
        return Response(BudgetSerializer(self._status(request, center)).data)

    @extend_schema(
        summary="Set a cost center's budget",
        request=BudgetWriteSerializer,
        responses={200: BudgetSerializer},
    )
    def put(self, request: Request, code: str) -> Response:
        center = self._center(request, code)
        body = BudgetWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        budget_set(cost_center=center, actor=request.user, **body.validated_data)
        return Response(BudgetSerializer(self._status(request, center)).data)

    @extend_schema(summary="Remove a cost center's budget", request=None, responses={204: None})
    def delete(self, request: Request, code: str) -> Response:
        center = self._center(request, code)
        budget_delete(cost_center=center, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
