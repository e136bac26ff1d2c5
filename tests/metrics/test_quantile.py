"""histogram_quantile semantics, checked against a reference written from
the Prometheus documentation and by properties on random histograms."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metrics.quantile import histogram_quantile, merge_buckets

INF = math.inf


def reference_quantile(q: float, buckets: dict[float, float]) -> float:
    """Straight from the docs of histogram_quantile: find the bucket the
    rank falls in and interpolate linearly inside it; the lowest bucket
    starts at 0 (if its bound is positive); a rank in the +Inf bucket gives
    the highest finite bound; no observations give NaN."""
    bounds = sorted(buckets)
    counts = [buckets[b] for b in bounds]
    for i in range(1, len(counts)):
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total == 0:
        return math.nan
    rank = q * total
    for i, bound in enumerate(bounds[:-1]):
        if counts[i] >= rank:
            if i == 0:
                if bound <= 0:
                    return bound
                lower, below = 0.0, 0.0
            else:
                lower, below = bounds[i - 1], counts[i - 1]
            in_bucket = counts[i] - below
            if in_bucket == 0:
                return math.nan
            return lower + (bound - lower) * (rank - below) / in_bucket
    return bounds[-2]


def test_doc_example_interpolates_inside_the_bucket() -> None:
    buckets = {0.1: 10.0, 0.5: 60.0, 1.0: 90.0, INF: 100.0}
    assert histogram_quantile(0.5, buckets) == 0.1 + 0.4 * (50 - 10) / 50
    assert histogram_quantile(0.9, buckets) == 1.0
    # rank 99 lands in +Inf: the highest finite bound
    assert histogram_quantile(0.99, buckets) == 1.0


def test_edge_cases_follow_prometheus() -> None:
    assert math.isnan(histogram_quantile(0.5, {1.0: 0.0, INF: 0.0}))
    assert math.isnan(histogram_quantile(0.5, {1.0: 3.0, 2.0: 4.0}))  # no +Inf bucket
    assert math.isnan(histogram_quantile(0.5, {INF: 4.0}))  # fewer than two buckets
    assert histogram_quantile(-0.1, {1.0: 1.0, INF: 1.0}) == -INF
    assert histogram_quantile(1.1, {1.0: 1.0, INF: 1.0}) == INF
    assert histogram_quantile(0.5, {-1.0: 5.0, 0.0: 8.0, INF: 10.0}) == -1.0
    # counts that dip are forced monotonic
    assert histogram_quantile(0.5, {1.0: 10.0, 2.0: 8.0, INF: 10.0}) == 0.5


def test_percentiles_come_from_merged_buckets_not_averages() -> None:
    fast = {0.1: 99.0, 1.0: 99.0, 10.0: 100.0, INF: 100.0}
    slow = {0.1: 0.0, 1.0: 0.0, 10.0: 2.0, INF: 2.0}
    merged = merge_buckets([fast, slow])
    p99 = histogram_quantile(0.99, merged)
    assert p99 == reference_quantile(0.99, merged)
    mean_of_p99 = (histogram_quantile(0.99, fast) + histogram_quantile(0.99, slow)) / 2
    assert p99 != mean_of_p99


bounds_strategy = st.lists(
    st.floats(min_value=-100, max_value=1000, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
    unique=True,
)


@st.composite
def histograms(draw: st.DrawFn) -> dict[float, float]:
    bounds = sorted(draw(bounds_strategy))
    increments = draw(
        st.lists(
            st.integers(min_value=0, max_value=50),
            min_size=len(bounds) + 1,
            max_size=len(bounds) + 1,
        )
    )
    buckets: dict[float, float] = {}
    running = 0.0
    for bound, inc in zip([*bounds, INF], increments, strict=True):
        running += inc
        buckets[bound] = running
    return buckets


@settings(max_examples=300, deadline=None)
@given(histograms(), st.floats(min_value=0, max_value=1))
def test_matches_reference_on_random_histograms(buckets: dict[float, float], q: float) -> None:
    expected = reference_quantile(q, buckets)
    got = histogram_quantile(q, buckets)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    histograms(), st.floats(min_value=0.001, max_value=1), st.floats(min_value=0.001, max_value=1)
)
def test_monotone_in_q_and_within_the_finite_bounds(
    buckets: dict[float, float], q1: float, q2: float
) -> None:
    assume(buckets[INF] > 0)
    low, high = sorted((q1, q2))
    a, b = histogram_quantile(low, buckets), histogram_quantile(high, buckets)
    assert a <= b + 1e-9
    finite = sorted(le for le in buckets if le != INF)
    assert min(0.0, finite[0]) - 1e-9 <= a <= finite[-1] + 1e-9


@settings(max_examples=200, deadline=None)
@given(histograms(), st.lists(histograms(), min_size=1, max_size=3))
def test_merging_equals_summing_counts_per_bound(
    first: dict[float, float], others: list[dict[float, float]]
) -> None:
    parts = [first, *others]
    merged = merge_buckets(parts)
    for le in merged:
        assert merged[le] == sum(part.get(le, 0.0) for part in parts)


@settings(max_examples=200, deadline=None)
@given(histograms())
def test_exact_rank_at_a_bucket_boundary_returns_that_bound(buckets: dict[float, float]) -> None:
    bounds = sorted(buckets)
    total = buckets[INF]
    assume(total > 0)
    for i, bound in enumerate(bounds[:-1]):
        count = buckets[bound]
        below = buckets[bounds[i - 1]] if i else 0.0
        q = count / total
        # Only ranks that are exact in floating point land on the boundary.
        if count > below and count > 0 and (i > 0 or bound > 0) and q * total == count:
            got = histogram_quantile(q, buckets)
            assert math.isclose(got, bound, rel_tol=1e-9, abs_tol=1e-9)
