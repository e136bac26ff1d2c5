"""Read endpoints for backends, vendors and pilots (``/api/v1/``).

Viewsets are declarations; the querysets load everything the serializers
read, so lists cost the same number of queries for 5 rows or 50.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from pilots.api.serializers import (
    BackendSerializer,
    PilotDetailSerializer,
    PilotListSerializer,
    VendorSerializer,
)
from pilots.filters import BackendFilter, PilotFilter
from pilots.models import Backend, Pilot, RaciAssignment, Vendor
from pilots.selectors import pilot_list

SLUG_REGEX = r"[-a-zA-Z0-9_]+"


@extend_schema_view(
    list=extend_schema(
        summary="List vendors",
        description="Hardware and cloud vendors, by name. Search matches the name.",
    ),
    retrieve=extend_schema(summary="Get a vendor", description="One vendor, by slug."),
)
class VendorViewSet(viewsets.ReadOnlyModelViewSet[Vendor]):
    queryset = Vendor.objects.all()
    serializer_class = VendorSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "updated_at"]


@extend_schema_view(
    list=extend_schema(
        summary="List backends",
        description=(
            "Places inference runs (wafer-scale system, GPU cluster, TPU pod, FPGA farm, "
            "CPU pool). Filter by kind, vendor slug, region and is_active; search matches "
            "name, device model, site and vendor name."
        ),
    ),
    retrieve=extend_schema(summary="Get a backend", description="One backend, by slug."),
)
class BackendViewSet(viewsets.ReadOnlyModelViewSet[Backend]):
    queryset = Backend.objects.select_related("vendor", "site")
    serializer_class = BackendSerializer
    filterset_class = BackendFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    search_fields = ["name", "device_model", "site__name", "vendor__name"]
    ordering_fields = ["name", "kind", "region", "device_count"]


@extend_schema_view(
    list=extend_schema(
        summary="List pilots",
        description=(
            "Pilots with their candidate and baseline backends and the current phase "
            "(the active one, else the next planned, else the last that ran). Filter by "
            "status, team, cost center, candidate backend kind (`backend_kind`) and current "
            "phase kind (`phase`); search matches name, model and team."
        ),
    ),
    retrieve=extend_schema(
        summary="Get a pilot",
        description=(
            "One pilot with its phases and their exit criteria, the RACI matrix "
            "(activities with each person's letter) and the readiness checklist with "
            "the portal's recommendation."
        ),
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Pilot id.")],
    ),
)
class PilotViewSet(viewsets.ReadOnlyModelViewSet[Pilot]):
    queryset = pilot_list()
    serializer_class = PilotListSerializer
    filterset_class = PilotFilter
    search_fields = ["name", "model_name", "team"]
    ordering_fields = ["name", "status", "target_start", "target_end"]

    def get_queryset(self) -> QuerySet[Pilot]:
        queryset = super().get_queryset()
        if self.action == "retrieve":
            # Only the detail nests phases, RACI and readiness: one query each.
            queryset = queryset.prefetch_related(
                "phases__exit_criteria",
                "raci_activities",
                Prefetch(
                    "raci_activities__assignments",
                    queryset=RaciAssignment.objects.select_related("user"),
                ),
                "readiness_answers",
            )
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Pilot]]:
        if self.action == "retrieve":
            return PilotDetailSerializer
        return PilotListSerializer
