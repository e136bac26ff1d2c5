"""The cost of one backend for one UTC day under one cost model (issue 9, §2).

Pure arithmetic, no ORM: the caller picks the cost model in effect on the
day (effective-dated history), reads the day's measured energy, and passes
plain figures here.

- ``cloud_rate``: device_hour_rate × device_count × 24.
- ``owned``: capex / amortization_months / days in the day's month (only
  while the day is inside the amortization window) + opex_monthly / days in
  the day's month + power. Power is kWh × PUE × energy price, where kWh is
  the day's measured energy (J / 3,600,000) or, for a day without energy
  samples, nameplate_kw_per_device × device_count × 24; the result says which.
- ``owned`` with its opex "from contract" (issue 12, §1): the month's opex is
  :func:`contract_opex_monthly` of the contracts covering the backend on the
  day (a monthly fee as is, a yearly fee / 12, each divided evenly among the
  backends the contract covers; one-off fees are no opex, they belong in
  capex), then spread over the days of the month exactly like a typed opex.

Money is ``Decimal`` end to end: floats are refused, not converted. Products
and sums are exact (:data:`EXACT_CONTEXT` raises rather than round); only
divisions round, to 40 significant digits, half-even (:data:`DECIMAL_CONTEXT`).
Day costs are NOT quantized: 1/31 of a month's opex keeps its 40 digits, and
rounding to the cent happens once, on month figures
(``costs.allocation.round_month``).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import (
    MAX_PREC,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Literal

__all__ = [
    "DECIMAL_CONTEXT",
    "EXACT_CONTEXT",
    "JOULES_PER_KWH",
    "ContractFee",
    "CostModelFigures",
    "CostModelKind",
    "DayCost",
    "FeePeriod",
    "PowerSource",
    "add_months",
    "amortization_end",
    "contract_opex_monthly",
    "day_cost",
    "days_in_month",
]

# Divisions: 40 digits, 12 above the default 28. Any operation that would be
# silently wrong (0/0, overflow) raises instead.
DECIMAL_CONTEXT = Context(
    prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# Sums and products: as many digits as the result needs, and a trap in case
# one ever would not fit. Never divide in it (1/3 would not terminate).
EXACT_CONTEXT = Context(prec=MAX_PREC, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
JOULES_PER_KWH = Decimal(3_600_000)
HOURS_PER_DAY = 24

CostModelKind = Literal["cloud_rate", "owned"]
PowerSource = Literal["measured", "nameplate"]
FeePeriod = Literal["monthly", "yearly", "one_off"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CostModelFigures:
    """The price figures of one cost model, validated on construction.

    ``cloud_rate`` needs ``device_hour_rate``; ``owned`` needs ``capex``,
    ``amortization_months`` and ``amortization_start``. The other owned
    figures default to what a missing figure means: no opex, PUE 1, free
    energy, no nameplate power. Amounts must be finite, non-negative
    ``Decimal`` values (PUE at least 1); a bad figure raises ``ValueError``
    (``TypeError`` for a float) naming the field, so the API can say which.
    """

    kind: CostModelKind
    device_hour_rate: Decimal | None = None
    capex: Decimal | None = None
    amortization_months: int | None = None
    amortization_start: date | None = None
    opex_monthly: Decimal = _ZERO
    pue: Decimal = Decimal(1)
    energy_price_kwh: Decimal = _ZERO
    nameplate_kw_per_device: Decimal = _ZERO

    def __post_init__(self) -> None:
        if self.kind == "cloud_rate":
            _check_amount("device_hour_rate", self.device_hour_rate, required=True)
            return
        if self.kind != "owned":
            raise ValueError(f"kind: {self.kind!r} is not 'cloud_rate' or 'owned'")
        _check_amount("capex", self.capex, required=True)
        months = self.amortization_months
        if months is None:
            raise ValueError("amortization_months: required for an owned cost model")
        if isinstance(months, bool) or not isinstance(months, int) or months < 1:
            raise ValueError(f"amortization_months: must be a whole number ≥ 1, not {months!r}")
        if not isinstance(self.amortization_start, date):
            raise ValueError("amortization_start: required (a date) for an owned cost model")
        _check_amount("opex_monthly", self.opex_monthly, required=True)
        _check_amount("pue", self.pue, required=True)
        if self.pue < 1:
            raise ValueError(f"pue: must be at least 1, not {self.pue}")
        _check_amount("energy_price_kwh", self.energy_price_kwh, required=True)
        _check_amount("nameplate_kw_per_device", self.nameplate_kw_per_device, required=True)


@dataclass(frozen=True, slots=True)
class DayCost:
    """One day's cost and where it came from.

    ``amount`` is exactly ``rental + amortization + opex + power``. ``rental``
    is the device-hour charge of a ``cloud_rate`` model (0 for ``owned``);
    the other three are 0 for ``cloud_rate``. ``power_source`` is ``None``
    for ``cloud_rate`` (power is in the rate). ``energy_kwh`` is the IT
    energy the power figure was priced from (before PUE), ``None`` for cloud.
    """

    amount: Decimal
    power_source: PowerSource | None
    rental: Decimal
    amortization: Decimal
    opex: Decimal
    power: Decimal
    energy_kwh: Decimal | None


@dataclass(frozen=True, slots=True)
class ContractFee:
    """One contract covering a backend: its fee, fee period, the days it
    covers (``start``..``end``, both included) and how many backends it
    covers in all (its fee is shared evenly among them)."""

    fee: Decimal
    fee_period: FeePeriod
    start: date
    end: date
    backends: int

    def __post_init__(self) -> None:
        _check_amount("fee", self.fee, required=True)
        if self.fee_period not in ("monthly", "yearly", "one_off"):
            raise ValueError(f"fee_period: {self.fee_period!r} is not monthly, yearly or one_off")
        if self.end < self.start:
            raise ValueError(f"end: {self.end} is before the start {self.start}")
        if isinstance(self.backends, bool) or not isinstance(self.backends, int):
            raise ValueError(f"backends: must be a whole number, not {self.backends!r}")
        if self.backends < 1:
            raise ValueError(f"backends: must be at least 1, not {self.backends}")

    def covers(self, day: date) -> bool:
        """Whether ``day`` is within the contract and its fee recurs (a
        one-off fee is no opex, so it covers no day's opex)."""
        return self.fee_period != "one_off" and self.start <= day <= self.end


def contract_opex_monthly(fees: Iterable[ContractFee], day: date) -> Decimal | None:
    """The monthly opex of a backend on ``day`` from the contracts covering
    it: per contract, the monthly fee (a yearly fee / 12) divided by the
    number of backends the contract covers; several contracts add up.
    ``None`` when no contract with a monthly or yearly fee covers the day
    (the caller prices 0 and says so), which is not the same as a covering
    contract whose fee is 0.
    """
    covering = [fee for fee in fees if fee.covers(day)]
    if not covering:
        return None
    divide = DECIMAL_CONTEXT.divide
    total = _ZERO
    for fee in covering:
        months = 12 if fee.fee_period == "yearly" else 1
        with localcontext(EXACT_CONTEXT):
            total += divide(fee.fee, months * fee.backends)
    return total


def days_in_month(day: date) -> int:
    """Number of days in the calendar month of ``day`` (28 to 31)."""
    return calendar.monthrange(day.year, day.month)[1]


def add_months(start: date, months: int) -> date:
    """``start`` moved by whole calendar months; a day the target month lacks
    becomes its last day (31 January + 1 month = 28 or 29 February)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last))


def amortization_end(model: CostModelFigures) -> date | None:
    """First day after the amortization window ``[start, start + months)``,
    or ``None`` for a model without one (``cloud_rate``)."""
    if model.amortization_start is None or model.amortization_months is None:
        return None
    return add_months(model.amortization_start, model.amortization_months)


def day_cost(
    model: CostModelFigures,
    *,
    day: date,
    device_count: int,
    energy_joules: Decimal | None,
) -> DayCost:
    """The cost of ``day`` for a backend of ``device_count`` devices.

    ``energy_joules`` is the day's measured energy (the reset-aware increase
    of the canonical energy counter), or ``None`` when the day has no energy
    samples: owned models then price nameplate power. It is ignored for
    ``cloud_rate`` models.
    """
    if isinstance(device_count, bool) or not isinstance(device_count, int) or device_count < 0:
        raise ValueError(f"device_count: must be a whole number ≥ 0, not {device_count!r}")
    _check_amount("energy_joules", energy_joules, required=False)
    divide = DECIMAL_CONTEXT.divide
    with localcontext(EXACT_CONTEXT):
        if model.kind == "cloud_rate":
            assert model.device_hour_rate is not None  # checked in __post_init__
            rental = model.device_hour_rate * device_count * HOURS_PER_DAY
            return DayCost(
                amount=rental,
                power_source=None,
                rental=rental,
                amortization=_ZERO,
                opex=_ZERO,
                power=_ZERO,
                energy_kwh=None,
            )
        assert model.capex is not None
        assert model.amortization_months is not None
        assert model.amortization_start is not None
        month_days = days_in_month(day)
        end = amortization_end(model)
        assert end is not None
        if model.amortization_start <= day < end:
            amortization = divide(model.capex, model.amortization_months * month_days)
        else:
            amortization = _ZERO
        opex = divide(model.opex_monthly, month_days)
        source: PowerSource
        if energy_joules is not None:
            source = "measured"
            kwh = divide(energy_joules, JOULES_PER_KWH)
        else:
            source = "nameplate"
            kwh = model.nameplate_kw_per_device * device_count * HOURS_PER_DAY
        power = kwh * model.pue * model.energy_price_kwh
        return DayCost(
            amount=amortization + opex + power,
            power_source=source,
            rental=_ZERO,
            amortization=amortization,
            opex=opex,
            power=power,
            energy_kwh=kwh,
        )


def _check_amount(field: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"{field}: required")
        return
    if isinstance(value, float):
        raise TypeError(f"{field}: money and rates are Decimal, never float ({value!r})")
    if not isinstance(value, Decimal):
        raise ValueError(f"{field}: must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{field}: must be a finite number, not {value}")
    if value < 0:
        raise ValueError(f"{field}: must not be negative ({value})")
