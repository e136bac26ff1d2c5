"""Filtersets of the metrics app: one per list, shared by its page and its
API endpoint."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from metrics.models import ImportJob
from pilots.models import Backend

__all__ = ["ImportJobFilter"]


class ImportJobFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Import jobs by backend (slug), status, source and pilot (id)."""

    backend = django_filters.ModelChoiceFilter(
        queryset=Backend.objects.order_by("name"),
        to_field_name="slug",
        empty_label="All backends",
        help_text="Backend slug.",
    )
    status = django_filters.ChoiceFilter(
        choices=ImportJob.Status.choices, empty_label="All statuses"
    )
    source = django_filters.ChoiceFilter(choices=ImportJob.Source.choices, empty_label="Any")
    # The API's earlier name for ``backend``; kept so scripts keep working.
    backend__slug = django_filters.CharFilter(field_name="backend__slug", help_text="Backend slug.")

    class Meta:
        model = ImportJob
        fields = ["backend", "status", "source", "pilot", "backend__slug"]
