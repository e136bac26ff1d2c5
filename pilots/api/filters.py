"""Query filters of the read API (``?kind=gpu_cluster&region=eu-west``)."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]

from pilots.models import Backend, Phase, Pilot


class BackendFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Backends by kind, vendor (slug), region and whether they are in use."""

    vendor = django_filters.CharFilter(
        field_name="vendor__slug", help_text="Vendor slug, e.g. `cerebras`."
    )
    region = django_filters.CharFilter(field_name="region", help_text="Region, e.g. `eu-west`.")

    class Meta:
        model = Backend
        fields = ["kind", "vendor", "region", "is_active"]


class PilotFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Pilots by status, team, candidate backend kind, current phase kind and
    cost center. ``phase`` filters on the current phase annotated by
    ``pilots.selectors.pilot_list()``, the viewset's queryset."""

    team = django_filters.CharFilter(field_name="team", help_text="Owning team (exact).")
    cost_center = django_filters.CharFilter(
        field_name="cost_center", help_text="Cost center code (exact)."
    )
    backend_kind = django_filters.ChoiceFilter(
        field_name="candidate_backend__kind",
        choices=Backend.Kind.choices,
        help_text="Kind of the candidate backend.",
    )
    phase = django_filters.ChoiceFilter(
        field_name="current_phase_kind",
        choices=Phase.Kind.choices,
        help_text="Kind of the pilot's current phase.",
    )

    class Meta:
        model = Pilot
        fields = ["status", "team", "cost_center", "backend_kind", "phase"]
