"""Filtersets of the costs app: one per list, shared by its page and its
API endpoint."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from costs.models import BillImport

__all__ = ["BillImportFilter"]


class BillImportFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Bill imports by status and source."""

    status = django_filters.ChoiceFilter(
        choices=BillImport.Status.choices, empty_label="All statuses"
    )
    source = django_filters.ChoiceFilter(choices=BillImport.Source.choices, empty_label="Any")

    class Meta:
        model = BillImport
        fields = ["status", "source"]
