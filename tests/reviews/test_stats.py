"""Evidence statistics (issue 11, section 3) on known synthetic data.

Histograms are built from lognormal samples with fixed seeds, bucketed into
vLLM-like bounds, one dict of cumulative counts per hourly slice.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from metrics.quantile import histogram_quantile, merge_buckets
from reviews.stats import (
    CriterionResult,
    QuantileCache,
    RateSlice,
    WeightedVerdict,
    block_bootstrap_rate_ratio_ci,
    block_bootstrap_ratio_ci,
    block_bootstrap_value_ci,
    bootstrap_quantiles,
    judge_error_rate,
    judge_quantile,
    judge_summary,
    judge_throughput,
    min_requests_for_quantile,
    overall_verdict,
    quantile_over,
    rate_over,
    red_flags,
    requests_in,
    resample_indices,
    risk_ratio,
    slices_with_data,
    two_proportion_z_test,
    verdict_for,
    wilson_interval,
)

INF = math.inf
# vLLM's TTFT and e2e bounds, merged: fine below a second, coarse above.
BOUNDS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3,
    0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, INF,
)  # fmt: skip
MEDIAN = 0.1  # seconds; p99 of the baseline ≈ 0.32 s
SIGMA = 0.5


def hourly_slices(
    seed: int, hours: int, per_hour: int, *, scale: float = 1.0
) -> list[dict[float, float]]:
    """``hours`` hourly slices of ``per_hour`` lognormal latencies each
    (``scale`` multiplies every latency), as cumulative bucket counts."""
    rng = np.random.default_rng(seed)
    edges = np.array(BOUNDS)
    slices = []
    for _ in range(hours):
        latencies = np.sort(rng.lognormal(math.log(MEDIAN * scale), SIGMA, per_hour))
        cumulative = np.searchsorted(latencies, edges, side="right").astype(float)
        slices.append(dict(zip(BOUNDS, cumulative.tolist(), strict=True)))
    return slices


@pytest.fixture(scope="module")
def baseline() -> list[dict[float, float]]:
    return hourly_slices(1, hours=168, per_hour=300)


@pytest.fixture(scope="module")
def worse_candidate() -> list[dict[float, float]]:
    return hourly_slices(2, hours=168, per_hour=300, scale=1.10)


@pytest.fixture(scope="module")
def equal_candidate() -> list[dict[float, float]]:
    return hourly_slices(3, hours=168, per_hour=300)


def p99_ratio(candidate, baseline, *, threshold=1.05, seed=11, **kwargs) -> CriterionResult:
    return judge_quantile(
        metric="e2e_latency_p99",
        q=0.99,
        comparison="relative",
        direction="at_most",
        threshold=threshold,
        candidate_slices=candidate,
        baseline_slices=baseline,
        seed=seed,
        **kwargs,
    )


# --------------------------------------------------------------------------
# Small rules
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "need"),
    [(0.99, 1_000), (0.999, 10_000), (0.95, 200), (0.5, 20), (0.9, 100), (0.97, 334), (0.0, 10)],
)
def test_min_requests_is_exact_for_decimal_quantiles(q, need):
    assert min_requests_for_quantile(q) == need


@pytest.mark.parametrize("q", [1.0, -0.1, 1.5])
def test_min_requests_rejects_quantiles_outside_zero_one(q):
    with pytest.raises(ValueError, match="quantile"):
        min_requests_for_quantile(q)


@pytest.mark.parametrize(
    ("direction", "low", "high", "verdict"),
    [
        ("at_most", 0.90, 1.00, "pass"),
        ("at_most", 0.90, 1.05, "pass"),  # upper bound on the threshold passes
        ("at_most", 1.00, 1.10, "marginal"),
        ("at_most", 1.05, 1.10, "marginal"),  # lower bound on the threshold is not above it
        ("at_most", 1.06, 1.10, "fail"),
        ("at_least", 1.05, 1.20, "pass"),  # lower bound on the threshold passes
        ("at_least", 1.00, 1.10, "marginal"),
        ("at_least", 0.90, 1.05, "marginal"),
        ("at_least", 0.90, 1.04, "fail"),
    ],
)
def test_verdict_from_interval(direction, low, high, verdict):
    assert verdict_for(direction, 1.05, low, high) == verdict


def test_point_value_never_marginal():
    assert verdict_for("at_most", 1.0, 1.0, 1.0) == "pass"
    assert verdict_for("at_most", 1.0, 1.0000001, 1.0000001) == "fail"
    assert verdict_for("at_least", 1.0, 1.0, 1.0) == "pass"
    assert verdict_for("at_least", 1.0, 0.9999999, 0.9999999) == "fail"


# --------------------------------------------------------------------------
# Latency quantiles on known data
# --------------------------------------------------------------------------


def test_candidate_p99_ten_percent_worse_fails(worse_candidate, baseline):
    result = p99_ratio(worse_candidate, baseline)

    assert result.verdict == "fail"
    assert result.ratio == pytest.approx(1.10, abs=0.03)
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ratio is not None
    assert 1.05 < result.ci_low <= result.ratio <= result.ci_high
    assert result.candidate == quantile_over(worse_candidate, 0.99)
    assert result.baseline == quantile_over(baseline, 0.99)
    assert result.candidate_n == result.baseline_n == 168 * 300


def test_equal_distributions_pass(equal_candidate, baseline):
    result = p99_ratio(equal_candidate, baseline)

    assert result.verdict == "pass"
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 1.0 < result.ci_high <= 1.05


def test_ratio_is_candidate_over_baseline_from_merged_buckets(worse_candidate, baseline):
    result = p99_ratio(worse_candidate, baseline)

    assert result.ratio == (
        histogram_quantile(0.99, merge_buckets(worse_candidate))
        / histogram_quantile(0.99, merge_buckets(baseline))
    )


def test_two_hundred_requests_is_insufficient_data(baseline):
    few = hourly_slices(4, hours=10, per_hour=20)

    result = p99_ratio(few, baseline, threshold=100.0)  # even a threshold nobody fails

    assert result.verdict == "insufficient_data"
    assert result.candidate_n == 200
    assert result.ci_low is None and result.ci_high is None
    assert "candidate has 200 requests, p99 needs ≥ 1000" in result.reason


def test_p999_needs_ten_thousand_requests(baseline):
    just_under = hourly_slices(5, hours=10, per_hour=999)
    enough = hourly_slices(5, hours=10, per_hour=1000)

    def p999(candidate):
        return judge_quantile(
            metric="e2e_latency_p999",
            q=0.999,
            comparison="relative",
            direction="at_most",
            threshold=100.0,
            candidate_slices=candidate,
            baseline_slices=baseline,
            seed=1,
        )

    assert p999(just_under).verdict == "insufficient_data"
    assert "p99.9 needs ≥ 10000" in p999(just_under).reason
    assert p999(enough).verdict != "insufficient_data"


def test_p99_with_exactly_one_thousand_requests_is_judged(baseline):
    exactly = hourly_slices(6, hours=10, per_hour=100)

    assert requests_in(exactly) == 1000
    assert p99_ratio(exactly, baseline, threshold=100.0).verdict == "pass"


def test_fewer_than_six_slices_with_data_is_insufficient(baseline):
    five = hourly_slices(7, hours=5, per_hour=2000)
    six = hourly_slices(7, hours=6, per_hour=2000)

    result = p99_ratio(five, baseline, threshold=100.0)

    assert result.verdict == "insufficient_data"
    assert "candidate has 5 hourly slices with data, needs ≥ 6" in result.reason
    assert p99_ratio(six, baseline, threshold=100.0).verdict == "pass"


def test_empty_slices_do_not_count_towards_the_six(baseline):
    empty = dict.fromkeys(BOUNDS, 0.0)
    five_and_empties = [*hourly_slices(8, hours=5, per_hour=2000), empty, empty, empty]

    assert slices_with_data(five_and_empties) == 5
    assert p99_ratio(five_and_empties, baseline, threshold=100.0).verdict == "insufficient_data"


def test_relative_criterion_needs_enough_baseline_too(worse_candidate):
    thin_baseline = hourly_slices(9, hours=10, per_hour=20)

    result = p99_ratio(worse_candidate, thin_baseline, threshold=100.0)

    assert result.verdict == "insufficient_data"
    assert "baseline has 200 requests" in result.reason
    assert "candidate" not in result.reason


def test_absolute_criterion_judges_the_candidate_value(equal_candidate):
    thin_baseline = hourly_slices(9, hours=10, per_hour=20)

    def p99_at_most(seconds):
        return judge_quantile(
            metric="e2e_latency_p99",
            q=0.99,
            comparison="absolute",
            direction="at_most",
            threshold=seconds,
            candidate_slices=equal_candidate,
            baseline_slices=thin_baseline,  # reported, not judged
            seed=3,
        )

    lenient, strict = p99_at_most(0.5), p99_at_most(0.2)
    value = quantile_over(equal_candidate, 0.99)

    assert lenient.verdict == "pass" and strict.verdict == "fail"
    assert lenient.ratio is None
    assert lenient.candidate == value
    assert lenient.baseline == quantile_over(thin_baseline, 0.99)
    assert lenient.ci_low is not None and lenient.ci_high is not None
    assert lenient.ci_low <= value <= lenient.ci_high
    assert (lenient.ci_low, lenient.ci_high) == block_bootstrap_value_ci(
        equal_candidate, 0.99, seed=3
    )


def test_at_least_mirrors_at_most(worse_candidate, baseline):
    result = judge_quantile(
        metric="e2e_latency_p99",
        q=0.99,
        comparison="relative",
        direction="at_least",
        threshold=1.05,
        candidate_slices=worse_candidate,
        baseline_slices=baseline,
        seed=11,
    )
    assert result.verdict == "pass"


def test_same_seed_reproduces_identical_intervals(worse_candidate, baseline):
    first = block_bootstrap_ratio_ci(worse_candidate, baseline, 0.99, seed=2026)
    again = block_bootstrap_ratio_ci(worse_candidate, baseline, 0.99, seed=2026)
    other = block_bootstrap_ratio_ci(worse_candidate, baseline, 0.99, seed=2027)

    assert first == again
    assert first != other
    assert p99_ratio(worse_candidate, baseline, seed=5) == p99_ratio(
        worse_candidate, baseline, seed=5
    )


def test_shared_cache_gives_exactly_the_uncached_results(worse_candidate, baseline):
    # Layout change in some hours and hours without data, as real windows have.
    gappy = [
        {le: c for le, c in part.items() if not (i % 5 == 2 and le == 0.15)}
        for i, part in enumerate(worse_candidate)
    ]
    gappy[7] = dict.fromkeys(BOUNDS, 0.0)
    cache = QuantileCache()
    for candidate in (worse_candidate, gappy):
        for q in (0.5, 0.95, 0.99, 0.999):
            for comparison in ("relative", "absolute"):
                for seed, block_length in ((2026, 1), (2026, 3), (7, 1)):
                    kwargs = {
                        "metric": "e2e",
                        "q": q,
                        "comparison": comparison,
                        "direction": "at_most",
                        "threshold": 1.05 if comparison == "relative" else 0.3,
                        "candidate_slices": candidate,
                        "baseline_slices": baseline,
                        "seed": seed,
                        "block_length": block_length,
                        "resamples": 200,
                    }
                    assert judge_quantile(**kwargs, cache=cache) == judge_quantile(**kwargs)


def test_cache_tells_equal_looking_slices_apart(baseline):
    cache = QuantileCache()
    shifted = [{le: c * 2 for le, c in part.items()} for part in baseline]
    first = cache.histograms(baseline)
    assert cache.histograms(baseline) is first
    assert cache.histograms(shifted) is not first
    assert cache.merged(shifted) == merge_buckets(shifted) != cache.merged(baseline)


def test_method_names_the_seed_and_resamples(worse_candidate, baseline):
    result = p99_ratio(worse_candidate, baseline, seed=42, resamples=1500)

    assert "seed 42" in result.method
    assert "1500 resamples" in result.method
    assert "hourly slices" in result.method


def test_result_is_json_with_the_api_field_names(worse_candidate, baseline):
    result = p99_ratio(worse_candidate, baseline)

    assert [f.name for f in fields(CriterionResult)] == [
        "metric", "comparison", "direction", "threshold", "candidate", "baseline", "ratio",
        "ci_low", "ci_high", "candidate_n", "baseline_n", "method", "verdict", "reason",
    ]  # fmt: skip
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False)) == result.to_dict()
    assert isinstance(result.to_dict()["candidate_n"], int)


def test_missing_baseline_data_gives_none_not_nan():
    candidate = hourly_slices(10, hours=8, per_hour=500)

    result = p99_ratio(candidate, [])

    assert result.verdict == "insufficient_data"
    assert result.baseline is None and result.ratio is None
    json.dumps(result.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------
# The vectorised bootstrap is histogram_quantile on each resample
# --------------------------------------------------------------------------


def test_bootstrap_replicates_equal_the_scalar_function(worse_candidate):
    rng = np.random.default_rng(99)
    indices = resample_indices(rng, len(worse_candidate), 50)

    replicates = bootstrap_quantiles(worse_candidate, 0.99, indices)

    for row in (0, 1, 17, 49):
        resample = merge_buckets(worse_candidate[i] for i in indices[row])
        assert replicates[row] == histogram_quantile(0.99, resample)


def test_value_ci_is_the_percentile_interval_of_those_replicates(worse_candidate):
    rng = np.random.default_rng(123)
    indices = resample_indices(rng, len(worse_candidate), 1000)
    replicates = [
        histogram_quantile(0.99, merge_buckets(worse_candidate[i] for i in row))
        for row in indices[:5]
    ]
    vectorised = bootstrap_quantiles(worse_candidate, 0.99, indices)

    assert list(vectorised[:5]) == replicates
    assert block_bootstrap_value_ci(worse_candidate, 0.99, seed=123) == tuple(
        np.quantile(vectorised, [0.025, 0.975])
    )


def test_ratio_ci_draws_candidate_then_baseline_from_one_generator(worse_candidate, baseline):
    rng = np.random.default_rng(7)
    candidate_rows = resample_indices(rng, len(worse_candidate), 1000)
    baseline_rows = resample_indices(rng, len(baseline), 1000)
    ratios = bootstrap_quantiles(worse_candidate, 0.99, candidate_rows) / bootstrap_quantiles(
        baseline, 0.99, baseline_rows
    )

    assert block_bootstrap_ratio_ci(worse_candidate, baseline, 0.99, seed=7) == tuple(
        np.quantile(ratios, [0.025, 0.975])
    )


EDGE_SLICES = [
    {0.1: 5.0, 0.5: 4.0, 1.0: 9.0, INF: 9.0},  # decreasing count: monotonic fix
    {0.1: 0.0, 0.5: 0.0, 1.0: 0.0, INF: 6.0},  # everything in +Inf
    {0.1: 0.0, 0.5: 0.0, 1.0: 0.0, INF: 0.0},  # no observation
    {0.1: 2.0, 1.0: 3.0, INF: 3.0},  # a bucket missing
    {0.1: 1.0, 0.5: 1.0 + 1e-13, 1.0: 1.0, INF: 1.0},  # within float tolerance
    {0.0: 3.0, 0.1: 3.0, INF: 4.0},  # first bound not positive
]


# Each a one-resample index array; most lack a bound some other slice has (0.0, 0.5).
EDGE_RESAMPLES = [
    [[0]], [[1]], [[2]], [[0, 1]], [[3, 3, 0]], [[4]], [[5]], [[5, 0]], [[2, 2]], [[0, 2, 4]],
    [[3]], [[3, 1]], [[1, 2]],
]  # fmt: skip


@pytest.mark.parametrize("q", [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0, -0.5, 1.5, math.nan])
@pytest.mark.parametrize("rows", EDGE_RESAMPLES)
def test_edge_semantics_match_histogram_quantile(q, rows):
    indices = np.array(rows, dtype=np.int64)

    got = bootstrap_quantiles(EDGE_SLICES, q, indices)

    expected = histogram_quantile(q, merge_buckets(EDGE_SLICES[i] for i in rows[0]))
    assert got[0] == expected or (math.isnan(got[0]) and math.isnan(expected))


def test_mixed_bucket_layouts_match_the_scalar_function_on_every_resample():
    old_layout = hourly_slices(30, hours=12, per_hour=200)
    new_layout = [
        {le: count for le, count in part.items() if le not in (0.15, 0.3, 0.4)}
        for part in hourly_slices(31, hours=12, per_hour=200)
    ]
    slices = old_layout + new_layout
    indices = resample_indices(np.random.default_rng(2), len(slices), 200)

    got = bootstrap_quantiles(slices, 0.9, indices)

    for row, value in zip(indices, got, strict=True):
        assert value == histogram_quantile(0.9, merge_buckets(slices[i] for i in row))


def test_no_inf_bucket_gives_nan_like_the_scalar_function():
    slices = [{0.1: 1.0, 0.5: 2.0}]
    indices = np.zeros((1, 1), dtype=np.int64)

    assert math.isnan(bootstrap_quantiles(slices, 0.5, indices)[0])
    assert math.isnan(histogram_quantile(0.5, slices[0]))


histogram = st.lists(st.integers(0, 50), min_size=1, max_size=6).map(
    lambda increments: np.cumsum(increments).tolist()
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(histogram.map(lambda counts: counts + [0] * (6 - len(counts))), min_size=1),
    q=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_property_bootstrap_matches_scalar_on_random_histograms(data, q, seed):
    bounds = (0.05, 0.1, 0.5, 1.0, 5.0, INF)
    # Counts as drawn, not forced monotonic: the padding zeros decrease.
    slices = [dict(zip(bounds, map(float, counts), strict=True)) for counts in data]
    indices = resample_indices(np.random.default_rng(seed), len(slices), 3)

    got = bootstrap_quantiles(slices, q, indices)

    for row, value in zip(indices, got, strict=True):
        expected = histogram_quantile(q, merge_buckets(slices[i] for i in row))
        assert value == expected or (math.isnan(value) and math.isnan(expected))


def test_fractional_counts_match_up_to_summation_order():
    rng = np.random.default_rng(5)
    slices = [
        dict(zip(BOUNDS, np.cumsum(rng.random(len(BOUNDS)) * 3.7).tolist(), strict=True))
        for _ in range(40)
    ]
    indices = resample_indices(rng, len(slices), 20)

    got = bootstrap_quantiles(slices, 0.95, indices)

    expected = [histogram_quantile(0.95, merge_buckets(slices[i] for i in row)) for row in indices]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_moving_blocks_are_consecutive_slices():
    rng = np.random.default_rng(1)

    rows = resample_indices(rng, 10, 200, block_length=3)

    assert rows.shape == (200, 10)
    assert rows.min() >= 0 and rows.max() <= 9
    for row in rows:
        for start in range(0, 9, 3):
            block = row[start : start + 3]
            assert list(np.diff(block)) == [1] * (len(block) - 1)


def test_block_length_one_is_the_plain_slice_bootstrap(worse_candidate, baseline):
    assert block_bootstrap_ratio_ci(
        worse_candidate, baseline, 0.99, seed=3, block_length=1
    ) == block_bootstrap_ratio_ci(worse_candidate, baseline, 0.99, seed=3)


def test_moving_block_bootstrap_judges_too(worse_candidate, baseline):
    result = p99_ratio(worse_candidate, baseline, block_length=24)

    assert result.verdict == "fail"
    assert "moving blocks of 24 hours" in result.method


@pytest.mark.parametrize("block_length", [0, 11])
def test_block_length_must_fit(block_length):
    with pytest.raises(ValueError, match="block_length"):
        resample_indices(np.random.default_rng(1), 10, 5, block_length=block_length)


def test_ci_without_data_raises():
    with pytest.raises(ValueError, match="no slice with data"):
        block_bootstrap_value_ci([dict.fromkeys(BOUNDS, 0.0)], 0.99, seed=1)


def test_bootstrap_over_six_weeks_is_fast():
    candidate = hourly_slices(20, hours=1008, per_hour=50)
    base = hourly_slices(21, hours=1008, per_hour=50)
    block_bootstrap_ratio_ci(candidate, base, 0.99, seed=1)  # warm up

    started = time.perf_counter()
    block_bootstrap_ratio_ci(candidate, base, 0.99, seed=1)
    elapsed = time.perf_counter() - started

    # Typically ~0.03 s; the bound only catches a lost vectorisation.
    assert elapsed < 0.5


# --------------------------------------------------------------------------
# Error rate
# --------------------------------------------------------------------------


def test_one_percent_errors_against_a_tenth_of_a_percent_fails():
    result = judge_error_rate(
        comparison="absolute",
        direction="at_most",
        threshold=0.001,
        candidate_errors=100,
        candidate_requests=10_000,
    )

    assert result.verdict == "fail"
    assert result.candidate == 0.01
    assert result.ci_low is not None and result.ci_low > 0.001
    assert "Wilson" in result.method


def test_small_error_rate_under_the_threshold_passes():
    result = judge_error_rate(
        comparison="absolute",
        direction="at_most",
        threshold=0.01,
        candidate_errors=20,
        candidate_requests=10_000,
    )
    assert result.verdict == "pass"


@pytest.mark.parametrize(("errors", "requests"), [(100, 10_000), (1, 7), (0, 50), (50, 50)])
def test_wilson_matches_scipy(errors, requests):
    expected = scipy_stats.binomtest(errors, requests).proportion_ci(0.95, method="wilson")

    low, high = wilson_interval(errors, requests)

    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_at_zero_errors():
    z = scipy_stats.norm.ppf(0.975)

    low, high = wilson_interval(0, 1000)

    assert low == 0.0
    assert high == pytest.approx(z * z / (1000 + z * z))


@pytest.mark.parametrize(("a", "n1", "c", "n2"), [(30, 10_000, 20, 10_000), (5, 400, 9, 2000)])
def test_katz_interval_matches_scipy(a, n1, c, n2):
    expected = scipy_stats.contingency.relative_risk(a, n1, c, n2)
    ci = expected.confidence_interval(0.95)

    rr = risk_ratio(a, n1, c, n2)

    assert not rr.continuity_corrected
    assert rr.ratio == pytest.approx(expected.relative_risk)
    assert rr.low == pytest.approx(ci.low)
    assert rr.high == pytest.approx(ci.high)


def test_zero_errors_use_the_half_per_cell_correction():
    rr = risk_ratio(0, 10_000, 4, 10_000)

    assert rr.continuity_corrected
    assert rr.ratio == pytest.approx((0.5 / 10_001) / (4.5 / 10_001))
    assert 0 < rr.low < rr.ratio < rr.high


def test_relative_error_rate_three_times_worse_fails():
    result = judge_error_rate(
        comparison="relative",
        direction="at_most",
        threshold=1.5,
        candidate_errors=300,
        candidate_requests=100_000,
        baseline_errors=100,
        baseline_requests=100_000,
    )

    assert result.verdict == "fail"
    assert result.ratio == pytest.approx(3.0)
    assert result.candidate == 0.003 and result.baseline == 0.001
    assert "p = " in result.reason


def test_relative_error_rate_with_no_errors_on_either_side_is_marginal():
    result = judge_error_rate(
        comparison="relative",
        direction="at_most",
        threshold=1.05,
        candidate_errors=0,
        candidate_requests=10_000,
        baseline_errors=0,
        baseline_requests=10_000,
    )

    assert result.verdict == "marginal"
    assert "+0.5 per cell" in result.method
    assert result.ratio == pytest.approx(1.0)


def test_error_rate_without_requests_is_insufficient():
    result = judge_error_rate(
        comparison="relative",
        direction="at_most",
        threshold=1.05,
        candidate_errors=0,
        candidate_requests=0,
        baseline_errors=0,
        baseline_requests=100,
    )
    assert result.verdict == "insufficient_data"


def test_two_proportion_z_test():
    z, p = two_proportion_z_test(300, 100_000, 100, 100_000)

    pooled = 400 / 200_000
    expected_z = 0.002 / math.sqrt(pooled * (1 - pooled) * 2 / 100_000)
    assert z == pytest.approx(expected_z)
    assert p == pytest.approx(2 * scipy_stats.norm.sf(expected_z))
    assert two_proportion_z_test(0, 10, 0, 10) == (0.0, 1.0)


# --------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------


def rate_slices(seed: int, hours: int, tokens_per_second: float) -> list[RateSlice]:
    rng = np.random.default_rng(seed)
    return [
        RateSlice(amount=float(rng.poisson(tokens_per_second * 3600)), seconds=3600.0)
        for _ in range(hours)
    ]


def tokens_per_second(candidate, baseline, *, threshold=0.95, direction="at_least"):
    return judge_throughput(
        metric="tokens_per_second",
        comparison="relative",
        direction=direction,
        threshold=threshold,
        candidate_slices=candidate,
        baseline_slices=baseline,
        seed=4,
    )


def test_rate_over_is_total_amount_over_total_seconds():
    slices = [RateSlice(100, 10), RateSlice(50, 40), RateSlice(7, 0)]

    assert rate_over(slices) == 150 / 50


def test_equal_throughput_passes_and_half_fails():
    base = rate_slices(1, 48, 1000)

    assert tokens_per_second(rate_slices(2, 48, 1000), base).verdict == "pass"
    assert tokens_per_second(rate_slices(3, 48, 500), base).verdict == "fail"


def test_throughput_ratio_and_interval():
    base, cand = rate_slices(1, 48, 1000), rate_slices(2, 48, 1200)

    result = tokens_per_second(cand, base)

    assert result.ratio == pytest.approx(rate_over(cand) / rate_over(base))
    assert (result.ci_low, result.ci_high) == block_bootstrap_rate_ratio_ci(cand, base, seed=4)
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < result.ratio < result.ci_high
    assert result.candidate_n == result.baseline_n == 48


def test_throughput_needs_six_observed_slices():
    base = rate_slices(1, 48, 1000)
    five = [*rate_slices(2, 5, 1000), RateSlice(0.0, 0.0)]

    result = tokens_per_second(five, base)

    assert result.verdict == "insufficient_data"
    assert "candidate has 5 hourly slices with data" in result.reason


def test_absolute_throughput():
    result = judge_throughput(
        metric="tokens_per_second",
        comparison="absolute",
        direction="at_least",
        threshold=900.0,
        candidate_slices=rate_slices(2, 48, 1000),
        baseline_slices=[],
        seed=4,
    )

    assert result.verdict == "pass"
    assert result.ratio is None
    assert result.baseline is None


# --------------------------------------------------------------------------
# Figures from the summary
# --------------------------------------------------------------------------


def test_summary_value_compared_directly():
    result = judge_summary(
        metric="max_temperature",
        comparison="absolute",
        direction="at_most",
        threshold=85.0,
        candidate=86.5,
        baseline=80.0,
    )

    assert result.verdict == "fail"
    assert result.ci_low == result.ci_high == 86.5
    assert result.ratio is None


def test_summary_ratio_compared_directly():
    result = judge_summary(
        metric="joules_per_token",
        comparison="relative",
        direction="at_most",
        threshold=0.9,
        candidate=0.4,
        baseline=0.5,
    )

    assert result.verdict == "pass"
    assert result.ratio == pytest.approx(0.8)
    assert result.ci_low == result.ci_high == result.ratio


def test_summary_ratio_over_a_zero_baseline_is_insufficient():
    result = judge_summary(
        metric="throttle_events",
        comparison="relative",
        direction="at_most",
        threshold=1.0,
        candidate=3,
        baseline=0,
    )

    assert result.verdict == "insufficient_data"
    assert result.ratio is None
    assert "no ratio" in result.reason


def test_unavailable_figure_is_insufficient_with_the_reason():
    reason = "unit economics not available yet (showback issue)"

    result = judge_summary(
        metric="cost_per_1m_tokens",
        comparison="relative",
        direction="at_most",
        threshold=1.0,
        candidate=None,
        baseline=None,
        unavailable_reason=reason,
    )

    assert result.verdict == "insufficient_data"
    assert result.reason == reason
    json.dumps(result.to_dict(), allow_nan=False)


def test_missing_candidate_figure_is_insufficient():
    result = judge_summary(
        metric="throttle_seconds",
        comparison="absolute",
        direction="at_most",
        threshold=60,
        candidate=math.nan,
        baseline=None,
    )
    assert result.verdict == "insufficient_data"
    assert result.candidate is None


# --------------------------------------------------------------------------
# Overall verdict
# --------------------------------------------------------------------------


def crit(verdict, *, critical=False, weight=1, metric="m"):
    return WeightedVerdict(metric=metric, verdict=verdict, critical=critical, weight=weight)


def test_critical_failure_fails_whatever_the_score():
    overall = overall_verdict(
        [crit("fail", critical=True, metric="e2e_latency_p99")] + [crit("pass")] * 99
    )

    assert overall.verdict == "fail"
    assert overall.score == 99.0
    assert "e2e_latency_p99" in overall.reason


def test_critical_insufficient_data_is_insufficient_data():
    overall = overall_verdict([crit("insufficient_data", critical=True), crit("pass")])

    assert overall.verdict == "insufficient_data"
    assert overall.score == 100.0


def test_critical_failure_outranks_critical_insufficient_data():
    overall = overall_verdict(
        [crit("insufficient_data", critical=True), crit("fail", critical=True)]
    )
    assert overall.verdict == "fail"


@pytest.mark.parametrize(
    ("verdicts", "score", "verdict"),
    [
        (["pass"] * 9 + ["fail"], 90.0, "pass"),
        (["pass"] * 8 + ["marginal"] * 2, 90.0, "pass"),
        (["pass"] * 17 + ["fail"] * 3, 85.0, "marginal"),
        (["pass", "marginal"], 75.0, "marginal"),  # marginal counts half
        (["pass"] * 3 + ["fail"], 75.0, "marginal"),
        (["pass"] * 74 + ["fail"] * 26, 74.0, "fail"),
        (["marginal"] * 4, 50.0, "fail"),
        (["pass"], 100.0, "pass"),
    ],
)
def test_score_bands(verdicts, score, verdict):
    overall = overall_verdict([crit(v) for v in verdicts])

    assert overall.score == score
    assert overall.verdict == verdict


def test_weights_count():
    overall = overall_verdict([crit("pass", weight=3), crit("fail", weight=1)])

    assert overall.score == 75.0
    assert overall.verdict == "marginal"


def test_non_critical_insufficient_data_is_not_judged():
    overall = overall_verdict([crit("pass"), crit("insufficient_data", weight=5)])

    assert overall.score == 100.0
    assert overall.verdict == "pass"


def test_nothing_judged_is_insufficient_data_without_a_score():
    overall = overall_verdict([crit("insufficient_data"), crit("insufficient_data")])

    assert overall.verdict == "insufficient_data"
    assert overall.score is None
    assert overall_verdict([]).score is None


def test_thresholds_are_parameters():
    criteria = [crit("pass")] * 4 + [crit("fail")]  # score 80

    assert overall_verdict(criteria).verdict == "marginal"
    assert overall_verdict(criteria, pass_score=80, marginal_score=60).verdict == "pass"
    assert overall_verdict(criteria, pass_score=95, marginal_score=85).verdict == "fail"
    with pytest.raises(ValueError, match="marginal_score"):
        overall_verdict(criteria, pass_score=70, marginal_score=80)


def test_overall_from_criterion_results(worse_candidate, equal_candidate, baseline):
    results = [
        (p99_ratio(equal_candidate, baseline), True, 2),
        (p99_ratio(worse_candidate, baseline), False, 1),
    ]

    overall = overall_verdict(
        WeightedVerdict(r.metric, r.verdict, critical, weight) for r, critical, weight in results
    )

    assert overall.score == pytest.approx(100 * 2 / 3)
    assert overall.verdict == "fail"
    json.dumps(overall.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------
# Red flags
# --------------------------------------------------------------------------


def test_red_flags():
    flags = red_flags(
        window_seconds=3600 * 100,
        p999_ratio=1.2,
        p99_ratio_threshold=1.05,
        throttle_seconds=3601,
        max_temperature=81,
        temperature_limit=85,
    )

    assert [f.code for f in flags] == ["tail_regression", "thermal_throttling", "thermal_headroom"]
    assert all(json.dumps(f.to_dict()) for f in flags)


def test_throttle_time_is_a_share_of_the_reporting_devices_time():
    window = 3600 * 100  # 1 % is 3,600 s per device
    # Eight GPUs each throttled 0.5 % of the window: 0.5 % of the device-time.
    assert red_flags(window_seconds=window, throttle_seconds=8 * 1800, throttle_devices=8) == []
    # The same total from one backend-wide counter is 4 % of the window.
    (flag,) = red_flags(window_seconds=window, throttle_seconds=8 * 1800)
    assert flag.code == "thermal_throttling"
    assert "4.00% of the window's device-time (over 1 %, 1 reporting)" in flag.message
    (flag,) = red_flags(window_seconds=window, throttle_seconds=8 * 3601, throttle_devices=8)
    assert "(over 1 %, 8 reporting)" in flag.message


def test_no_red_flags_within_limits():
    assert (
        red_flags(
            window_seconds=3600 * 100,
            p999_ratio=1.05,
            p99_ratio_threshold=1.05,
            throttle_seconds=3600,  # exactly 1 % is not over it
            max_temperature=79.9,
            temperature_limit=85,
        )
        == []
    )
    assert red_flags(window_seconds=3600, max_temperature=99) == []  # no known limit
