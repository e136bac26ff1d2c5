"""Unit economics of a backend over a period (issue 9, §5). Pure arithmetic,
no ORM: the service passes the period's cost, token and request counts,
energy and merged histograms.

Every figure is ``None`` when it cannot be computed (a missing input, a zero
denominator), never 0 in its place. Money is ``Decimal``: costs must be
``Decimal`` (a float raises ``TypeError``); physical quantities (tokens,
requests, joules, seconds) may be ``int``, ``Decimal`` or ``float`` (the
rollups store floats) and a float enters by its shortest repr, so 0.1 is
0.1. Products are exact; each division rounds once, to 40 significant
digits (``costs.pricing.DECIMAL_CONTEXT``). Results are NOT quantized for
display: the API layer formats them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from costs.pricing import DECIMAL_CONTEXT, EXACT_CONTEXT

__all__ = [
    "BREAK_EVEN_UTILIZATIONS",
    "DEFAULT_OUTPUT_TOKEN_WEIGHT",
    "BreakEvenCurve",
    "BreakEvenPoint",
    "Quantity",
    "SplitMethod",
    "TokenCostSplit",
    "average_hourly_cost",
    "break_even_curve",
    "cost_at_utilization",
    "cost_per_1m_goodput_tokens",
    "cost_per_1m_tokens",
    "cost_per_inference",
    "fraction_within",
    "joules_per_token",
    "split_cost",
]

Quantity = Decimal | int | float
SplitMethod = Literal["token_weight", "time_share"]

DEFAULT_OUTPUT_TOKEN_WEIGHT = Decimal("2.5")
MILLION = 1_000_000
SECONDS_PER_HOUR = 3600
# 5 %, 10 %, ..., 100 %: the break-even curve's x axis.
BREAK_EVEN_UTILIZATIONS: tuple[Decimal, ...] = tuple(
    Decimal(5 * step) / 100 for step in range(1, 21)
)

_divide = DECIMAL_CONTEXT.divide


@dataclass(frozen=True, slots=True)
class TokenCostSplit:
    """A cost split between input (prompt) and output (generated) tokens.

    ``input_cost + output_cost == cost`` exactly (output is the remainder).
    ``method`` is ``None`` exactly when nothing could be split.
    """

    method: SplitMethod | None
    input_cost: Decimal | None
    output_cost: Decimal | None
    cost_per_1m_input_tokens: Decimal | None
    cost_per_1m_output_tokens: Decimal | None


@dataclass(frozen=True, slots=True)
class BreakEvenPoint:
    """$/1M tokens at a utilization (a fraction, 0.05 for 5 %)."""

    utilization: Decimal
    cost_per_1m_tokens: Decimal


@dataclass(frozen=True, slots=True)
class BreakEvenCurve:
    """$/1M tokens at 5 %, 10 %, ..., 100 % of capacity, and the measured
    operating point on the same curve (``None`` without a measured
    utilization above 0)."""

    points: tuple[BreakEvenPoint, ...]
    operating_point: BreakEvenPoint | None


def cost_per_1m_tokens(
    *, cost: Decimal | None, input_tokens: Quantity | None, output_tokens: Quantity | None
) -> Decimal | None:
    """cost / (input + output) × 10^6."""
    money = _money("cost", cost)
    tokens = _total_tokens(input_tokens, output_tokens)
    if money is None or tokens is None or tokens == 0:
        return None
    return _per_million(money, tokens)


def split_cost(
    *,
    cost: Decimal | None,
    input_tokens: Quantity | None,
    output_tokens: Quantity | None,
    output_token_weight: Decimal = DEFAULT_OUTPUT_TOKEN_WEIGHT,
    prefill_seconds: Quantity | None = None,
    decode_seconds: Quantity | None = None,
) -> TokenCostSplit:
    """Split ``cost`` into input and output cost, and each per 1M of its tokens.

    With prefill and decode time both given (the vLLM histograms' sums for
    the period) and not both zero, the split is by time share:
    input = cost × prefill / (prefill + decode), method ``time_share``.
    Otherwise an output token weighs ``output_token_weight`` input tokens:
    input = cost × in / (in + w × out), method ``token_weight``.
    A per-1M figure is ``None`` when its token count is 0 or missing.
    """
    money = _money("cost", cost)
    weight = _money("output_token_weight", output_token_weight)
    if weight is None or weight <= 0:
        raise ValueError(f"output_token_weight: must be positive ({output_token_weight})")
    tokens_in = _quantity("input_tokens", input_tokens)
    tokens_out = _quantity("output_tokens", output_tokens)
    prefill = _quantity("prefill_seconds", prefill_seconds)
    decode = _quantity("decode_seconds", decode_seconds)
    nothing = TokenCostSplit(None, None, None, None, None)
    if money is None:
        return nothing
    method: SplitMethod
    with localcontext(EXACT_CONTEXT):
        if prefill is not None and decode is not None and prefill + decode > 0:
            method = "time_share"
            input_cost = _divide(money * prefill, prefill + decode)
        elif tokens_in is not None and tokens_out is not None and tokens_in + tokens_out > 0:
            method = "token_weight"
            input_cost = _divide(money * tokens_in, tokens_in + weight * tokens_out)
        else:
            return nothing
        output_cost = money - input_cost
    return TokenCostSplit(
        method=method,
        input_cost=input_cost,
        output_cost=output_cost,
        cost_per_1m_input_tokens=(_per_million(input_cost, tokens_in) if tokens_in else None),
        cost_per_1m_output_tokens=(_per_million(output_cost, tokens_out) if tokens_out else None),
    )


def cost_per_inference(*, cost: Decimal | None, requests: Quantity | None) -> Decimal | None:
    """cost / requests."""
    money = _money("cost", cost)
    count = _quantity("requests", requests)
    if money is None or not count:
        return None
    return _divide(money, count)


def joules_per_token(
    *,
    energy_joules: Quantity | None,
    input_tokens: Quantity | None,
    output_tokens: Quantity | None,
) -> Decimal | None:
    """energy / (input + output) tokens, in joules."""
    energy = _quantity("energy_joules", energy_joules)
    tokens = _total_tokens(input_tokens, output_tokens)
    if energy is None or not tokens:
        return None
    return _divide(energy, tokens)


def fraction_within(objective_seconds: float, buckets: Mapping[float, float]) -> float | None:
    """Fraction of observations ≤ ``objective_seconds``, from MERGED cumulative
    histogram buckets ``{le: count}`` (see ``quantile.merge_buckets``).

    The inverse of ``histogram_quantile``, with its conventions: counts are
    forced monotonic; observations are spread linearly inside their bucket;
    the first bucket starts at 0 (unless its bound is not positive: its
    observations then sit at that bound). An objective at or beyond the
    highest finite bound gives count(highest finite bound) / count(+Inf):
    the +Inf bucket says nothing about where its observations lie, so they
    count as missed. ``None`` without a +Inf bucket, without a finite bucket,
    with no observations, or for a NaN objective.
    """
    if math.isnan(objective_seconds):
        return None
    bounds = sorted(buckets)
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return None
    counts: list[float] = []
    for bound in bounds:
        count = float(buckets[bound])
        if math.isnan(count):
            return None
        counts.append(max(count, counts[-1]) if counts else count)
    total = counts[-1]
    if total <= 0:
        return None
    finite, finite_counts = bounds[:-1], counts[:-1]
    if objective_seconds >= finite[-1]:
        return finite_counts[-1] / total
    b = next(i for i, bound in enumerate(finite) if bound > objective_seconds)
    if b == 0:
        if finite[0] <= 0:
            return 0.0
        lower, below = 0.0, 0.0
    else:
        lower, below = finite[b - 1], finite_counts[b - 1]
    if objective_seconds <= lower:
        return below / total
    inside = (finite_counts[b] - below) * (objective_seconds - lower) / (finite[b] - lower)
    return (below + inside) / total


def cost_per_1m_goodput_tokens(
    *,
    cost: Decimal | None,
    input_tokens: Quantity | None,
    output_tokens: Quantity | None,
    goodput_fraction: float | None,
) -> Decimal | None:
    """cost / ((input + output) × goodput fraction) × 10^6: what a million
    tokens served within the latency objective cost."""
    money = _money("cost", cost)
    tokens = _total_tokens(input_tokens, output_tokens)
    fraction = _quantity("goodput_fraction", goodput_fraction)
    if money is None or not tokens or not fraction:
        return None
    if fraction > 1:
        raise ValueError(f"goodput_fraction: must be at most 1 ({goodput_fraction})")
    with localcontext(EXACT_CONTEXT):
        good_tokens = tokens * fraction
    return _per_million(money, good_tokens)


def average_hourly_cost(*, cost: Decimal | None, hours: Quantity | None) -> Decimal | None:
    """cost / hours (a month's cost over its hours, for the break-even curve)."""
    money = _money("cost", cost)
    span = _quantity("hours", hours)
    if money is None or not span:
        return None
    return _divide(money, span)


def cost_at_utilization(
    *, average_hourly_cost: Decimal, capacity_tokens_per_second: Quantity, utilization: Decimal
) -> Decimal:
    """average hourly cost / (capacity × 3600 × utilization) × 10^6."""
    money = _money("average_hourly_cost", average_hourly_cost)
    capacity = _quantity("capacity_tokens_per_second", capacity_tokens_per_second)
    u = _money("utilization", utilization)
    assert money is not None and capacity is not None and u is not None
    if capacity <= 0:
        raise ValueError(f"capacity_tokens_per_second: must be positive ({capacity})")
    if not 0 < u <= 1:
        raise ValueError(f"utilization: must be in (0, 1] ({utilization})")
    with localcontext(EXACT_CONTEXT):
        tokens_per_hour = capacity * SECONDS_PER_HOUR * u
    return _per_million(money, tokens_per_hour)


def break_even_curve(
    *,
    average_hourly_cost: Decimal | None,
    capacity_tokens_per_second: Quantity | None,
    measured_utilization: Decimal | None = None,
) -> BreakEvenCurve | None:
    """$/1M tokens against utilization 5 %..100 % (20 points), and the
    operating point at ``measured_utilization`` (the period's rho).

    The operating point lies on the curve. It equals the period's measured
    $/1M tokens when rho = T / K was not capped at 1. ``None`` without a cost
    or a capacity.
    """
    if average_hourly_cost is None or capacity_tokens_per_second is None:
        return None
    points = tuple(
        BreakEvenPoint(
            utilization=u,
            cost_per_1m_tokens=cost_at_utilization(
                average_hourly_cost=average_hourly_cost,
                capacity_tokens_per_second=capacity_tokens_per_second,
                utilization=u,
            ),
        )
        for u in BREAK_EVEN_UTILIZATIONS
    )
    operating = None
    if measured_utilization is not None and measured_utilization > 0:
        operating = BreakEvenPoint(
            utilization=measured_utilization,
            cost_per_1m_tokens=cost_at_utilization(
                average_hourly_cost=average_hourly_cost,
                capacity_tokens_per_second=capacity_tokens_per_second,
                utilization=measured_utilization,
            ),
        )
    return BreakEvenCurve(points=points, operating_point=operating)


def _per_million(money: Decimal, count: Decimal) -> Decimal:
    return _divide(EXACT_CONTEXT.multiply(money, MILLION), count)


def _total_tokens(input_tokens: Quantity | None, output_tokens: Quantity | None) -> Decimal | None:
    tokens_in = _quantity("input_tokens", input_tokens)
    tokens_out = _quantity("output_tokens", output_tokens)
    if tokens_in is None or tokens_out is None:
        return None
    return EXACT_CONTEXT.add(tokens_in, tokens_out)


def _money(field: str, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError(f"{field}: must be a Decimal, never float ({value!r})")
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{field}: must be a finite Decimal, not {value!r}")
    return value


def _quantity(field: str, value: Quantity | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field}: must be a number, not {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field}: must be finite, not {value!r}")
        quantity = Decimal(repr(value))
    elif isinstance(value, int):
        quantity = Decimal(value)
    elif isinstance(value, Decimal) and value.is_finite():
        quantity = value
    else:
        raise ValueError(f"{field}: must be a finite number, not {value!r}")
    if quantity < 0:
        raise ValueError(f"{field}: must not be negative ({value})")
    return quantity
