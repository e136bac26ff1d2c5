"""Sites, parts, stock rows, units and the stock ledger in the API
(``/api/v1/sites/``, ``/parts/``, ``/stock/``, ``/units/``,
``/movements/``), and a backend's cold-standby sufficiency
(``/api/v1/backends/{slug}/spares/``).

Parts are named by part number, sites and backends by slug. Movements are
never edited: a wrong one is reversed by a new one. A movement that would
take a shelf below zero is a 409 saying why and how many are on hand.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.fields import Field
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from pilots import spares_model
from pilots.filters_vendors import MovementFilter, PartFilter, StockFilter, UnitFilter
from pilots.models import Backend, Part, Site, StockLevel, StockMovement, Unit, Vendor
from pilots.selectors_vendors import backend_spares, movements_list, stock_list
from pilots.services import spares
from portal.api import JsonTypesMixin, SlugRelatedField, error_body
from portal.roles import VENDORS_WRITE

__all__ = [
    "BackendSparesView",
    "MovementViewSet",
    "PartViewSet",
    "SiteViewSet",
    "SparesRowSerializer",
    "StockViewSet",
    "UnitViewSet",
]

SLUG_REGEX = r"[-a-zA-Z0-9_]+"
WRITE_CAPABILITIES = {
    "create": VENDORS_WRITE,
    "update": VENDORS_WRITE,
    "partial_update": VENDORS_WRITE,
    "reverse": VENDORS_WRITE,
}
WRITE_METHODS = ["get", "post", "put", "patch", "head", "options"]
WRITERS_ONLY = "Procurement and platform admins only; recorded in the change log."


class _ServiceViewSet(viewsets.ModelViewSet[Any]):
    """Create and update through one service each."""

    capabilities = WRITE_CAPABILITIES
    http_method_names = WRITE_METHODS

    def service_create(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        created = self.service_create(dict(serializer.validated_data))
        serializer.instance = self.get_queryset().get(pk=created.pk)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        updated = self.service_update(serializer.instance, dict(serializer.validated_data))
        serializer.instance = self.get_queryset().get(pk=updated.pk)


class SiteSerializer(JsonTypesMixin, serializers.ModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["slug", "name"]


@extend_schema_view(
    list=extend_schema(summary="List sites", description="List sites. Every role may read."),
    retrieve=extend_schema(summary="Get a site", description="One site, by slug."),
    create=extend_schema(
        summary="Add a site",
        description="Add a site. " + WRITERS_ONLY,
    ),
    update=extend_schema(
        summary="Replace a site",
        description="Replace a site. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Rename a site",
        description="Rename a site. " + WRITERS_ONLY,
    ),
)
class SiteViewSet(_ServiceViewSet):
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    search_fields = ["slug", "name"]
    ordering_fields = ["name"]

    def service_create(self, data: dict[str, Any]) -> Site:
        return spares.site_create(actor=self.request.user, data=data)

    def service_update(self, instance: Site, data: dict[str, Any]) -> Site:
        return spares.site_update(site=instance, actor=self.request.user, data=data)


class PartSerializer(JsonTypesMixin, serializers.ModelSerializer[Part]):
    vendor = SlugRelatedField(
        slug_field="slug", queryset=Vendor.objects.all(), help_text="Vendor slug."
    )

    class Meta:
        model = Part
        fields = [
            "part_number",
            "vendor",
            "description",
            "criticality",
            "unit_cost",
            "annual_failure_rate",
        ]


@extend_schema_view(
    list=extend_schema(summary="List parts", description="Filter by vendor slug, criticality."),
    retrieve=extend_schema(summary="Get a part", description="One part, by part number."),
    create=extend_schema(
        summary="Add a part",
        description="Add a part. " + WRITERS_ONLY,
    ),
    update=extend_schema(
        summary="Replace a part",
        description="Replace a part. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Change a part",
        description="Change a part. " + WRITERS_ONLY,
    ),
)
class PartViewSet(_ServiceViewSet):
    queryset = Part.objects.select_related("vendor")
    serializer_class = PartSerializer
    filterset_class = PartFilter
    lookup_field = "part_number"
    lookup_value_regex = r"[^/]+"
    search_fields = ["part_number", "description"]
    ordering_fields = ["part_number", "criticality"]

    def service_create(self, data: dict[str, Any]) -> Part:
        return spares.part_create(actor=self.request.user, data=data)

    def service_update(self, instance: Part, data: dict[str, Any]) -> Part:
        return spares.part_update(part=instance, actor=self.request.user, data=data)


class StockSerializer(JsonTypesMixin, serializers.ModelSerializer[StockLevel]):
    part = SlugRelatedField(
        slug_field="part_number", queryset=Part.objects.all(), help_text="Part number."
    )
    site = SlugRelatedField(slug_field="slug", queryset=Site.objects.all(), help_text="Site slug.")
    on_hand = serializers.IntegerField(
        read_only=True, help_text="The ledger's sum (change it with a movement)."
    )

    class Meta:
        model = StockLevel
        fields = [
            "id",
            "part",
            "site",
            "reorder_point",
            "lead_time_days",
            "repair_partner",
            "on_hand",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            for name in ("part", "site"):
                if name in attrs and attrs[name].pk != getattr(self.instance, f"{name}_id"):
                    raise ValidationError({name: ["A stock row keeps its part and site."]})
                attrs.pop(name, None)
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary="List stock rows",
        description="One row per part and site, with on_hand (the ledger's sum). "
        "Filter by site slug, part number, criticality.",
    ),
    retrieve=extend_schema(
        summary="Get a stock row", description="Get a stock row. Every role may read."
    ),
    create=extend_schema(summary="Add a stock row", description="part and site are required."),
    update=extend_schema(
        summary="Replace a stock row's settings",
        description="Replace a stock row's settings. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Change reorder point, lead time or repair partner",
        description="Change reorder point, lead time or repair partner. " + WRITERS_ONLY,
    ),
)
class StockViewSet(_ServiceViewSet):
    queryset = stock_list()
    serializer_class = StockSerializer
    filterset_class = StockFilter
    ordering_fields = ["reorder_point", "lead_time_days"]

    def service_create(self, data: dict[str, Any]) -> StockLevel:
        return spares.stock_create(actor=self.request.user, data=data)

    def service_update(self, instance: StockLevel, data: dict[str, Any]) -> StockLevel:
        return spares.stock_update(stock=instance, actor=self.request.user, data=data)


class UnitSerializer(JsonTypesMixin, serializers.ModelSerializer[Unit]):
    part = SlugRelatedField(
        slug_field="part_number", queryset=Part.objects.all(), help_text="Part number."
    )
    site = SlugRelatedField(slug_field="slug", queryset=Site.objects.all(), help_text="Site slug.")
    backend = SlugRelatedField(
        slug_field="slug",
        queryset=Backend.objects.all(),
        required=False,
        allow_null=True,
        help_text="Backend slug (only, and always, when in service).",
    )

    class Meta:
        model = Unit
        fields = ["serial", "part", "site", "status", "backend", "firmware_version"]


@extend_schema_view(
    list=extend_schema(
        summary="List units", description="Filter by site, part number, backend, status."
    ),
    retrieve=extend_schema(summary="Get a unit", description="One unit, by serial."),
    create=extend_schema(
        summary="Add a unit",
        description="Add a unit. " + WRITERS_ONLY,
    ),
    update=extend_schema(
        summary="Replace a unit",
        description="Replace a unit. " + WRITERS_ONLY,
    ),
    partial_update=extend_schema(
        summary="Move, re-flash or retire a unit",
        description="Move, re-flash or retire a unit. " + WRITERS_ONLY,
    ),
)
class UnitViewSet(_ServiceViewSet):
    queryset = Unit.objects.select_related("part", "site", "backend")
    serializer_class = UnitSerializer
    filterset_class = UnitFilter
    lookup_field = "serial"
    lookup_value_regex = r"[^/]+"
    search_fields = ["serial", "firmware_version"]
    ordering_fields = ["serial", "status"]

    def service_create(self, data: dict[str, Any]) -> Unit:
        return spares.unit_create(actor=self.request.user, data=data)

    def service_update(self, instance: Unit, data: dict[str, Any]) -> Unit:
        data.pop("serial", None)
        return spares.unit_update(unit=instance, actor=self.request.user, data=data)


class MovementSerializer(JsonTypesMixin, serializers.ModelSerializer[StockMovement]):
    part = SlugRelatedField(
        source="stock.part",
        slug_field="part_number",
        queryset=Part.objects.all(),
        help_text="Part number.",
    )
    site = SlugRelatedField(
        source="stock.site", slug_field="slug", queryset=Site.objects.all(), help_text="Site slug."
    )
    to_site = SlugRelatedField(
        source="counterpart_site",
        slug_field="slug",
        queryset=Site.objects.all(),
        required=False,
        allow_null=True,
        help_text="A transfer's destination (on input); its other site (on output).",
    )
    # Null for seeded or command-line lines, and for a line that reverses nothing.
    created_by: serializers.SlugRelatedField[Any] = SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    reverses: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "part",
            "site",
            "kind",
            "quantity",
            "delta",
            "note",
            "to_site",
            "reverses",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["delta", "created_at"]


class ReverseSerializer(JsonTypesMixin, serializers.Serializer[Any]):
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


INSUFFICIENT_STOCK = OpenApiResponse(
    description="The shelf would go below zero: error.code insufficient_stock, "
    "error.on_hand the stock there is."
)


def _conflict(error: spares.InsufficientStock) -> Response:
    body = error_body("insufficient_stock", error.messages[0], {"quantity": error.messages})
    body["error"]["on_hand"] = error.available
    return Response(body, status=status.HTTP_409_CONFLICT)


@extend_schema_view(
    list=extend_schema(
        summary="List stock movements",
        description="The ledger, newest first. Filter by site slug, part number, kind.",
    ),
    retrieve=extend_schema(
        summary="Get a movement", description="Get a movement. Every role may read."
    ),
    create=extend_schema(
        summary="Record a stock movement",
        description=(
            "kind received, consumed, sent_to_repair, returned, written_off or transferred "
            "(give to_site: two lines, one out and one in; the response is the outgoing one). "
            "A movement that would take the shelf below zero is refused with 409, "
            "error.code insufficient_stock and error.on_hand."
        ),
        responses={201: MovementSerializer, 409: INSUFFICIENT_STOCK},
    ),
)
class MovementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[StockMovement],
):
    queryset = movements_list()
    serializer_class = MovementSerializer
    filterset_class = MovementFilter
    ordering_fields = ["created_at"]
    capabilities = WRITE_CAPABILITIES

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            lines = spares.movement_record(
                actor=request.user,
                part=data["stock"]["part"],
                site=data["stock"]["site"],
                kind=data["kind"],
                quantity=data["quantity"],
                note=data.get("note", ""),
                to_site=data.get("counterpart_site"),
            )
        except spares.InsufficientStock as error:
            return _conflict(error)
        out = self.get_queryset().get(pk=lines[0].pk)
        return Response(self.get_serializer(out).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Reverse a movement",
        description="A new line with the opposite delta; 409 if the shelf would go below zero.",
        request=ReverseSerializer,
        responses={201: MovementSerializer, 409: INSUFFICIENT_STOCK},
    )
    @action(detail=True, methods=["post"], url_path="reverse", url_name="reverse")
    def reverse(self, request: Request, pk: str | None = None) -> Response:
        movement = self.get_object()
        form = ReverseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            line = spares.movement_reverse(
                actor=request.user, movement=movement, note=form.validated_data.get("note", "")
            )
        except spares.InsufficientStock as error:
            return _conflict(error)
        out = self.get_queryset().get(pk=line.pk)
        return Response(self.get_serializer(out).data, status=status.HTTP_201_CREATED)


class SparesRowSerializer(serializers.Serializer[Any]):
    """One part's sufficiency (``pilots.spares_model.SparesRow.to_dict``)."""

    part = serializers.CharField(help_text="Part number.")
    fleet = serializers.IntegerField(help_text="Units of the part in service on the backend.")
    annual_failure_rate = serializers.FloatField(help_text="Failures per unit and year.")
    replenishment_days = serializers.FloatField(
        help_text="The shorter of the lead time at the site and a covering contract's "
        "replacement time."
    )
    lambda_ = serializers.FloatField(help_text="λ = n × f × L / 365.")
    recommended = serializers.IntegerField(help_text="Smallest s with P(X ≤ s) ≥ service level.")
    on_hand = serializers.IntegerField(help_text="The ledger's on-hand at the backend's site.")
    shortfall = serializers.IntegerField(help_text="max(0, recommended - on_hand).")

    def get_fields(self) -> dict[str, Field[Any, Any, Any, Any]]:
        # "lambda" is a Python keyword: declared as lambda_, named lambda.
        fields = super().get_fields()
        return {("lambda" if name == "lambda_" else name): f for name, f in fields.items()}


class BackendSparesView(GenericAPIView[Backend]):
    """GET /api/v1/backends/{slug}/spares/."""

    queryset = Backend.objects.all()
    serializer_class = SparesRowSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        summary="Cold-standby sufficiency of a backend",
        description=(
            "For every part with units in service on the backend, most critical first: "
            "fleet, failure rate, replenishment time L, λ, the recommended cold-standby "
            "count at the service level (default 0.95), on hand at the backend's site and "
            "the shortfall. A part with no lead time at the site and no covering contract's "
            "replacement time cannot be sized and is left out."
        ),
        parameters=[
            OpenApiParameter(
                "service_level", float, description="Target P(X ≤ s), between 0 and 1."
            )
        ],
        responses=SparesRowSerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        backend = get_object_or_404(Backend, slug=slug)
        raw = request.query_params.get("service_level")
        level = spares_model.DEFAULT_SERVICE_LEVEL
        if raw:
            try:
                level = float(raw)
            except ValueError:
                level = -1.0
            if not 0 < level < 1:
                raise ValidationError({"service_level": ["A number between 0 and 1, e.g. 0.95."]})
        result = backend_spares(backend, service_level=level)
        rows = [r.row.to_dict() for r in result.rows]
        return Response(SparesRowSerializer(rows, many=True).data)
