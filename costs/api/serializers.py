"""Serializers of the costs API. Money and quantities are strings (Decimal),
times aware UTC; writes are validated here for shape and by the services
(through the models' ``full_clean``) for rules, and every error names its
field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from costs.models import BillImport, BillMapping, CostCenter, CostModel, UsageMapping
from metrics.forms import validate_import_upload
from pilots.models import Backend
from portal.api import JsonTypesMixin, QuerySerializer, SlugRelatedField

__all__ = [
    "BillImportCreateSerializer",
    "BillImportSerializer",
    "BillMappingSerializer",
    "BillRejectSerializer",
    "BillUnmatchedSerializer",
    "UnmatchedQuerySerializer",
]


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=28, decimal_places=15, read_only=True, **kwargs)


class BillRejectSerializer(serializers.Serializer[Any]):
    """A refused row: its line in the file and why."""

    line = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True)


class BillImportSerializer(serializers.ModelSerializer[BillImport]):
    """A bill import job (read-only). ``rejected`` counts every refused
    row, ``currency_refused`` those refused for their currency; the cost
    totals are the file's accepted rows, in ``currency``."""

    created_by: serializers.SlugRelatedField[Any] = SlugRelatedField(
        slug_field="username", read_only=True
    )
    rejects = BillRejectSerializer(many=True, read_only=True)
    missing_columns = serializers.ListField(child=serializers.CharField(), read_only=True)
    billed_cost = _money()
    effective_cost = _money()
    list_cost = _money()
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = BillImport
        fields = [
            "id",
            "source",
            "original_filename",
            "size_bytes",
            "currency",
            "status",
            "attempts",
            "focus_version",
            "rows_read",
            "rows_stored",
            "duplicates",
            "rejected",
            "currency_refused",
            "unmatched_count",
            "rejects",
            "missing_columns",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "error",
            "bytes_done",
            "bytes_total",
            "period_start",
            "period_end",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields


class BillImportCreateSerializer(serializers.Serializer[Any]):
    """The multipart body of ``POST /api/v1/bills/``; validates only."""

    file = serializers.FileField(
        help_text="A FOCUS 1.0, 1.1 or 1.2 CSV (multipart upload), at most "
        "IMPORT_MAX_UPLOAD_BYTES.",
        validators=[validate_import_upload],
    )


class BillMappingSerializer(JsonTypesMixin, serializers.ModelSerializer[BillMapping]):
    """A bill mapping rule. The service validates and re-assigns rows."""

    backend = SlugRelatedField(
        slug_field="slug", queryset=Backend.objects.all(), help_text="Backend slug."
    )
    column = serializers.ChoiceField(choices=BillMapping.Column.choices)
    tag_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The tag to match; only with column Tags.",
    )
    pattern = serializers.CharField(
        max_length=500, help_text="A regular expression the whole value must match."
    )
    order = serializers.IntegerField(min_value=0, help_text="Lowest order that matches wins.")

    class Meta:
        model = BillMapping
        fields = [
            "id",
            "backend",
            "column",
            "tag_key",
            "pattern",
            "order",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness of order is the service's (and the database's) check.
        validators: list[Any] = []


class UnmatchedQuerySerializer(QuerySerializer):
    period = serializers.RegexField(
        r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="Billing period YYYY-MM (by BillingPeriodStart); all periods when absent.",
    )


class BillTotalsSerializer(serializers.Serializer[Any]):
    rows = serializers.IntegerField(read_only=True)
    billed_cost = _money()
    effective_cost = _money()
    list_cost = _money()


class BillUnmatchedGroupSerializer(BillTotalsSerializer):
    provider_name = serializers.CharField(read_only=True)
    service_name = serializers.CharField(read_only=True)


class BillUnmatchedSerializer(serializers.Serializer[Any]):
    """Rows no bill mapping assigns, with totals, by provider and service."""

    period = serializers.CharField(read_only=True, help_text="YYYY-MM, or empty for all.")
    total = BillTotalsSerializer(read_only=True)
    groups = BillUnmatchedGroupSerializer(many=True, read_only=True)


def _users() -> Any:
    return User.objects.filter(is_active=True)


class CostCenterSerializer(JsonTypesMixin, serializers.ModelSerializer[CostCenter]):
    owner = SlugRelatedField(
        slug_field="username", queryset=_users(), required=False, allow_null=True
    )
    members = SlugRelatedField(slug_field="username", queryset=_users(), many=True, required=False)

    class Meta:
        model = CostCenter
        fields = ["code", "name", "owner", "members", "is_active", "is_platform"]
        extra_kwargs = {"name": {"required": False}}


class CostModelSerializer(JsonTypesMixin, serializers.ModelSerializer[CostModel]):
    backend = SlugRelatedField(slug_field="slug", queryset=Backend.objects.all())

    class Meta:
        model = CostModel
        fields = [
            "id",
            "backend",
            "kind",
            "effective_from",
            "currency",
            "device_hour_rate",
            "capex",
            "amortization_months",
            "amortization_start",
            "opex_monthly",
            "opex_source",
            "pue",
            "energy_price_kwh",
            "nameplate_kw_per_device",
            "capacity_tokens_per_second",
            "output_token_weight",
            "latency_objective_seconds",
            "idle_policy",
            "basis",
            "notes",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {"currency": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Negative amounts are refused here, naming the field, before the
        # model's own checks (which say the same for the database).
        for name, value in attrs.items():
            if isinstance(value, Decimal) and value < 0:
                raise serializers.ValidationError({name: "Must not be negative."})
        return attrs


class UsageMappingSerializer(JsonTypesMixin, serializers.ModelSerializer[UsageMapping]):
    cost_center = SlugRelatedField(slug_field="code", queryset=CostCenter.objects.all())

    class Meta:
        model = UsageMapping
        fields = ["id", "label", "value", "cost_center", "order"]
        read_only_fields = ["id"]
        extra_kwargs = {"order": {"required": False}}


class PeriodQuerySerializer(QuerySerializer):
    period = serializers.RegexField(
        r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="Month, YYYY-MM (UTC). Default: the current month.",
        error_messages={"invalid": "Use YYYY-MM, e.g. 2026-11."},
    )


class ShowbackQuerySerializer(PeriodQuerySerializer):
    backend = serializers.CharField(required=False, help_text="Backend slug.")
    cost_center = serializers.CharField(required=False, help_text="Cost center code.")


class ShowbackBackendSerializer(serializers.Serializer[Any]):
    backend = serializers.CharField(help_text="Backend slug.")
    cost = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=True)
    idle = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=True)
    unmapped = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=True)
    utilization = serializers.DecimalField(max_digits=20, decimal_places=6)
    idle_policy = serializers.CharField(help_text="share, platform or mixed.")
    power_source = serializers.CharField(
        allow_null=True, help_text="measured, nameplate, mixed, or null (cloud rate)."
    )
    days_without_contract = serializers.IntegerField(
        help_text="Days of the month whose cost model takes its opex from contract and no "
        "contract with a monthly or yearly fee covered the backend: their opex is 0."
    )


class ShowbackLineSerializer(serializers.Serializer[Any]):
    cost_center = serializers.CharField(allow_null=True, help_text="Null on unmapped lines.")
    backend = serializers.CharField()
    kind = serializers.CharField(help_text="usage, shadow, unmapped, idle or other.")
    basis = serializers.CharField()
    quantity = serializers.DecimalField(
        max_digits=30, decimal_places=6, allow_null=True, normalize_output=True
    )
    amount = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=True)


class ShowbackSerializer(serializers.Serializer[Any]):
    period = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField(help_text="open (chargeback adds closed).")
    backends = ShowbackBackendSerializer(many=True)
    lines = ShowbackLineSerializer(many=True)
    total = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=True)


def _figure(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=60,
        decimal_places=12,
        allow_null=True,
        coerce_to_string=True,
        normalize_output=True,
        **kwargs,
    )


class BreakEvenPointSerializer(serializers.Serializer[Any]):
    utilization = serializers.DecimalField(max_digits=20, decimal_places=6)
    cost_per_1m_tokens = _figure()


class BackendEconomicsSerializer(serializers.Serializer[Any]):
    backend = serializers.CharField(help_text="Backend slug.")
    cost = _figure()
    input_tokens = _figure()
    output_tokens = _figure()
    requests = _figure()
    cost_per_1m_tokens = _figure()
    cost_per_1m_input_tokens = _figure()
    cost_per_1m_output_tokens = _figure()
    split_method = serializers.CharField(
        allow_null=True, help_text="token_weight or time_share: how input/output were split."
    )
    cost_per_inference = _figure()
    joules_per_token = _figure()
    utilization = _figure()
    goodput_fraction = _figure()
    cost_per_1m_goodput_tokens = _figure()
    break_even = BreakEvenPointSerializer(many=True)
    operating_point = BreakEvenPointSerializer(allow_null=True)


class CompareSerializer(serializers.Serializer[Any]):
    period = serializers.CharField()
    currency = serializers.CharField()
    backends = BackendEconomicsSerializer(many=True)


class RatiosSerializer(serializers.Serializer[Any]):
    cost = _figure()
    input_tokens = _figure()
    output_tokens = _figure()
    requests = _figure()
    cost_per_1m_tokens = _figure()
    cost_per_1m_input_tokens = _figure()
    cost_per_1m_output_tokens = _figure()
    cost_per_inference = _figure()
    joules_per_token = _figure()
    utilization = _figure()
    goodput_fraction = _figure()
    cost_per_1m_goodput_tokens = _figure()


class PilotEconomicsSerializer(serializers.Serializer[Any]):
    pilot = serializers.IntegerField()
    period = serializers.CharField()
    currency = serializers.CharField()
    candidate = BackendEconomicsSerializer()
    baseline = BackendEconomicsSerializer()
    ratios = RatiosSerializer(help_text="candidate / baseline, null where either is null or 0.")
