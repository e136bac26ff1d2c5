"""Filtersets of the vendor, contract, incident and spares lists: one per
list, shared by its page and its API endpoint."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from pilots.models import Contract, Incident, Part, StockLevel, StockMovement, Unit

__all__ = [
    "ContractFilter",
    "IncidentFilter",
    "MovementFilter",
    "PartFilter",
    "StockFilter",
    "UnitFilter",
]


class ContractFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Contracts by vendor slug, covered backend slug and end date."""

    vendor = django_filters.CharFilter(field_name="vendor__slug", help_text="Vendor slug.")
    backend = django_filters.CharFilter(
        field_name="backends__slug", help_text="Slug of a covered backend.", distinct=True
    )
    ends_before = django_filters.DateFilter(field_name="end", lookup_expr="lte")
    ends_after = django_filters.DateFilter(field_name="end", lookup_expr="gte")

    class Meta:
        model = Contract
        fields = ["vendor", "backend", "fee_period", "auto_renewal"]


class IncidentFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Incidents by contract id, vendor slug, kind, open or resolved."""

    vendor = django_filters.CharFilter(
        field_name="contract__vendor__slug", help_text="Vendor slug."
    )
    open = django_filters.BooleanFilter(
        field_name="resolved_at", lookup_expr="isnull", help_text="true: not resolved yet."
    )
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = ["contract", "vendor", "kind", "open", "external_ref"]


class PartFilter(django_filters.FilterSet):  # type: ignore[misc]
    vendor = django_filters.CharFilter(field_name="vendor__slug", help_text="Vendor slug.")

    class Meta:
        model = Part
        fields = ["vendor", "criticality"]


class StockFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Stock rows by site slug, part number and criticality."""

    site = django_filters.CharFilter(field_name="site__slug", help_text="Site slug.")
    part = django_filters.CharFilter(field_name="part__part_number", help_text="Part number.")
    criticality = django_filters.ChoiceFilter(
        field_name="part__criticality", choices=Part.Criticality.choices
    )

    class Meta:
        model = StockLevel
        fields = ["site", "part", "criticality"]


class UnitFilter(django_filters.FilterSet):  # type: ignore[misc]
    site = django_filters.CharFilter(field_name="site__slug", help_text="Site slug.")
    part = django_filters.CharFilter(field_name="part__part_number", help_text="Part number.")
    backend = django_filters.CharFilter(field_name="backend__slug", help_text="Backend slug.")

    class Meta:
        model = Unit
        fields = ["site", "part", "backend", "status"]


class MovementFilter(django_filters.FilterSet):  # type: ignore[misc]
    site = django_filters.CharFilter(field_name="stock__site__slug", help_text="Site slug.")
    part = django_filters.CharFilter(
        field_name="stock__part__part_number", help_text="Part number."
    )

    class Meta:
        model = StockMovement
        fields = ["site", "part", "kind"]
