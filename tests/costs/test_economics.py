"""Unit economics (issue 9, §5): worked examples for each figure, None (never
0) when a figure cannot be computed, goodput read from histogram buckets as
``histogram_quantile`` reads them, and the break-even curve."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costs.economics import (
    BREAK_EVEN_UTILIZATIONS,
    average_hourly_cost,
    break_even_curve,
    cost_at_utilization,
    cost_per_1m_goodput_tokens,
    cost_per_1m_tokens,
    cost_per_inference,
    fraction_within,
    joules_per_token,
    split_cost,
)
from costs.pricing import EXACT_CONTEXT

# Moves to metrics.quantile with the layout issue.
from metrics.quantile import histogram_quantile

D = Decimal
INF = math.inf
DOC_BUCKETS = {0.1: 10.0, 0.5: 60.0, 1.0: 90.0, INF: 100.0}


# ------------------------------------------------------------ per-token costs


def test_cost_per_1m_tokens_divides_by_input_plus_output() -> None:
    assert cost_per_1m_tokens(cost=D(50), input_tokens=3_000_000, output_tokens=2_000_000) == 10


def test_cost_per_1m_tokens_accepts_float_counts_from_rollups() -> None:
    assert cost_per_1m_tokens(cost=D(1), input_tokens=0.5e6, output_tokens=0.5e6) == 1


@pytest.mark.parametrize(
    ("cost", "input_tokens", "output_tokens"),
    [(D(5), 0, 0), (None, 10, 10), (D(5), None, 10), (D(5), 10, None)],
)
def test_cost_per_1m_tokens_is_none_without_tokens_or_cost(
    cost: Decimal | None, input_tokens: int | None, output_tokens: int | None
) -> None:
    assert (
        cost_per_1m_tokens(cost=cost, input_tokens=input_tokens, output_tokens=output_tokens)
        is None
    )


def test_zero_cost_over_tokens_is_a_real_zero() -> None:
    assert cost_per_1m_tokens(cost=D(0), input_tokens=1, output_tokens=1) == 0


def test_token_weight_split_makes_an_output_token_weigh_two_and_a_half() -> None:
    # 1M input + 2.5 × 2M output = 6M input-equivalents; 60 / 6 = 10 per 1M input.
    split = split_cost(cost=D(60), input_tokens=1_000_000, output_tokens=2_000_000)
    assert split.method == "token_weight"
    assert split.input_cost == 10
    assert split.output_cost == 50
    assert split.cost_per_1m_input_tokens == 10
    assert split.cost_per_1m_output_tokens == 25


def test_token_weight_split_uses_the_cost_models_weight() -> None:
    split = split_cost(
        cost=D(40), input_tokens=1_000_000, output_tokens=1_000_000, output_token_weight=D(3)
    )
    assert (split.cost_per_1m_input_tokens, split.cost_per_1m_output_tokens) == (D(10), D(30))


def test_time_share_split_when_prefill_and_decode_times_are_known() -> None:
    split = split_cost(
        cost=D(100),
        input_tokens=1_000_000,
        output_tokens=4_000_000,
        prefill_seconds=20.0,
        decode_seconds=80.0,
    )
    assert split.method == "time_share"
    assert (split.input_cost, split.output_cost) == (D(20), D(80))
    assert (split.cost_per_1m_input_tokens, split.cost_per_1m_output_tokens) == (D(20), D(20))


@pytest.mark.parametrize(
    ("prefill", "decode"), [(20.0, None), (None, 80.0), (0.0, 0.0), (None, None)]
)
def test_falls_back_to_token_weight_without_both_time_shares(
    prefill: float | None, decode: float | None
) -> None:
    split = split_cost(
        cost=D(60),
        input_tokens=1_000_000,
        output_tokens=2_000_000,
        prefill_seconds=prefill,
        decode_seconds=decode,
    )
    assert split.method == "token_weight"
    assert split.cost_per_1m_input_tokens == 10


def test_split_halves_add_up_to_the_cost_exactly() -> None:
    split = split_cost(cost=D("100.01"), input_tokens=7, output_tokens=13)
    assert split.input_cost is not None and split.output_cost is not None
    with localcontext(EXACT_CONTEXT):
        assert split.input_cost + split.output_cost == D("100.01")


def test_split_without_input_tokens_has_no_input_price() -> None:
    split = split_cost(cost=D(25), input_tokens=0, output_tokens=1_000_000)
    assert split.input_cost == 0
    assert split.cost_per_1m_input_tokens is None
    assert split.cost_per_1m_output_tokens == 25


def test_time_share_without_tokens_splits_cost_but_prices_nothing() -> None:
    split = split_cost(
        cost=D(10), input_tokens=None, output_tokens=None, prefill_seconds=1, decode_seconds=1
    )
    assert split.method == "time_share"
    assert split.input_cost == 5
    assert split.cost_per_1m_input_tokens is None
    assert split.cost_per_1m_output_tokens is None


@pytest.mark.parametrize(
    ("cost", "input_tokens", "output_tokens"), [(None, 1, 1), (D(1), 0, 0), (D(1), None, 5)]
)
def test_split_is_all_none_when_nothing_can_be_split(
    cost: Decimal | None, input_tokens: int | None, output_tokens: int | None
) -> None:
    split = split_cost(cost=cost, input_tokens=input_tokens, output_tokens=output_tokens)
    assert split.method is None
    assert split.input_cost is None
    assert split.cost_per_1m_input_tokens is None
    assert split.cost_per_1m_output_tokens is None


def test_split_rejects_a_weight_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="output_token_weight"):
        split_cost(cost=D(1), input_tokens=1, output_tokens=1, output_token_weight=D(0))


def test_cost_per_inference_divides_by_requests() -> None:
    assert cost_per_inference(cost=D(10), requests=4) == D("2.5")
    assert cost_per_inference(cost=D(10), requests=4.0) == D("2.5")
    assert cost_per_inference(cost=D(10), requests=0) is None
    assert cost_per_inference(cost=None, requests=4) is None


def test_joules_per_token_divides_energy_by_all_tokens() -> None:
    assert joules_per_token(energy_joules=1000.0, input_tokens=100, output_tokens=300) == D("2.5")
    assert joules_per_token(energy_joules=None, input_tokens=1, output_tokens=1) is None
    assert joules_per_token(energy_joules=5, input_tokens=0, output_tokens=0) is None


def test_a_float_enters_by_its_shortest_repr() -> None:
    assert joules_per_token(energy_joules=0.1, input_tokens=1, output_tokens=0) == D("0.1")


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError, match="cost"):
        cost_per_1m_tokens(cost=1.0, input_tokens=1, output_tokens=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, True])
def test_rejects_quantities_that_are_not_finite_non_negative_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="requests"):
        cost_per_inference(cost=D(1), requests=bad)


def test_per_million_figures_keep_forty_significant_digits() -> None:
    figure = cost_per_1m_tokens(cost=D(1), input_tokens=3, output_tokens=0)
    assert figure is not None
    assert len(figure.as_tuple().digits) == 40
    assert abs(Fraction(figure) - Fraction(10**6, 3)) < Fraction(1, 10**33)


# ------------------------------------------------------------------- goodput


def test_fraction_within_interpolates_inside_the_bucket() -> None:
    # 10 below 0.1, then 50 spread over (0.1, 0.5]: 0.3 is halfway.
    assert fraction_within(0.3, DOC_BUCKETS) == pytest.approx(0.35)
    assert fraction_within(0.05, DOC_BUCKETS) == pytest.approx(0.05)  # first bucket from 0
    assert fraction_within(0.1, DOC_BUCKETS) == pytest.approx(0.10)
    assert fraction_within(0.75, DOC_BUCKETS) == pytest.approx(0.75)


def test_objective_at_or_beyond_the_highest_finite_bound_counts_up_to_it() -> None:
    assert fraction_within(1.0, DOC_BUCKETS) == pytest.approx(0.9)
    assert fraction_within(60.0, DOC_BUCKETS) == pytest.approx(0.9)


def test_objective_at_or_below_zero_has_nothing_within() -> None:
    assert fraction_within(0.0, DOC_BUCKETS) == 0.0
    assert fraction_within(-1.0, DOC_BUCKETS) == 0.0


def test_non_positive_first_bound_holds_its_observations_at_that_bound() -> None:
    buckets = {-1.0: 5.0, 0.0: 8.0, INF: 10.0}
    assert fraction_within(-2.0, buckets) == 0.0
    assert fraction_within(-1.0, buckets) == pytest.approx(0.5)
    assert fraction_within(-0.5, buckets) == pytest.approx(0.65)
    assert fraction_within(0.0, buckets) == pytest.approx(0.8)


def test_counts_that_dip_are_forced_monotonic() -> None:
    assert fraction_within(1.5, {1.0: 10.0, 2.0: 8.0, INF: 10.0}) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "buckets",
    [{1.0: 3.0, 2.0: 4.0}, {INF: 4.0}, {1.0: 0.0, INF: 0.0}, {}, {1.0: math.nan, INF: 3.0}],
)
def test_fraction_within_is_none_when_the_histogram_cannot_say(buckets: dict[float, float]) -> None:
    assert fraction_within(0.5, buckets) is None


def test_fraction_within_is_none_for_a_nan_objective() -> None:
    assert fraction_within(math.nan, DOC_BUCKETS) is None


# Bounds on a millisecond grid: adjacent floats as bounds would test float
# rounding, not the interpolation.
bucket_lists = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10**6).map(lambda ms: ms / 1000),
        st.floats(min_value=0.5, max_value=1e6, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda pair: pair[0],
)


@settings(max_examples=300, deadline=None)
@given(
    pairs=bucket_lists,
    overflow=st.floats(min_value=0, max_value=1e6),
    q=st.floats(min_value=0.001, max_value=1.0),
)
def test_fraction_within_inverts_histogram_quantile(
    pairs: list[tuple[float, float]], overflow: float, q: float
) -> None:
    buckets: dict[float, float] = {}
    running = 0.0
    for bound, increment in sorted(pairs):
        running += increment  # every bucket holds observations: invertible
        buckets[bound] = running
    buckets[INF] = running + overflow
    within_finite = running / buckets[INF]
    q = q * within_finite  # ranks in the +Inf bucket have no latency to invert
    latency = histogram_quantile(q, buckets)
    fraction = fraction_within(latency, buckets)
    assert fraction == pytest.approx(q, rel=1e-9, abs=1e-12)


def test_cost_per_1m_goodput_tokens_counts_only_tokens_within_the_objective() -> None:
    figure = cost_per_1m_goodput_tokens(
        cost=D(90), input_tokens=1_000_000, output_tokens=2_000_000, goodput_fraction=0.75
    )
    assert figure == 40


@pytest.mark.parametrize("fraction", [0.0, None])
def test_cost_per_1m_goodput_tokens_is_none_when_nothing_met_the_objective(
    fraction: float | None,
) -> None:
    figure = cost_per_1m_goodput_tokens(
        cost=D(90), input_tokens=1, output_tokens=1, goodput_fraction=fraction
    )
    assert figure is None


def test_goodput_fraction_above_one_is_refused() -> None:
    with pytest.raises(ValueError, match="goodput_fraction"):
        cost_per_1m_goodput_tokens(cost=D(1), input_tokens=1, output_tokens=1, goodput_fraction=1.5)


def test_goodput_from_the_histogram_end_to_end() -> None:
    fraction = fraction_within(0.3, DOC_BUCKETS)
    figure = cost_per_1m_goodput_tokens(
        cost=D(35), input_tokens=0, output_tokens=1_000_000, goodput_fraction=fraction
    )
    assert figure is not None
    assert abs(figure - D(100)) < D("1e-9")


# ---------------------------------------------------------------- break-even


def test_break_even_curve_has_twenty_points_from_five_to_one_hundred_percent() -> None:
    assert BREAK_EVEN_UTILIZATIONS[0] == D("0.05")
    assert BREAK_EVEN_UTILIZATIONS[-1] == 1
    assert len(BREAK_EVEN_UTILIZATIONS) == 20
    steps = {b - a for a, b in itertools.pairwise(BREAK_EVEN_UTILIZATIONS)}
    assert steps == {D("0.05")}


def test_break_even_cost_is_hourly_cost_over_tokens_an_hour_at_that_utilization() -> None:
    # 36 an hour; 1,000 tokens/s = 3.6M tokens an hour at full utilization.
    curve = break_even_curve(
        average_hourly_cost=D(36), capacity_tokens_per_second=1000, measured_utilization=D("0.5")
    )
    assert curve is not None
    figures = {point.utilization: point.cost_per_1m_tokens for point in curve.points}
    assert figures[D(1)] == 10
    assert figures[D("0.5")] == 20
    assert figures[D("0.05")] == 200
    assert figures[D("0.25")] == 40
    values = [point.cost_per_1m_tokens for point in curve.points]
    assert values == sorted(values, reverse=True)
    assert curve.operating_point is not None
    assert curve.operating_point.utilization == D("0.5")
    assert curve.operating_point.cost_per_1m_tokens == 20


def test_operating_point_matches_measured_cost_when_utilization_is_not_capped() -> None:
    # A 30-day month at 40 % of 2,000 tokens/s.
    hours = 30 * 24
    cost = D("25920")
    tokens = 2000 * 3600 * hours * Fraction(2, 5)
    measured = cost_per_1m_tokens(cost=cost, input_tokens=int(tokens), output_tokens=0)
    hourly = average_hourly_cost(cost=cost, hours=hours)
    curve = break_even_curve(
        average_hourly_cost=hourly, capacity_tokens_per_second=2000, measured_utilization=D("0.4")
    )
    assert curve is not None and curve.operating_point is not None
    assert curve.operating_point.cost_per_1m_tokens == measured == D("12.5")


@pytest.mark.parametrize("measured", [None, D(0)])
def test_no_operating_point_without_a_measured_utilization(measured: Decimal | None) -> None:
    curve = break_even_curve(
        average_hourly_cost=D(1), capacity_tokens_per_second=1, measured_utilization=measured
    )
    assert curve is not None
    assert curve.operating_point is None
    assert len(curve.points) == 20


def test_no_curve_without_capacity_or_cost() -> None:
    assert break_even_curve(average_hourly_cost=D(1), capacity_tokens_per_second=None) is None
    assert break_even_curve(average_hourly_cost=None, capacity_tokens_per_second=10) is None


def test_cost_at_utilization_rejects_out_of_range_inputs() -> None:
    with pytest.raises(ValueError, match="utilization"):
        cost_at_utilization(
            average_hourly_cost=D(1), capacity_tokens_per_second=1, utilization=D("1.5")
        )
    with pytest.raises(ValueError, match="capacity_tokens_per_second"):
        cost_at_utilization(
            average_hourly_cost=D(1), capacity_tokens_per_second=0, utilization=D("0.5")
        )


def test_average_hourly_cost_is_none_without_hours() -> None:
    assert average_hourly_cost(cost=D(720), hours=720) == 1
    assert average_hourly_cost(cost=D(720), hours=0) is None
    assert average_hourly_cost(cost=None, hours=720) is None
