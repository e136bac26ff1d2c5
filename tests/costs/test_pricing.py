"""Day cost of a cost model (issue 9, §2): worked examples for each rule,
the amortization window's edges, and Decimal-only arithmetic."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costs.pricing import (
    EXACT_CONTEXT,
    CostModelFigures,
    add_months,
    amortization_end,
    day_cost,
    days_in_month,
)

D = Decimal


def exact_sum(*values: Decimal) -> Decimal:
    """A sum that cannot round (the default context keeps only 28 digits)."""
    with localcontext(EXACT_CONTEXT):
        return sum(values, D(0))


def close(value: Decimal, expected: Fraction, tolerance: str = "1e-30") -> bool:
    return abs(Fraction(value) - expected) < Fraction(tolerance)


def owned(**overrides: object) -> CostModelFigures:
    figures: dict[str, object] = {
        "kind": "owned",
        "capex": D("3100000"),
        "amortization_months": 36,
        "amortization_start": date(2026, 1, 1),
        "opex_monthly": D("31000"),
        "pue": D("1.5"),
        "energy_price_kwh": D("0.20"),
        "nameplate_kw_per_device": D("25"),
    }
    figures.update(overrides)
    return CostModelFigures(**figures)  # type: ignore[arg-type]


def test_cloud_rate_day_is_rate_times_devices_times_24() -> None:
    model = CostModelFigures(kind="cloud_rate", device_hour_rate=D("2.45"))
    cost = day_cost(model, day=date(2026, 3, 5), device_count=8, energy_joules=None)
    assert cost.amount == D("470.40")
    assert cost.rental == D("470.40")
    assert (cost.amortization, cost.opex, cost.power) == (D(0), D(0), D(0))
    assert cost.power_source is None
    assert cost.energy_kwh is None


def test_cloud_rate_ignores_measured_energy() -> None:
    model = CostModelFigures(kind="cloud_rate", device_hour_rate=D("1"))
    cost = day_cost(model, day=date(2026, 3, 5), device_count=2, energy_joules=D("3.6e9"))
    assert cost.amount == D(48)
    assert cost.power_source is None


def test_owned_day_with_measured_energy_prices_kwh_times_pue_times_price() -> None:
    # 3,100,000 / 36 / 31 days + 31,000 / 31 + 1,000 kWh × 1.5 × 0.20
    cost = day_cost(owned(), day=date(2026, 1, 10), device_count=4, energy_joules=D("3600000000"))
    assert cost.power_source == "measured"
    assert cost.energy_kwh == D(1000)
    assert cost.power == D("300.00")
    assert cost.opex == D(1000)
    assert close(cost.amortization, Fraction(3100000, 36 * 31))
    assert cost.amount == exact_sum(cost.amortization, cost.opex, cost.power)


def test_owned_day_without_energy_uses_nameplate_power() -> None:
    # 25 kW × 4 devices × 24 h = 2,400 kWh; × 1.5 × 0.20 = 720
    cost = day_cost(owned(), day=date(2026, 1, 10), device_count=4, energy_joules=None)
    assert cost.power_source == "nameplate"
    assert cost.energy_kwh == D(2400)
    assert cost.power == D("720.000")


def test_measured_zero_energy_is_measured_not_nameplate() -> None:
    cost = day_cost(owned(), day=date(2026, 1, 10), device_count=4, energy_joules=D(0))
    assert cost.power_source == "measured"
    assert cost.power == 0


def test_amount_is_exactly_the_sum_of_components_with_awkward_divisions() -> None:
    model = owned(capex=D("1000000.01"), opex_monthly=D("777.77"), pue=D("1.37"))
    cost = day_cost(model, day=date(2026, 1, 3), device_count=3, energy_joules=D("123456789.123"))
    assert cost.amount == exact_sum(cost.amortization, cost.opex, cost.power)
    assert cost.rental == 0
    # Divisions keep 40 significant digits; day costs are not quantized.
    assert len(cost.amortization.as_tuple().digits) == 40


def test_opex_and_amortization_divide_by_the_days_of_that_month() -> None:
    model = owned(capex=D(36 * 28 * 29 * 30 * 31), opex_monthly=D(28 * 29 * 30 * 31))
    expected = {
        date(2026, 2, 10): 28,
        date(2028, 2, 10): 29,  # leap year
        date(2026, 4, 10): 30,
        date(2026, 5, 10): 31,
    }
    for day, days in expected.items():
        cost = day_cost(model, day=day, device_count=0, energy_joules=D(0))
        assert cost.opex == D(28 * 29 * 30 * 31) / days
        assert cost.amortization == D(28 * 29 * 30 * 31) / days


def test_amortization_window_includes_start_and_excludes_end() -> None:
    model = owned(amortization_months=3, amortization_start=date(2026, 1, 1))
    assert amortization_end(model) == date(2026, 4, 1)

    def amortization(day: date) -> Decimal:
        return day_cost(model, day=day, device_count=1, energy_joules=D(0)).amortization

    assert amortization(date(2025, 12, 31)) == 0
    assert amortization(date(2026, 1, 1)) > 0
    assert amortization(date(2026, 3, 31)) > 0
    assert amortization(date(2026, 4, 1)) == 0


def test_amortization_window_from_the_31st_ends_on_the_clamped_day() -> None:
    # 31 January + 1 month is 29 February in a leap year, 28 otherwise;
    # the window is [start, end), so that day is outside.
    leap = owned(amortization_months=1, amortization_start=date(2028, 1, 31))
    plain = owned(amortization_months=1, amortization_start=date(2027, 1, 31))
    assert amortization_end(leap) == date(2028, 2, 29)
    assert amortization_end(plain) == date(2027, 2, 28)
    for model, last_in, first_out in (
        (leap, date(2028, 2, 28), date(2028, 2, 29)),
        (plain, date(2027, 2, 27), date(2027, 2, 28)),
    ):
        inside = day_cost(model, day=last_in, device_count=1, energy_joules=D(0))
        outside = day_cost(model, day=first_out, device_count=1, energy_joules=D(0))
        assert inside.amortization > 0
        assert outside.amortization == 0
        assert outside.opex > 0  # opex goes on after amortization ends


def test_amortization_over_a_window_from_the_first_adds_up_to_capex() -> None:
    model = owned(
        capex=D("1234567.89"), amortization_months=14, amortization_start=date(2027, 1, 1)
    )
    days = [date(2026, 12, 1) + timedelta(days=n) for n in range(600)]
    total = exact_sum(
        *(day_cost(model, day=day, device_count=1, energy_joules=D(0)).amortization for day in days)
    )
    assert close(total, Fraction("1234567.89"), "1e-25")


def test_add_months_clamps_to_month_end_and_crosses_years() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 3, 31), 12) == date(2027, 3, 31)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_days_in_month_knows_leap_years() -> None:
    assert days_in_month(date(2024, 2, 1)) == 29
    assert days_in_month(date(2100, 2, 1)) == 28  # divisible by 100, not 400
    assert days_in_month(date(2000, 2, 1)) == 29
    assert days_in_month(date(2026, 12, 31)) == 31


def test_owned_defaults_mean_no_opex_pue_one_and_free_energy() -> None:
    model = CostModelFigures(
        kind="owned",
        capex=D(3000),
        amortization_months=1,
        amortization_start=date(2026, 4, 1),
    )
    cost = day_cost(model, day=date(2026, 4, 2), device_count=10, energy_joules=None)
    assert cost.amount == D(100)
    assert cost.power == 0
    assert cost.power_source == "nameplate"


@pytest.mark.parametrize(
    ("figures", "field"),
    [
        ({"kind": "cloud_rate"}, "device_hour_rate"),
        ({"kind": "cloud_rate", "device_hour_rate": D("-1")}, "device_hour_rate"),
        ({"kind": "cloud_rate", "device_hour_rate": D("NaN")}, "device_hour_rate"),
        (
            {"kind": "owned", "amortization_months": 1, "amortization_start": date(2026, 1, 1)},
            "capex",
        ),
        (
            {"kind": "owned", "capex": D(1), "amortization_start": date(2026, 1, 1)},
            "amortization_months",
        ),
        (
            {
                "kind": "owned",
                "capex": D(1),
                "amortization_months": 0,
                "amortization_start": date(2026, 1, 1),
            },
            "amortization_months",
        ),
        ({"kind": "owned", "capex": D(1), "amortization_months": 1}, "amortization_start"),
        (
            {
                "kind": "owned",
                "capex": D(1),
                "amortization_months": 1,
                "amortization_start": date(2026, 1, 1),
                "pue": D("0.9"),
            },
            "pue",
        ),
        ({"kind": "spot"}, "kind"),
    ],
)
def test_rejects_a_bad_figure_naming_the_field(figures: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        CostModelFigures(**figures)  # type: ignore[arg-type]


def test_refuses_float_money() -> None:
    with pytest.raises(TypeError, match="device_hour_rate"):
        CostModelFigures(kind="cloud_rate", device_hour_rate=2.45)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="energy_joules"):
        day_cost(owned(), day=date(2026, 1, 1), device_count=1, energy_joules=1.5)  # type: ignore[arg-type]


def test_rejects_negative_device_count_and_energy() -> None:
    with pytest.raises(ValueError, match="device_count"):
        day_cost(owned(), day=date(2026, 1, 1), device_count=-1, energy_joules=None)
    with pytest.raises(ValueError, match="energy_joules"):
        day_cost(owned(), day=date(2026, 1, 1), device_count=1, energy_joules=D(-1))


money = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False)


@given(
    capex=money,
    opex=money,
    pue=st.decimals(min_value=1, max_value=3, places=3),
    price=st.decimals(min_value=0, max_value=2, places=5),
    joules=st.none() | st.decimals(min_value=0, max_value=10**13, places=3),
    devices=st.integers(min_value=0, max_value=10_000),
    months=st.integers(min_value=1, max_value=120),
    offset=st.integers(min_value=-400, max_value=4000),
)
def test_owned_amount_is_exactly_its_components_and_never_negative(
    capex: Decimal,
    opex: Decimal,
    pue: Decimal,
    price: Decimal,
    joules: Decimal | None,
    devices: int,
    months: int,
    offset: int,
) -> None:
    start = date(2026, 1, 31)
    model = owned(
        capex=capex,
        opex_monthly=opex,
        pue=pue,
        energy_price_kwh=price,
        amortization_months=months,
        amortization_start=start,
    )
    day = start + timedelta(days=offset)
    cost = day_cost(model, day=day, device_count=devices, energy_joules=joules)
    assert cost.amount == exact_sum(cost.amortization, cost.opex, cost.power)
    assert cost.amount >= 0
    inside = start <= day < add_months(start, months)
    assert (cost.amortization > 0) == (inside and capex > 0)
    assert cost.power_source == ("nameplate" if joules is None else "measured")
