"""Filtersets of the costs app: one per list, shared by its page and its
API endpoint.
"""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from costs.models import BillImport, CostCenter, CostModel, UsageMapping

__all__ = [
    "BillImportFilter",
    "CostCenterFilter",
    "CostModelFilter",
    "UsageMappingFilter",
]


class BillImportFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Bill imports by status and source."""

    status = django_filters.ChoiceFilter(
        choices=BillImport.Status.choices, empty_label="All statuses"
    )
    source = django_filters.ChoiceFilter(choices=BillImport.Source.choices, empty_label="Any")

    class Meta:
        model = BillImport
        fields = ["status", "source"]


class CostCenterFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Cost centers by active flag and platform flag."""

    class Meta:
        model = CostCenter
        fields = ["is_active", "is_platform"]


class CostModelFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Cost models by backend (slug) and kind."""

    backend = django_filters.CharFilter(
        field_name="backend__slug", label="Backend", help_text="Backend slug."
    )

    class Meta:
        model = CostModel
        fields = ["backend", "kind"]


class UsageMappingFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Usage mappings by label and cost center code."""

    cost_center = django_filters.CharFilter(
        field_name="cost_center__code", label="Cost center", help_text="Cost center code."
    )

    class Meta:
        model = UsageMapping
        fields = ["label", "cost_center"]
