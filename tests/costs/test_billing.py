"""bill_day_costs (costs/billing.py): a row's EffectiveCost spread over its
charge period by the hours of each day; exact, property-tested."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from costs.billing import bill_day_costs, bill_row_day_cost

UTC = dt.UTC


@dataclass(frozen=True)
class Row:
    effective_cost: Decimal
    charge_period_start: dt.datetime
    charge_period_end: dt.datetime


def at(day: int, hour: int = 0, month: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=UTC)


def test_an_hour_row_falls_on_its_day() -> None:
    row = Row(Decimal("0.0000008"), at(18, 22), at(18, 23))
    assert bill_day_costs([row], dt.date(2024, 9, 18)) == Decimal("0.0000008")
    assert bill_day_costs([row], dt.date(2024, 9, 19)) == 0


def test_a_row_over_midnight_splits_by_hours() -> None:
    row = Row(Decimal("4"), at(18, 18), at(19, 6))  # 6 h on the 18th, 6 h on the 19th
    assert bill_row_day_cost(row, dt.date(2024, 9, 18)) == Decimal("2")
    assert bill_row_day_cost(row, dt.date(2024, 9, 19)) == Decimal("2")


def test_a_month_row_splits_by_days_and_adds_up_exactly() -> None:
    row = Row(Decimal("100"), at(1), at(1, month=10))  # 30 days
    days = [dt.date(2024, 9, d) for d in range(1, 31)]
    parts = [bill_row_day_cost(row, day) for day in days]
    assert sum(parts) == Decimal("100")
    # 100/30 = 3.333...: each day within one 10^-15 quantum of it.
    assert all(abs(part - Decimal(100) / 30) <= Decimal("1e-15") for part in parts)


def test_commitment_purchase_with_zero_effective_cost_adds_nothing() -> None:
    purchase = Row(Decimal("0"), at(1, month=1), dt.datetime(2025, 1, 1, tzinfo=UTC))
    usage = Row(Decimal("1.00"), at(5), at(5, 1))
    assert bill_day_costs([purchase, usage], dt.date(2024, 9, 5)) == Decimal("1")


def test_an_empty_period_falls_on_its_start_day() -> None:
    row = Row(Decimal("7.5"), at(3, 12), at(3, 12))
    assert bill_row_day_cost(row, dt.date(2024, 9, 3)) == Decimal("7.5")
    assert bill_row_day_cost(row, dt.date(2024, 9, 4)) == 0


def test_times_in_other_zones_use_utc_days() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    row = Row(
        Decimal("1"),
        dt.datetime(2024, 9, 19, 1, tzinfo=plus2),
        dt.datetime(2024, 9, 19, 2, tzinfo=plus2),
    )
    assert bill_row_day_cost(row, dt.date(2024, 9, 18)) == Decimal("1")


def test_negative_credits_spread_too() -> None:
    row = Row(Decimal("-3"), at(1), at(4))
    assert [bill_row_day_cost(row, dt.date(2024, 9, d)) for d in (1, 2, 3)] == [Decimal("-1")] * 3


@given(
    cost=st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=15, allow_nan=False
    ),
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 40),
    length_minutes=st.integers(min_value=0, max_value=60 * 24 * 80),
)
def test_days_of_a_row_add_up_to_its_effective_cost(
    cost: Decimal, start_minutes: int, length_minutes: int
) -> None:
    start = at(1) + dt.timedelta(minutes=start_minutes)
    row = Row(cost, start, start + dt.timedelta(minutes=length_minutes))
    first = start.date()
    days = [first + dt.timedelta(days=n) for n in range(length_minutes // 1440 + 2)]
    parts = [bill_row_day_cost(row, day) for day in days]
    assert sum(parts) == cost
    assert bill_row_day_cost(row, first - dt.timedelta(days=1)) == 0
