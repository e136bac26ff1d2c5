"""How pilot values read on pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from pilots.forms import is_percentage
from pilots.models import ExitCriterion

register = template.Library()


def _plain(value: Decimal) -> str:
    # normalize() alone writes 100 as 1E+2.
    return format(value.normalize(), "f")


@register.filter
def criterion_text(criterion: ExitCriterion) -> str:
    """ "Error rate at most 0.1 %", "End-to-end latency p99 at most 1 ×
    baseline": as ``str()`` of the criterion, with an absolute error rate
    as a percentage, the way the pages enter it."""
    if is_percentage(criterion.metric, criterion.comparison):
        value = f"{_plain(criterion.threshold * 100)} %"
    elif criterion.comparison == ExitCriterion.Comparison.RELATIVE:
        value = f"{_plain(criterion.threshold)} × baseline"
    else:
        value = _plain(criterion.threshold)
    return f"{criterion.get_metric_display()} {criterion.get_direction_display()} {value}"
