"""Filtersets of the pilots app: one per list, shared by its page and its
API endpoint (``?status=active&team=search&q=llama``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_filters  # type: ignore[import-untyped]
from django import forms
from django.db.models import Q, QuerySet
from django.utils.choices import BaseChoiceIterator

from pilots.models import Backend, Phase, Pilot

__all__ = ["BackendFilter", "PilotFilter"]


class _TeamChoices(BaseChoiceIterator):
    """The teams of the team select, read when the page renders it (the API
    never does) and once per rendering."""

    def __init__(self) -> None:
        self._choices: list[tuple[str, str]] | None = None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        if self._choices is None:
            teams = Pilot.objects.order_by("team").values_list("team", flat=True).distinct()
            self._choices = [("", "Any"), *((t, t) for t in teams)]
        return iter(self._choices)

    def __copy__(self) -> _TeamChoices:
        # Each form gets its own, so no page shows another request's teams.
        return _TeamChoices()

    __deepcopy__ = lambda self, memo: self.__copy__()  # noqa: E731


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
    """Pilots by search text, status, team, cost center, candidate backend
    kind and current phase kind. ``phase`` filters on the current phase
    annotated by ``pilots.selectors.pilot_list()``, the page's and the
    endpoint's queryset."""

    q = django_filters.CharFilter(
        method="search", label="Search", help_text="Part of the name, model or team."
    )
    phase = django_filters.ChoiceFilter(
        field_name="current_phase_kind",
        choices=Phase.Kind.choices,
        label="Current phase",
        empty_label="Any",
        help_text="Kind of the pilot's current phase.",
    )
    backend_kind = django_filters.ChoiceFilter(
        field_name="candidate_backend__kind",
        choices=Backend.Kind.choices,
        label="Candidate kind",
        empty_label="Any",
        help_text="Kind of the candidate backend.",
    )
    status = django_filters.ChoiceFilter(choices=Pilot.Status.choices, empty_label="Any")
    team = django_filters.CharFilter(
        field_name="team",
        help_text="Owning team (exact).",
        widget=forms.Select(choices=_TeamChoices()),
    )
    cost_center = django_filters.CharFilter(
        field_name="cost_center", label="Cost center", help_text="Cost center code (exact)."
    )

    class Meta:
        model = Pilot
        fields = ["q", "status", "team", "cost_center", "backend_kind", "phase"]

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
