"""Vendors, contracts and SLA incidents in the API (``/api/v1/vendors/``,
``/contracts/``, ``/incidents/``), and compliance per contract and vendor.

Procurement and platform admins write (``VENDORS_WRITE``); every other role
reads. Writes go through ``pilots.services``; vendor and backends are
named by slug, parts by part number.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from pilots import sla
from pilots.filters_vendors import ContractFilter, IncidentFilter
from pilots.models import MAX_TERM_DAYS, Backend, Contract, Incident, Part, Vendor
from pilots.selectors_vendors import (
    MonthParseError,
    contract_compliance,
    contracts_list,
    default_months,
    incidents_list,
    months_between,
    parse_month,
    vendor_compliance,
)
from pilots.services import catalog, vendors
from portal.api import JsonTypesMixin, SlugRelatedField
from portal.roles import VENDORS_WRITE

__all__ = [
    "ComplianceSerializer",
    "ContractSerializer",
    "ContractViewSet",
    "IncidentSerializer",
    "IncidentViewSet",
    "VendorDetailSerializer",
    "VendorViewSet",
]

SLUG_REGEX = r"[-a-zA-Z0-9_]+"
WRITE_CAPABILITIES = {
    "create": VENDORS_WRITE,
    "update": VENDORS_WRITE,
    "partial_update": VENDORS_WRITE,
}
WRITE_METHODS = ["get", "post", "put", "patch", "head", "options"]
WRITERS_ONLY = "Procurement and platform admins only; recorded in the change log."


def _user_field() -> serializers.SlugRelatedField[Any]:
    return SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who gave this answer; null while it is unanswered.",
    )


class VendorDetailSerializer(JsonTypesMixin, serializers.ModelSerializer[Vendor]):
    """A vendor with its support contacts and risk assessment; each risk
    answer carries who gave it (username) and when (read-only, stamped)."""

    roadmap_confidence_assessed_by = _user_field()
    business_health_assessed_by = _user_field()
    escrowed_source_assessed_by = _user_field()
    multi_vendor_fallback_assessed_by = _user_field()
    risk_notes_assessed_by = _user_field()

    class Meta:
        model = Vendor
        fields = [
            "slug",
            "name",
            "website",
            "contact_email",
            "support_contacts",
            "roadmap_confidence",
            "roadmap_confidence_assessed_by",
            "roadmap_confidence_assessed_at",
            "business_health",
            "business_health_assessed_by",
            "business_health_assessed_at",
            "escrowed_source",
            "escrowed_source_assessed_by",
            "escrowed_source_assessed_at",
            "multi_vendor_fallback",
            "multi_vendor_fallback_assessed_by",
            "multi_vendor_fallback_assessed_at",
            "risk_notes",
            "risk_notes_assessed_by",
            "risk_notes_assessed_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f.endswith("_assessed_at")] + ["updated_at"]


class MonthComplianceSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM")
    measured = serializers.IntegerField(help_text="Measured incidents due in the month.")
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    compliance_percent = serializers.FloatField(
        allow_null=True, help_text="met / (met + breached) × 100; null when nothing is decided."
    )
    availability_percent = serializers.FloatField(help_text="1 - outage hours / hours, in %.")
    credits = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Credits owed, capped (a string)."
    )


class ComplianceTotalSerializer(serializers.Serializer[Any]):
    measured = serializers.IntegerField()
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    compliance_percent = serializers.FloatField(allow_null=True)
    availability_percent = serializers.FloatField()
    credits = serializers.DecimalField(max_digits=16, decimal_places=2)


class ComplianceSerializer(serializers.Serializer[Any]):
    months = MonthComplianceSerializer(many=True)
    total = ComplianceTotalSerializer()


COMPLIANCE_PARAMETERS = [
    OpenApiParameter("from", str, description="First month, YYYY-MM (default: 11 months ago)."),
    OpenApiParameter("to", str, description="Last month, YYYY-MM (default: this month)."),
]


def _months(request: Request) -> list[sla.Month]:
    today = timezone.now().date()
    fallback = default_months(today=today)
    try:
        raw_from = request.query_params.get("from")
        raw_to = request.query_params.get("to")
        first = parse_month(raw_from, field="from") if raw_from else None
        last = parse_month(raw_to, field="to") if raw_to else None
        if first is None and last is None:
            return fallback
        if first is None:
            assert last is not None
            first = last if last < fallback[0] else fallback[0]
        if last is None:
            last = max(first, fallback[-1])
        return months_between(first, last)
    except MonthParseError as error:
        raise ValidationError({error.field: [str(error)]}) from None


def _compliance_response(report: sla.ComplianceReport) -> Response:
    return Response(ComplianceSerializer(report.to_dict()).data)


@extend_schema_view(
    list=extend_schema(summary="List vendors", description="Vendors by name; search: name, slug."),
    retrieve=extend_schema(summary="Get a vendor", description="One vendor, by slug."),
    create=extend_schema(summary="Add a vendor", description="Procurement and admins."),
    update=extend_schema(
        summary="Replace a vendor's details",
        description="Replace a vendor's details. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Change a vendor's details or risk assessment",
        description="Each risk answer that changes is stamped with who and when.",
    ),
)
class VendorViewSet(viewsets.ModelViewSet[Vendor]):
    queryset = Vendor.objects.select_related(
        "roadmap_confidence_assessed_by",
        "business_health_assessed_by",
        "escrowed_source_assessed_by",
        "multi_vendor_fallback_assessed_by",
        "risk_notes_assessed_by",
    )
    serializer_class = VendorDetailSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "updated_at"]
    capabilities = WRITE_CAPABILITIES
    http_method_names = WRITE_METHODS

    def perform_create(self, serializer: serializers.BaseSerializer[Vendor]) -> None:
        serializer.instance = catalog.vendor_create(
            actor=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Vendor]) -> None:
        assert serializer.instance is not None
        serializer.instance = catalog.vendor_update(
            vendor=serializer.instance,
            actor=self.request.user,
            data=dict(serializer.validated_data),
        )

    @extend_schema(
        summary="Vendor SLA compliance by month",
        description="The contract compliance figures summed over all the vendor's contracts; "
        "availability merges all their outages.",
        parameters=COMPLIANCE_PARAMETERS,
        responses=ComplianceSerializer,
    )
    @action(detail=True, methods=["get"], url_path="compliance", url_name="compliance")
    def compliance(self, request: Request, slug: str | None = None) -> Response:
        vendor = self.get_object()
        return _compliance_response(
            vendor_compliance(vendor, months=_months(request), now=timezone.now())
        )


class ContractSerializer(JsonTypesMixin, serializers.ModelSerializer[Contract]):
    vendor = SlugRelatedField(
        slug_field="slug", queryset=Vendor.objects.all(), help_text="Vendor slug."
    )
    backends = SlugRelatedField(
        slug_field="slug",
        many=True,
        queryset=Backend.objects.all(),
        required=False,
        help_text="Slugs of the backends covered.",
    )
    notice_date = serializers.DateField(
        read_only=True, help_text="end minus notice_days: the last day notice can be given."
    )

    class Meta:
        model = Contract
        fields = [
            "id",
            "vendor",
            "reference",
            "backends",
            "start",
            "end",
            "notice_days",
            "notice_date",
            "auto_renewal",
            "renewal_term_months",
            "fee",
            "fee_period",
            "replacement_hours",
            "response_hours",
            "firmware_cadence_days",
            "patch_window_days",
            "uptime_percent",
            "support_tier",
            "credit_percent",
            "credit_basis",
            "credit_cap_percent",
            "updated_at",
        ]
        # Day counts a date can be moved by (the notice date, patch and firmware
        # due dates): ten years at most, so no date falls off the calendar.
        extra_kwargs = {
            name: {"max_value": MAX_TERM_DAYS}
            for name in ("notice_days", "firmware_cadence_days", "patch_window_days")
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start is not None and end is not None and end < start:
            raise ValidationError({"end": ["The end cannot be before the start."]})
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary="List contracts",
        description="Soonest end first. Filter by vendor slug, covered backend slug, "
        "fee period, auto-renewal, end dates.",
    ),
    retrieve=extend_schema(
        summary="Get a contract", description="Get a contract. Every role may read."
    ),
    create=extend_schema(summary="Add a contract", description="Procurement and admins."),
    update=extend_schema(
        summary="Replace a contract's terms",
        description="Replace a contract's terms. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Change a contract's terms",
        description="Change a contract's terms. " + WRITERS_ONLY,
    ),
)
class ContractViewSet(viewsets.ModelViewSet[Contract]):
    queryset = contracts_list()
    serializer_class = ContractSerializer
    filterset_class = ContractFilter
    search_fields = ["reference", "vendor__name", "support_tier"]
    ordering_fields = ["end", "start", "fee"]
    capabilities = WRITE_CAPABILITIES
    http_method_names = WRITE_METHODS

    def perform_create(self, serializer: serializers.BaseSerializer[Contract]) -> None:
        data = dict(serializer.validated_data)
        backends = data.pop("backends", [])
        serializer.instance = vendors.contract_create(
            actor=self.request.user, data=data, backends=backends
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Contract]) -> None:
        assert serializer.instance is not None
        data = dict(serializer.validated_data)
        backends = data.pop("backends", None)
        serializer.instance = vendors.contract_update(
            contract=serializer.instance, actor=self.request.user, data=data, backends=backends
        )
        # The prefetched backends are the old ones.
        serializer.instance = contracts_list().get(pk=serializer.instance.pk)

    @extend_schema(
        summary="Contract SLA compliance by month",
        description=(
            "Per month of due time: measured incidents, met, breached, compliance %, "
            "availability % (outages merged) and credits owed by the contract's rule, "
            "capped; and the same over the range. Money as strings."
        ),
        parameters=COMPLIANCE_PARAMETERS,
        responses=ComplianceSerializer,
    )
    @action(detail=True, methods=["get"], url_path="compliance", url_name="compliance")
    def compliance(self, request: Request, pk: str | None = None) -> Response:
        contract = self.get_object()
        return _compliance_response(
            contract_compliance(contract, months=_months(request), now=timezone.now())
        )


class IncidentSerializer(JsonTypesMixin, serializers.ModelSerializer[Incident]):
    contract = serializers.PrimaryKeyRelatedField(
        queryset=Contract.objects.all(), help_text="Contract id."
    )
    part = SlugRelatedField(
        slug_field="part_number",
        queryset=Part.objects.all(),
        required=False,
        allow_null=True,
        help_text="Part number (RMA only).",
    )
    backends = SlugRelatedField(
        slug_field="slug",
        many=True,
        queryset=Backend.objects.all(),
        required=False,
        help_text="Slugs of the backends an outage took down.",
    )
    vendor = serializers.CharField(
        source="contract.vendor.slug", read_only=True, help_text="The contract's vendor slug."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "contract",
            "vendor",
            "kind",
            "opened_at",
            "resolved_at",
            "part",
            "unit_serial",
            "backends",
            "external_ref",
            "summary",
            "updated_at",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        opened = attrs.get("opened_at", getattr(self.instance, "opened_at", None))
        resolved = attrs.get("resolved_at", getattr(self.instance, "resolved_at", None))
        if opened is not None and resolved is not None and resolved < opened:
            raise ValidationError(
                {"resolved_at": ["An incident cannot be resolved before it opened."]}
            )
        if self.instance is not None and "contract" in attrs:
            if attrs["contract"].pk != self.instance.contract_id:
                raise ValidationError({"contract": ["An incident stays with its contract."]})
            attrs.pop("contract")
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        description="Newest first. Filter by contract id, vendor slug, kind, open, external_ref.",
    ),
    retrieve=extend_schema(
        summary="Get an incident", description="Get an incident. Every role may read."
    ),
    create=extend_schema(
        summary="Record an incident",
        description=(
            "kind rma (resolved = unit replaced; part, unit_serial), support_request "
            "(resolved = first response), security_patch (opened = released, resolved = "
            "applied), outage (opened = start, resolved = end; backends affected)."
        ),
    ),
    update=extend_schema(
        summary="Replace an incident",
        description="Replace an incident. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Change an incident (e.g. resolve it)",
        description="Change an incident (e.g. resolve it). " + WRITERS_ONLY,
    ),
)
class IncidentViewSet(viewsets.ModelViewSet[Incident]):
    queryset = incidents_list()
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    search_fields = ["summary", "unit_serial", "external_ref"]
    ordering_fields = ["opened_at", "resolved_at"]
    capabilities = WRITE_CAPABILITIES
    http_method_names = WRITE_METHODS

    def get_queryset(self) -> QuerySet[Incident]:
        return incidents_list()

    def perform_create(self, serializer: serializers.BaseSerializer[Incident]) -> None:
        data = dict(serializer.validated_data)
        backends = data.pop("backends", [])
        serializer.instance = vendors.incident_create(
            actor=self.request.user, data=data, backends=backends
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Incident]) -> None:
        assert serializer.instance is not None
        data = dict(serializer.validated_data)
        backends = data.pop("backends", None)
        incident = vendors.incident_update(
            incident=serializer.instance, actor=self.request.user, data=data, backends=backends
        )
        serializer.instance = incidents_list().get(pk=incident.pk)
