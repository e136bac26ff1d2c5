"""Allocation of a backend's day cost to cost centers, and month rounding
(issue 9, §4). Pure arithmetic, no ORM: the allocation service reads usage
and day costs, calls these, and stores the results.

For one backend and UTC day, with C the day's cost, u_k the basis quantity
of key k (prompt+generated tokens by default), U = Σ u_k including unmapped,
T the day's prompt+generated tokens and K = capacity × 86,400 when set:

- utilization rho = min(1, T / K) when capacity is set, else 1; rho = 0 when U = 0.
- used = C × rho, idle = C × (1 - rho), line_k = used × u_k / U.
- ``share``: idle goes to the lines in proportion to u_k (line_k = C × u_k / U,
  idle 0); a day with U = 0 leaves all of C idle (the platform's).
- ``platform``: idle is one separate amount, for the platform's cost center.

Keys are opaque to this module: the service uses ``(cost_center_code or
None, kind)`` with kind ``usage``, ``unmapped`` or ``shadow``; idle is not a
key here but a separate figure.

Exactness. Every share is computed as an exact rational (the ``Decimal``
inputs and rho as integers over one common denominator), then apportioned to a quantum by the
largest-remainder method: each figure is floored to the quantum, and the
quanta still missing from the total go to the figures with the largest
remainders. So the figures add up to the total exactly (integer arithmetic
on quanta), each lies strictly less than one quantum from its exact value,
and none changes sign. A day is apportioned to 10^-20 (:data:`LINE_PLACES`),
or to the cost's own last digit when that is finer, so lines + idle == C
with no rounding at all; pass the cost quantized to the storage scale if the
lines are stored at a fixed number of places. A month is apportioned to the
cent, onto the month's half-even rounded total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Generic, Literal, TypeVar

from costs.pricing import DECIMAL_CONTEXT, EXACT_CONTEXT

__all__ = [
    "CENT",
    "LINE_PLACES",
    "SECONDS_PER_DAY",
    "DayAllocation",
    "IdlePolicy",
    "TieKey",
    "allocate_day",
    "round_month",
]

Key = TypeVar("Key", bound=Hashable)
IdlePolicy = Literal["share", "platform"]
# The caller's order among equal remainders, e.g. ``(code or "", kind)``.
TieKey = Callable[[Key], tuple[object, ...]]

SECONDS_PER_DAY = 86_400
# Daily lines keep 20 decimal places (the issue asks for at least 10).
LINE_PLACES = 20
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class DayAllocation(Generic[Key]):
    """One backend-day split: ``sum(lines.values()) + idle == cost`` exactly.

    ``lines`` has one entry per key of the usage passed in, zero-usage keys
    included (with a zero amount). ``utilization`` is rho rounded to 40
    significant digits for display; the lines use the exact rho.
    """

    lines: dict[Key, Decimal]
    idle: Decimal
    utilization: Decimal


def allocate_day(
    *,
    cost: Decimal,
    usage: Mapping[Key, Decimal],
    total_tokens: Decimal,
    capacity_tokens_per_second: Decimal | None,
    idle_policy: IdlePolicy,
    tie_key: TieKey[Key] | None = None,
    places: int = LINE_PLACES,
) -> DayAllocation[Key]:
    """Split one backend-day's ``cost`` over ``usage`` (basis quantities).

    ``total_tokens`` is T, the day's prompt+generated tokens, which sets
    rho against capacity whatever the basis. A negative ``cost`` (a credit) is
    split the same way and gives lines that are ≤ 0. ``tie_key`` orders
    keys whose remainders tie at the last of ``places`` digits (default:
    the mapping's order; pass the month's ``tie_key`` so reruns agree
    whatever order the usage was read in); idle comes after every line.
    """
    _check_decimal("cost", cost)
    _check_decimal("total_tokens", total_tokens)
    if total_tokens < 0:
        raise ValueError(f"total_tokens: must not be negative ({total_tokens})")
    if capacity_tokens_per_second is not None:
        _check_decimal("capacity_tokens_per_second", capacity_tokens_per_second)
        if capacity_tokens_per_second <= 0:
            raise ValueError(
                f"capacity_tokens_per_second: must be positive ({capacity_tokens_per_second})"
            )
    if isinstance(places, bool) or not isinstance(places, int) or places < 0:
        raise ValueError(f"places: must be a whole number ≥ 0, not {places!r}")
    if idle_policy not in ("share", "platform"):
        raise ValueError(f"idle_policy: {idle_policy!r} is not 'share' or 'platform'")
    for key, quantity in usage.items():
        _check_decimal(f"usage[{key!r}]", quantity)
        if quantity < 0:
            raise ValueError(f"usage[{key!r}]: must not be negative ({quantity})")

    keys = list(usage)
    if tie_key is not None:
        keys.sort(key=tie_key)
    exponent = min(-places, _exponent(cost))
    # Every share has the same denominator, so the day is apportioned in
    # integers (units of 10^exponent over one common denominator) rather than
    # in Fractions: exactly the same figures, without a gcd per operation
    # (a month of 20 backends × 50 cost centers is 30,000 shares).
    units = _units(cost, exponent)
    weights = _integer_weights([usage[key] for key in keys])
    total_usage = sum(weights)

    if total_usage == 0:
        rho = Fraction(0)
    elif capacity_tokens_per_second is None:
        rho = Fraction(1)
    else:
        capacity = Fraction(capacity_tokens_per_second) * SECONDS_PER_DAY
        rho = min(Fraction(1), Fraction(total_tokens) / capacity)

    if total_usage == 0:
        # line_k = 0, idle = C
        numerators = [0] * len(keys) + [units]
        denominator = 1
    elif idle_policy == "share":
        # line_k = C × u_k / U, idle = 0
        numerators = [units * w for w in weights] + [0]
        denominator = total_usage
    else:
        # line_k = C × rho × u_k / U, idle = C × (1 - rho), rho = a / b
        a, b = rho.numerator, rho.denominator
        numerators = [units * a * w for w in weights] + [units * (b - a) * total_usage]
        denominator = b * total_usage

    amounts = _apportion_units(units, numerators, denominator)
    figures = [Decimal(n).scaleb(exponent, EXACT_CONTEXT) for n in amounts]
    return DayAllocation(
        lines=dict(zip(keys, figures[:-1], strict=True)),
        idle=figures[-1],
        utilization=DECIMAL_CONTEXT.divide(Decimal(rho.numerator), Decimal(rho.denominator)),
    )


def _units(value: Decimal, exponent: int) -> int:
    """``value`` in whole units of 10^exponent (it must be a multiple)."""
    numerator, denominator = value.as_integer_ratio()
    units, rest = divmod(numerator * 10 ** (-exponent), denominator)
    assert rest == 0, f"{value} is not a multiple of 1E{exponent}"
    return int(units)


def _integer_weights(values: Sequence[Decimal]) -> list[int]:
    """[n_i] proportional to ``values`` exactly: the values over their
    common denominator."""
    ratios = [value.as_integer_ratio() for value in values]
    common = math.lcm(*(d for _, d in ratios)) if ratios else 1
    return [n * (common // d) for n, d in ratios]


def round_month(
    *,
    day_total: Decimal,
    lines: Mapping[Key, Decimal],
    tie_key: TieKey[Key],
) -> tuple[Decimal, dict[Key, Decimal]]:
    """A backend's month: (its cost, its lines), both to the cent.

    ``day_total`` is the sum of the month's day costs, ``lines`` the sums of
    each line over those days; idle, when the policy keeps it apart, is one
    of the lines (the caller gives it a key). They must add up exactly to
    ``day_total`` (as :func:`allocate_day` guarantees), else ``ValueError``.

    The cost is ``day_total`` rounded to the cent, half-even. The lines are
    rounded by the largest-remainder method so they add up to that cost
    exactly; each moves by less than one cent, and none is negative unless
    its exact value is (a credit). Equal remainders are broken by the
    smallest ``tie_key(key)`` first: the service passes ``(code or "", kind)``
    so ties go by cost center code, then kind, with unmapped (no code) first.
    """
    _check_decimal("day_total", day_total)
    for key, amount in lines.items():
        _check_decimal(f"lines[{key!r}]", amount)
    keys = sorted(lines, key=tie_key)
    cent = _exponent(CENT)
    # Integers again (units of the finest digit present): a month's lines
    # share one scale, so no Fraction arithmetic is needed.
    scale = min([cent, _exponent(day_total), *(_exponent(lines[key]) for key in keys)])
    exact = [_units(lines[key], scale) for key in keys]
    total = _units(day_total, scale)
    if sum(exact) != total:
        off = Fraction(sum(exact) - total) * Fraction(10) ** scale
        difference = DECIMAL_CONTEXT.divide(Decimal(off.numerator), Decimal(off.denominator))
        raise ValueError(f"lines do not add up to day_total {day_total} (off by {difference})")
    per_cent = 10 ** (cent - scale)
    # Half-even to the cent, in integers.
    cents, rest = divmod(total, per_cent)
    if 2 * rest > per_cent or (2 * rest == per_cent and cents % 2):
        cents += 1
    rounded = Decimal(cents).scaleb(cent, EXACT_CONTEXT)
    amounts = _apportion_units(cents, exact, per_cent)
    return rounded, {
        key: Decimal(units).scaleb(cent, EXACT_CONTEXT)
        for key, units in zip(keys, amounts, strict=True)
    }


def _apportion_units(total: int, numerators: Sequence[int], denominator: int) -> list[int]:
    """Whole units, one per ``numerators[i] / denominator``, adding up to
    ``total`` (largest remainder: each is floored, and the units still
    missing go to the largest remainders; ties to the earlier position).
    ``total`` must be within half a unit per part of the exact sum."""
    assert denominator > 0
    floors: list[int] = []
    remainders: list[int] = []
    for numerator in numerators:
        floor, remainder = divmod(numerator, denominator)
        floors.append(floor)
        remainders.append(remainder)
    missing = total - sum(floors)
    # Follows from the contract: each remainder is below one unit.
    assert 0 <= missing <= len(numerators), "total is not within half a quantum of the parts"
    order = sorted(range(len(numerators)), key=lambda i: -remainders[i])
    for i in order[:missing]:
        floors[i] += 1
    return floors


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite values only (checked)
    return exponent


def _check_decimal(field: str, value: object) -> None:
    if isinstance(value, float):
        raise TypeError(f"{field}: must be a Decimal, never float ({value!r})")
    if not isinstance(value, Decimal):
        raise ValueError(f"{field}: must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{field}: must be a finite number, not {value}")
