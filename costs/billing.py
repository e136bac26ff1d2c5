"""A day's cost from FOCUS bill rows (the ``billed`` cost-model kind, issue
10 §2). Pure arithmetic, no ORM: the caller reads a backend's mapped bill
rows and asks for one UTC day at a time.

Each row's EffectiveCost is spread over its ChargePeriod in proportion to
the time of each day it covers (hours, to the second). Exactness: the share
of a day is the difference of two cumulative shares, each rounded half-even
to :data:`DAY_PLACES` decimal places,

    day(d) = round(cost × covered_until_end_of_d / length)
           - round(cost × covered_until_start_of_d / length),

computed from exact rationals. The cumulative share is the cost itself at
the period's end and 0 at its start, so the days of a row add up to its
EffectiveCost exactly (for a cost with at most DAY_PLACES decimals, which
bill rows are), and each day is within one quantum of its exact share. A
row whose period is empty (end == start) falls entirely on the start's day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction
from typing import Protocol

__all__ = ["DAY_PLACES", "BillCostRow", "bill_day_costs", "bill_row_day_cost"]

# The bill row's own scale (costs.focus.MONEY_PLACES).
DAY_PLACES = 15
_QUANTUM = Decimal(1).scaleb(-DAY_PLACES)
_ZERO = Decimal(0).quantize(_QUANTUM)
# Sums of 28-digit amounts stay exact (the default context keeps 28 digits).
_SUM_CONTEXT = Context(prec=80)


class BillCostRow(Protocol):
    """What a bill row needs to be spread: ``costs.models.BillRow`` and
    ``costs.focus.FocusRow`` both fit."""

    @property
    def effective_cost(self) -> Decimal: ...

    @property
    def charge_period_start(self) -> dt.datetime: ...

    @property
    def charge_period_end(self) -> dt.datetime: ...


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _seconds(delta: dt.timedelta) -> int:
    # timedelta keeps whole microseconds: exact as an integer count.
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _cumulative(cost: Decimal, covered: int, length: int) -> Decimal:
    """round(cost × covered / length) to DAY_PLACES, from exact rationals."""
    if covered <= 0:
        return _ZERO
    if covered >= length:
        with localcontext(_SUM_CONTEXT):
            return cost.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    exact = Fraction(cost) * covered / length
    scaled = exact * 10**DAY_PLACES
    # Half-even rounding of a rational, on integers.
    floor = scaled.numerator // scaled.denominator
    remainder = scaled - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        floor += 1
    return Decimal(floor).scaleb(-DAY_PLACES)


def bill_row_day_cost(row: BillCostRow, day: dt.date) -> Decimal:
    """The part of one row's EffectiveCost that falls on ``day`` (UTC)."""
    start = row.charge_period_start.astimezone(dt.UTC)
    end = row.charge_period_end.astimezone(dt.UTC)
    day_start, day_end = _day_bounds(day)
    cost = row.effective_cost
    if end <= start:
        if not day_start <= start < day_end:
            return _ZERO
        with localcontext(_SUM_CONTEXT):
            return cost.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    if end <= day_start or start >= day_end:
        return _ZERO
    length = _seconds(end - start)
    before = _cumulative(cost, _seconds(day_start - start), length)
    until = _cumulative(cost, _seconds(day_end - start), length)
    with localcontext(_SUM_CONTEXT):
        return until - before


def bill_day_costs(rows: Iterable[BillCostRow], day: dt.date) -> Decimal:
    """A day's cost C: the sum over ``rows`` of the part of each row's
    EffectiveCost that falls on ``day`` (UTC), exact to DAY_PLACES places."""
    total = _ZERO
    with localcontext(_SUM_CONTEXT):
        for row in rows:
            total += bill_row_day_cost(row, day)
    return total
