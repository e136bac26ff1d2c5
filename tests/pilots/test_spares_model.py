"""Cold-standby sufficiency: the Poisson standby count against known values
and by its definition, replenishment time and the row's fields."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import poisson

from pilots.spares_model import (
    poisson_mean,
    replenishment_days,
    standby_count,
    sufficiency,
)


def exact_cdf(s: int, lam: float) -> float:
    """P(X ≤ s) by direct summation, independent of scipy."""
    return sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(s + 1))


@pytest.mark.parametrize(
    ("lam", "expected"),
    [(0.0, 0), (0.5, 2), (1.0, 3), (2.5, 5), (0.05, 0), (10.0, 15)],
)
def test_standby_count_at_95_percent(lam: float, expected: int) -> None:
    assert standby_count(lam) == expected
    if lam > 0:
        assert standby_count(lam) == int(poisson.ppf(0.95, lam))


def test_standby_count_follows_the_service_level() -> None:
    # P(X ≤ 1 | λ = 1) = 0.73576, P(X ≤ 2) = 0.9197, P(X ≤ 3) = 0.9810
    assert [standby_count(1.0, level) for level in (0.5, 0.7357, 0.9, 0.95, 0.99)] == [
        1,
        1,
        2,
        3,
        4,
    ]


def test_level_exactly_reached_needs_no_extra_unit() -> None:
    lam = 1.0
    level = float(poisson.cdf(2, lam))
    assert standby_count(lam, level) == 2


def test_large_lambda_does_not_underflow() -> None:
    s = standby_count(2000.0)
    assert poisson.cdf(s, 2000.0) >= 0.95 > poisson.cdf(s - 1, 2000.0)


def test_rejects_bad_levels_and_negative_lambda() -> None:
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="service level"):
            standby_count(1.0, level)
    with pytest.raises(ValueError):
        standby_count(-0.1)


@given(
    lam=st.floats(min_value=1e-6, max_value=60, allow_nan=False),
    level=st.floats(min_value=0.01, max_value=0.999),
)
def test_standby_count_is_the_smallest_that_reaches_the_level(lam: float, level: float) -> None:
    s = standby_count(lam, level)
    # Stay clear of ties within float error between the two summations.
    assume(abs(exact_cdf(s, lam) - level) > 1e-9)
    assume(s == 0 or abs(exact_cdf(s - 1, lam) - level) > 1e-9)
    assert exact_cdf(s, lam) >= level
    assert s == 0 or exact_cdf(s - 1, lam) < level


@given(lam=st.floats(min_value=0, max_value=50), level=st.floats(min_value=0.5, max_value=0.99))
def test_standby_count_grows_with_lambda(lam: float, level: float) -> None:
    assert standby_count(lam, level) <= standby_count(lam + 1, level)


# Replenishment time and λ -------------------------------------------------------


def test_replenishment_is_the_lead_time_without_a_contract() -> None:
    assert replenishment_days(14) == 14.0


def test_replenishment_takes_the_shorter_of_lead_time_and_contract() -> None:
    assert replenishment_days(14, [48]) == 2.0
    assert replenishment_days(1, [48]) == 1.0
    assert replenishment_days(14, [None, 96, Decimal("4")]) == pytest.approx(4 / 24)
    assert replenishment_days(None, [72]) == 3.0


def test_replenishment_unknown_is_refused() -> None:
    with pytest.raises(ValueError, match="no lead time"):
        replenishment_days(None, [None])


def test_lambda_is_fleet_times_rate_times_days_over_a_year() -> None:
    assert poisson_mean(40, Decimal("0.05"), 14) == pytest.approx(40 * 0.05 * 14 / 365)
    assert poisson_mean(0, 0.05, 14) == 0


# The row --------------------------------------------------------------------------


def test_sufficiency_row() -> None:
    # 365 units failing 0.2 a year over 5 days: λ = 1, so 3 spares at 95 %.
    row = sufficiency(
        part="PSU-2000",
        fleet=365,
        annual_failure_rate=Decimal("0.2"),
        lead_time_days=30,
        replacement_hours=[120],
        on_hand=1,
    )
    assert row.to_dict() == {
        "part": "PSU-2000",
        "fleet": 365,
        "annual_failure_rate": Decimal("0.2"),
        "replenishment_days": 5.0,
        "lambda": pytest.approx(1.0),
        "recommended": 3,
        "on_hand": 1,
        "shortfall": 2,
    }
    assert row.lambda_ == pytest.approx(1.0)


def test_no_shortfall_when_the_shelf_holds_enough() -> None:
    row = sufficiency(part="FAN-7", fleet=100, annual_failure_rate=0.1, lead_time_days=7, on_hand=5)
    assert (row.recommended, row.shortfall) == (1, 0)


def test_zero_failure_rate_needs_no_spares() -> None:
    row = sufficiency(part="RAIL", fleet=50, annual_failure_rate=0, lead_time_days=30, on_hand=0)
    assert (row.lambda_, row.recommended, row.shortfall) == (0.0, 0, 0)


def test_service_level_is_passed_through() -> None:
    row = sufficiency(
        part="PSU-2000",
        fleet=365,
        annual_failure_rate=Decimal("0.2"),
        lead_time_days=5,
        on_hand=0,
        service_level=0.99,
    )
    assert row.recommended == 4
