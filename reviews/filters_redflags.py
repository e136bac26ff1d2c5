"""The red-flag list's filterset, shared by its page and its endpoint."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from reviews.models import RedFlag

__all__ = ["RedFlagFilter"]


class RedFlagFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Red flags by pilot id, candidate backend slug, kind, severity and
    whether they are open."""

    backend = django_filters.CharFilter(
        field_name="pilot__candidate_backend__slug", help_text="Candidate backend slug."
    )
    open = django_filters.BooleanFilter(
        field_name="cleared_at", lookup_expr="isnull", help_text="true: not cleared yet."
    )
    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")

    class Meta:
        model = RedFlag
        fields = ["pilot", "backend", "kind", "severity", "open"]
