"""``GET /api/v1/red-flags/``: red flags raised from data, read-only (they
are never typed by hand)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from reviews.filters_redflags import RedFlagFilter
from reviews.models import RedFlag
from reviews.selectors_redflags import red_flag_list

__all__ = ["RedFlagSerializer", "RedFlagViewSet"]


class RedFlagSerializer(serializers.ModelSerializer[RedFlag]):
    pilot_name = serializers.CharField(source="pilot.name", read_only=True)
    source_type = serializers.CharField(
        source="source_type.model", read_only=True, help_text="e.g. incident, contract, part."
    )
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = RedFlag
        fields = [
            "id",
            "kind",
            "severity",
            "pilot",
            "pilot_name",
            "source_type",
            "source_id",
            "source_label",
            "detail",
            "raised_at",
            "cleared_at",
            "is_open",
        ]


@extend_schema_view(
    list=extend_schema(
        summary="List red flags",
        description="Newest first. Filter by pilot id, candidate backend slug, kind, "
        "severity and open (true/false).",
    ),
    retrieve=extend_schema(
        summary="Get a red flag", description="Get a red flag. Every role may read."
    ),
)
class RedFlagViewSet(viewsets.ReadOnlyModelViewSet[RedFlag]):
    queryset = red_flag_list()
    serializer_class = RedFlagSerializer
    filterset_class = RedFlagFilter
    search_fields = ["detail", "source_label", "pilot__name"]
    ordering_fields = ["raised_at", "severity"]
