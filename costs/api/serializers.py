"""Serializers of the costs API. Input serializers only validate; the
services do the work. Money is a string (Decimal), times aware UTC."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from costs.models import BillImport, BillMapping
from metrics.forms import validate_import_upload
from pilots.models import Backend

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

    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
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


class BillMappingSerializer(serializers.ModelSerializer[BillMapping]):
    """A bill mapping rule. The service validates and re-assigns rows."""

    backend = serializers.SlugRelatedField(
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


class UnmatchedQuerySerializer(serializers.Serializer[Any]):
    period = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        allow_blank=True,
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
