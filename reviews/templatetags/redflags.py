"""Template tags the pilots pages use to show red flags without importing
reviews (``{% load redflags %}``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template

from reviews.selectors_redflags import open_counts_by_pilot

register = template.Library()


@register.simple_tag
def open_red_flag_counts(pilots: Iterable[Any]) -> dict[int, int]:
    """``{% open_red_flag_counts page.object_list as flag_counts %}``: open
    flags per pilot id, one query for the whole list."""
    return open_counts_by_pilot(p.pk for p in pilots)


@register.filter
def count_for(counts: Mapping[int, int], pilot: Any) -> int:
    """``{{ flag_counts|count_for:pilot }}``"""
    return counts.get(pilot.pk, 0)
