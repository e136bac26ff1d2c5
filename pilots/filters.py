"""Filters for the pilot list page (and any list that wants them)."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]
from django.db.models import Q, QuerySet

from pilots.models import Backend, Phase, Pilot


def _team_choices() -> list[tuple[str, str]]:
    teams = Pilot.objects.order_by("team").values_list("team", flat=True).distinct()
    return [(t, t) for t in teams]


class PilotFilter(django_filters.FilterSet):  # type: ignore[misc]
    """Filters over ``selectors.pilot_list()`` (it annotates the current phase)."""

    q = django_filters.CharFilter(method="search", label="Search")
    phase = django_filters.ChoiceFilter(
        field_name="current_phase_kind",
        choices=Phase.Kind.choices,
        label="Current phase",
        empty_label="Any",
    )
    backend_kind = django_filters.ChoiceFilter(
        field_name="candidate_backend__kind",
        choices=Backend.Kind.choices,
        label="Candidate kind",
        empty_label="Any",
    )
    status = django_filters.ChoiceFilter(choices=Pilot.Status.choices, empty_label="Any")
    team = django_filters.ChoiceFilter(choices=_team_choices, empty_label="Any")

    class Meta:
        model = Pilot
        fields: list[str] = []

    def search(self, queryset: QuerySet[Pilot], name: str, value: str) -> QuerySet[Pilot]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(model_name__icontains=value) | Q(team__icontains=value)
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.attrs.update(
            {"placeholder": "Name, model or team", "type": "search"}
        )
