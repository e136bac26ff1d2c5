"""Serializers of the costs API. Money and quantities are strings
(Decimal); writes are validated here for shape and by the services (through
the models' ``full_clean``) for rules, and every error names its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from costs.models import CostCenter, CostModel, UsageMapping
from pilots.models import Backend

# Month money is rounded to the cent; derived figures keep 12 places, shown
# without trailing zeros.


def _users() -> Any:
    return User.objects.filter(is_active=True)


class CostCenterSerializer(serializers.ModelSerializer[CostCenter]):
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=_users(), required=False, allow_null=True
    )
    members = serializers.SlugRelatedField(
        slug_field="username", queryset=_users(), many=True, required=False
    )

    class Meta:
        model = CostCenter
        fields = ["code", "name", "owner", "members", "is_active", "is_platform"]
        extra_kwargs = {"name": {"required": False}}


class CostModelSerializer(serializers.ModelSerializer[CostModel]):
    backend = serializers.SlugRelatedField(slug_field="slug", queryset=Backend.objects.all())

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


class UsageMappingSerializer(serializers.ModelSerializer[UsageMapping]):
    cost_center = serializers.SlugRelatedField(slug_field="code", queryset=CostCenter.objects.all())

    class Meta:
        model = UsageMapping
        fields = ["id", "label", "value", "cost_center", "order"]
        read_only_fields = ["id"]
        extra_kwargs = {"order": {"required": False}}


# --- reports ----------------------------------------------------------------------


class PeriodQuerySerializer(serializers.Serializer[Any]):
    period = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
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
