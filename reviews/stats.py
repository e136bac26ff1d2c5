"""Statistics for the evidence of a go/no-go review (issue 11, section 3).

Pure and typed: no Django, no ORM. Callers (the review services) read the
window's figures, call one ``judge_*`` function per exit criterion and
``overall_verdict`` over the results; everything returned is JSON-friendly so
the frozen snapshot can store it as it is.

Rules, as the issue states them:

- Latency quantiles: the value is ``histogram_quantile`` over the buckets
  merged across the whole window (as the metrics summary computes it). The
  95 % CI comes from a block bootstrap over hourly slices: each side's
  slices are resampled with replacement, independently, the quantile of the
  merged resampled buckets is recomputed, and the percentile interval is
  taken of the ratio candidate / baseline (relative criteria) or of the
  candidate's value (absolute ones).
- Enough data: a quantile q needs at least 10 / (1 - q) requests in the
  window and at least 6 hourly slices with data, on each side that enters
  the verdict (both for a relative criterion, the candidate for an absolute
  one); otherwise ``insufficient_data``, which never passes.
- "At most t": pass when the CI's upper bound ≤ t, fail when its lower bound
  > t, otherwise marginal; "at least t" is the mirror image.
- Error rate: Wilson interval for absolute thresholds; for relative ones the
  risk ratio with Katz' log interval, and the two-proportion z-test in the
  reason.
- Throughput: ratio of rates with the same slice bootstrap.
- Figures from the summary (energy per token, temperature, throttling,
  unit costs): compared directly, no CI.
- Overall: Kayenta's scheme, adapted (see ``overall_verdict``).

Choices the issue leaves open, made here:

- Block = one hourly slice (the issue's wording). ``block_length`` > 1 gives
  a moving-block bootstrap of that many consecutive slices for callers who
  want to keep the within-day correlation of neighbouring hours; the default
  stays 1 because 6 slices is a legal window and longer blocks would leave
  such a window almost nothing to resample.
- Slices without data (no observation in the hour) are left out of the
  resampling: they add nothing to the merged buckets, and keeping them would
  only make the resampled request total vary for no reason.
- Random draws: ``np.random.default_rng(seed)``; the candidate's indices are
  drawn first, then the baseline's, from the same generator, each as
  ``resample_indices`` documents. Same inputs and seed → identical CI.
- Percentile interval: ``np.quantile`` (linear interpolation, type 7) at
  (1 - level) / 2 and 1 - (1 - level) / 2 of the replicates.
- Error-rate ratio with a zero count on either side: 0.5 is added to every
  cell of the 2×2 table (Haldane-Anscombe), i.e. errors + 0.5 and
  requests + 1 on both sides, for the ratio and its interval; the method says
  so. Without a zero count nothing is added.

The bootstrap is vectorised: slices become an (n × buckets) array, a
resample becomes a row of slice multiplicities (``bincount`` of its
indices), all resampled merged histograms are one matrix product, and the
quantile is interpolated for every resample at once with exactly the
semantics of ``histogram_quantile`` (monotonic fix, +Inf bucket, first
bucket). With integer counts the result is bit-for-bit that of the scalar
function on the same resample; with fractional counts (``increase()``
extrapolation) sums may differ in the last bit because they are added in a
different order. Where slices do not all share one bucket layout (a vLLM
upgrade mid-window), a resample that lacks some bound goes through
``histogram_quantile`` itself, since a bound no slice of it has is absent
from its merged buckets rather than a zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from metrics.quantile import SMALL_DELTA_TOLERANCE, histogram_quantile, merge_buckets

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_RESAMPLES",
    "MIN_SLICES",
    "Buckets",
    "Comparison",
    "CriterionResult",
    "Direction",
    "Overall",
    "QuantileCache",
    "RateSlice",
    "RedFlag",
    "RiskRatio",
    "Verdict",
    "WeightedVerdict",
    "block_bootstrap_rate_ci",
    "block_bootstrap_rate_ratio_ci",
    "block_bootstrap_ratio_ci",
    "block_bootstrap_value_ci",
    "bootstrap_quantiles",
    "judge_error_rate",
    "judge_quantile",
    "judge_summary",
    "judge_throughput",
    "min_requests_for_quantile",
    "overall_verdict",
    "quantile_over",
    "rate_over",
    "red_flags",
    "requests_in",
    "resample_indices",
    "risk_ratio",
    "slices_with_data",
    "two_proportion_z_test",
    "verdict_for",
    "wilson_interval",
]

Buckets = Mapping[float, float]
Verdict = Literal["pass", "marginal", "fail", "insufficient_data"]
Comparison = Literal["relative", "absolute"]
Direction = Literal["at_most", "at_least"]

MIN_SLICES = 6
DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    """The evidence for one exit criterion, field for field as the API shows it.

    ``ratio`` is candidate / baseline (relative criteria only); the CI is of
    the ratio for relative criteria and of the candidate's value for absolute
    ones; ``candidate_n`` / ``baseline_n`` count what the enough-data rule
    counts (requests for latency and error rate, hourly slices with data for
    throughput). Non-finite figures are stored as None so the record is
    plain JSON.
    """

    metric: str
    comparison: Comparison
    direction: Direction
    threshold: float
    candidate: float | None
    baseline: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    candidate_n: int | float | None
    baseline_n: int | float | None
    method: str
    verdict: Verdict
    reason: str

    def to_dict(self) -> dict[str, str | int | float | None]:
        return asdict(self)


@dataclass(frozen=True)
class WeightedVerdict:
    """One criterion's verdict with the weight and criticality of its criterion."""

    metric: str
    verdict: Verdict
    critical: bool
    weight: float


@dataclass(frozen=True)
class Overall:
    """The review's overall verdict; ``score`` is None when nothing was judged."""

    verdict: Verdict
    score: float | None
    reason: str

    def to_dict(self) -> dict[str, str | float | None]:
        return asdict(self)


@dataclass(frozen=True)
class RateSlice:
    """One hourly slice of a throughput: how much (requests or tokens) in how
    many observed seconds. A slice with ``seconds`` > 0 has data."""

    amount: float
    seconds: float


@dataclass(frozen=True)
class RiskRatio:
    """Candidate rate / baseline rate with Katz' log interval."""

    ratio: float
    low: float
    high: float
    continuity_corrected: bool


@dataclass(frozen=True)
class RedFlag:
    """Something in the window a reviewer should look at, whatever the verdicts."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# --------------------------------------------------------------------------
# Small rules
# --------------------------------------------------------------------------


def min_requests_for_quantile(q: float) -> int:
    """Requests a window needs for the q-quantile: ⌈10 / (1 - q)⌉, exactly.

    q is read as the decimal it was written as (0.99, not the nearest binary
    float), so p99 needs 1,000 and p99.9 needs 10,000, not one more.
    """
    if not 0 <= q < 1:
        raise ValueError(f"quantile must be in [0, 1), got {q!r}")
    return math.ceil(Fraction(10) / (1 - Fraction(Decimal(repr(q)))))


def verdict_for(direction: Direction, threshold: float, low: float, high: float) -> Verdict:
    """Verdict of a criterion from its interval [low, high].

    At most t: pass when high ≤ t, fail when low > t, else marginal.
    At least t: pass when low ≥ t, fail when high < t, else marginal.
    A point value is the interval [value, value], which never gives marginal.
    """
    if math.isnan(low) or math.isnan(high):
        raise ValueError("interval bounds must be numbers")
    if direction == "at_most":
        if high <= threshold:
            return "pass"
        if low > threshold:
            return "fail"
        return "marginal"
    if direction == "at_least":
        if low >= threshold:
            return "pass"
        if high < threshold:
            return "fail"
        return "marginal"
    raise ValueError(f"unknown direction {direction!r}")


def _percentile_tail(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {level!r}")
    # Rounded so 0.95 gives the 2.5th percentile, not 2.5000000000000022.
    return round((1.0 - level) / 2.0, 12)


def _z(level: float) -> float:
    return float(stats.norm.ppf(1.0 - _percentile_tail(level)))


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _count(value: float) -> int | float:
    """A count as JSON shows it best: an int when it is whole."""
    return int(value) if float(value).is_integer() else float(value)


def _label(q: float) -> str:
    return f"p{float(Decimal(repr(q)) * 100):g}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


# --------------------------------------------------------------------------
# Histograms as arrays, and the vectorised histogram_quantile
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Histograms:
    """Slices as an array: ``counts[i, k]`` is slice i's count at ``bounds[k]``
    (0 where the slice has no such bucket, as ``merge_buckets`` treats it);
    ``missing[i, k]`` says it has none. ``bounds`` is the union over slices."""

    bounds: FloatArray
    counts: FloatArray
    missing: NDArray[np.bool_]

    @classmethod
    def of(cls, slices: Sequence[Buckets]) -> _Histograms:
        bounds = sorted({float(le) for part in slices for le in part})
        shape = (len(slices), len(bounds))
        counts = np.array(
            [[part.get(le, 0.0) for le in bounds] for part in slices], dtype=np.float64
        ).reshape(shape)
        if all(len(part) == len(bounds) for part in slices):
            missing = np.zeros(shape, dtype=np.bool_)
        else:
            missing = np.array(
                [[le not in part for le in bounds] for part in slices], dtype=np.bool_
            ).reshape(shape)
        return cls(np.asarray(bounds, dtype=np.float64), counts, missing)

    def with_data(self) -> _Histograms:
        if self.counts.size == 0:
            return _Histograms(self.bounds, self.counts[:0], self.missing[:0])
        keep = self.counts.max(axis=1) > 0
        return _Histograms(self.bounds, self.counts[keep], self.missing[keep])

    @property
    def n_slices(self) -> int:
        return int(self.counts.shape[0])

    def requests(self) -> float:
        """Observations of the merged histogram, as histogram_quantile sees
        them (the +Inf count after the monotonic fix)."""
        if self.counts.size == 0:
            return 0.0
        merged = _monotonic(self.counts.sum(axis=0, keepdims=True))
        return float(merged[0, -1])


def _monotonic(counts: FloatArray) -> FloatArray:
    """``_ensure_monotonic`` of quantile.py on every row at once: a count
    below its predecessor, or within float error of it, becomes the
    predecessor. Column by column because each step sees the fixed value."""
    fixed = counts.astype(np.float64, copy=True)
    if fixed.shape[1] == 0:
        return fixed
    previous = fixed[:, 0]
    for k in range(1, fixed.shape[1]):
        current = fixed[:, k]
        close = np.abs(current - previous) <= SMALL_DELTA_TOLERANCE * np.maximum(
            np.abs(current), np.abs(previous)
        )
        fixed[:, k] = np.where((current < previous) | close, previous, current)
        previous = fixed[:, k]
    return fixed


def _row_quantiles(q: float, bounds: FloatArray, rows: FloatArray) -> FloatArray:
    """``histogram_quantile(q, dict(zip(bounds, row)))`` for every row;
    ``bounds`` sorted ascending. Same operations in the same order as the
    scalar function, so the same floats come out."""
    n_rows = rows.shape[0]
    if math.isnan(q):
        return np.full(n_rows, math.nan)
    if q < 0:
        return np.full(n_rows, -math.inf)
    if q > 1:
        return np.full(n_rows, math.inf)
    n_bounds = bounds.shape[0]
    if n_bounds < 2 or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return np.full(n_rows, math.nan)
    counts = _monotonic(rows)
    observations = counts[:, -1]
    rank = q * observations

    # First bucket whose cumulative count reaches the rank (never the +Inf one).
    reaches = counts[:, :-1] >= rank[:, None]
    found = reaches.any(axis=1)
    bucket = np.where(found, reaches.argmax(axis=1), n_bounds - 1)

    result = np.full(n_rows, math.nan)
    result[~found] = bounds[-2]
    first_non_positive = found & (bucket == 0) & (bounds[0] <= 0)
    result[first_non_positive] = bounds[0]

    inside = found & ~first_non_positive
    b = bucket[inside]
    rows_inside = counts[inside]
    at = np.arange(b.shape[0])
    has_lower = b > 0
    lower = np.maximum(b - 1, 0)
    bucket_start = np.where(has_lower, bounds[lower], 0.0)
    bucket_end = bounds[b]
    below = np.where(has_lower, rows_inside[at, lower], 0.0)
    count = rows_inside[at, b] - below
    rank_inside = rank[inside] - below
    with np.errstate(divide="ignore", invalid="ignore"):
        value = bucket_start + (bucket_end - bucket_start) * (rank_inside / count)
    result[inside] = np.where(count == 0, math.nan, value)

    result[(observations == 0) | np.isnan(observations)] = math.nan
    return result


# --------------------------------------------------------------------------
# Bootstrap machinery
# --------------------------------------------------------------------------


def resample_indices(
    rng: np.random.Generator, n: int, resamples: int, *, block_length: int = 1
) -> IndexArray:
    """Slice indices of ``resamples`` bootstrap resamples of n slices, one row each.

    Block length 1 (the default): ``rng.integers(0, n, size=(resamples, n))``,
    every slice its own block. Block length L > 1 (moving blocks): ⌈n / L⌉
    block starts per row from ``rng.integers(0, n - L + 1, ...)``, each
    expanded to L consecutive indices, the row cut to n.
    """
    if n < 1:
        raise ValueError("nothing to resample")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 1 <= block_length <= n:
        raise ValueError(f"block_length must be in [1, {n}], got {block_length}")
    if block_length == 1:
        return rng.integers(0, n, size=(resamples, n), dtype=np.int64)
    blocks = -(-n // block_length)
    starts = rng.integers(0, n - block_length + 1, size=(resamples, blocks), dtype=np.int64)
    expanded = starts[:, :, None] + np.arange(block_length, dtype=np.int64)
    return expanded.reshape(resamples, blocks * block_length)[:, :n]


def _multiplicities(indices: IndexArray, n: int) -> FloatArray:
    """How often each of n slices appears in each resample (one row each)."""
    resamples = indices.shape[0]
    offsets = np.arange(resamples, dtype=np.int64)[:, None] * n
    flat = np.bincount((indices + offsets).ravel(), minlength=resamples * n)
    return flat.reshape(resamples, n).astype(np.float64)


def _resampled(hist: _Histograms, indices: IndexArray) -> tuple[FloatArray, FloatArray]:
    """Slice multiplicities of each resample and its merged buckets."""
    weights = _multiplicities(indices, hist.n_slices)
    merged: FloatArray = weights @ hist.counts
    return weights, merged


def _bootstrap_quantiles(
    hist: _Histograms,
    q: float,
    indices: IndexArray,
    resampled: tuple[FloatArray, FloatArray] | None = None,
) -> FloatArray:
    weights, merged = _resampled(hist, indices) if resampled is None else resampled
    quantiles = _row_quantiles(q, hist.bounds, merged)
    if hist.missing.any():
        # A bound no slice of the resample has is absent from its merged
        # buckets, not a zero: those rows go through the scalar function.
        absent = (weights @ (~hist.missing).astype(np.float64)) == 0
        for row in np.flatnonzero(absent.any(axis=1)):
            kept = ~absent[row]
            buckets = dict(zip(hist.bounds[kept].tolist(), merged[row, kept].tolist(), strict=True))
            quantiles[row] = histogram_quantile(q, buckets)
    return quantiles


def bootstrap_quantiles(slices: Sequence[Buckets], q: float, indices: IndexArray) -> FloatArray:
    """For each row of ``indices`` (positions in ``slices``), the q-quantile
    of the merged buckets of those slices: what ``histogram_quantile`` gives
    on ``merge_buckets(slices[i] for i in row)``, for all rows at once."""
    hist = _Histograms.of(slices)
    if indices.size and (indices.min() < 0 or indices.max() >= hist.n_slices):
        raise ValueError("indices out of range")
    return _bootstrap_quantiles(hist, q, indices)


def _percentile_ci(replicates: FloatArray, level: float) -> tuple[float, float]:
    """Percentile interval; NaN bounds when a replicate is undefined."""
    tail = _percentile_tail(level)
    if not np.all(np.isfinite(replicates)):
        return math.nan, math.nan
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return float(low), float(high)


def _sides_with_data(slices: Sequence[Buckets], side: str) -> _Histograms:
    hist = _Histograms.of(slices).with_data()
    if hist.n_slices == 0:
        raise ValueError(f"{side}: no slice with data")
    return hist


# --------------------------------------------------------------------------
# Latency quantiles
# --------------------------------------------------------------------------


def quantile_over(slices: Iterable[Buckets], q: float) -> float:
    """The q-quantile of the buckets merged over all slices (NaN without data)."""
    return histogram_quantile(q, merge_buckets(slices))


def requests_in(slices: Sequence[Buckets]) -> float:
    """Requests (observations) in the merged histogram of the slices."""
    return _Histograms.of(slices).requests()


def slices_with_data(slices: Sequence[Buckets]) -> int:
    """Slices with at least one observation."""
    return _Histograms.of(slices).with_data().n_slices


class QuantileCache:
    """The work the latency-quantile criteria of one evaluation share.

    Every quantile criterion seeds its own generator with the review's seed,
    so criteria over the same slices draw the same resample indices; and the
    criteria of one histogram family (e2e, TTFT) read the same slices. Passed
    to ``judge_quantile`` as ``cache``, this keeps, per slices object, its
    array form and merged buckets, per (seed, slice counts, resamples, block
    length) the drawn indices, and per (slices, indices) the resampled merged
    buckets, so each quantile only interpolates. The draws, the arithmetic
    and so every figure are exactly those of an uncached call: only repeated
    work is skipped. Slices are matched by identity (the cache keeps a
    reference, so an id is never reused while it lives); use one cache per
    evaluation and do not mutate the slices meanwhile."""

    def __init__(self) -> None:
        self._hists: dict[int, tuple[Sequence[Buckets], _Histograms]] = {}
        self._merged: dict[int, tuple[Iterable[Buckets], dict[float, float]]] = {}
        self._indices: dict[tuple[object, ...], tuple[IndexArray, ...]] = {}
        self._resampled: dict[tuple[int, int], tuple[FloatArray, FloatArray]] = {}

    def histograms(self, slices: Sequence[Buckets]) -> _Histograms:
        """``_Histograms.of(slices).with_data()``, once per slices object."""
        found = self._hists.get(id(slices))
        if found is None or found[0] is not slices:
            found = self._hists[id(slices)] = (slices, _Histograms.of(slices).with_data())
        return found[1]

    def merged(self, slices: Iterable[Buckets]) -> dict[float, float]:
        """``merge_buckets(slices)``, once per slices object (do not mutate it)."""
        found = self._merged.get(id(slices))
        if found is None or found[0] is not slices:
            found = self._merged[id(slices)] = (slices, merge_buckets(slices))
        return found[1]

    def indices(
        self, seed: int, sizes: tuple[int, ...], resamples: int, block_length: int
    ) -> tuple[IndexArray, ...]:
        """A fresh generator from ``seed`` drawing ``resample_indices`` for each
        size in turn (the candidate's first), once per key."""
        key = (seed, sizes, resamples, block_length)
        found = self._indices.get(key)
        if found is None:
            rng = np.random.default_rng(seed)
            found = self._indices[key] = tuple(
                resample_indices(rng, n, resamples, block_length=block_length) for n in sizes
            )
        return found

    def resampled(self, hist: _Histograms, indices: IndexArray) -> tuple[FloatArray, FloatArray]:
        """``_resampled(hist, indices)`` once per pair (both kept alive by this cache)."""
        key = (id(hist), id(indices))
        found = self._resampled.get(key)
        if found is None:
            found = self._resampled[key] = _resampled(hist, indices)
        return found


def _quantile_value_ci(
    hist: _Histograms,
    q: float,
    resamples: int,
    seed: int,
    level: float,
    block_length: int,
    cache: QuantileCache | None = None,
) -> tuple[float, float]:
    if cache is None:
        rng = np.random.default_rng(seed)
        indices = resample_indices(rng, hist.n_slices, resamples, block_length=block_length)
        return _percentile_ci(_bootstrap_quantiles(hist, q, indices), level)
    (indices,) = cache.indices(seed, (hist.n_slices,), resamples, block_length)
    return _percentile_ci(
        _bootstrap_quantiles(hist, q, indices, cache.resampled(hist, indices)), level
    )


def _quantile_ratio_ci(
    candidate: _Histograms,
    baseline: _Histograms,
    q: float,
    resamples: int,
    seed: int,
    level: float,
    block_length: int,
    cache: QuantileCache | None = None,
) -> tuple[float, float]:
    if cache is None:
        rng = np.random.default_rng(seed)
        candidate_indices = resample_indices(
            rng, candidate.n_slices, resamples, block_length=block_length
        )
        baseline_indices = resample_indices(
            rng, baseline.n_slices, resamples, block_length=block_length
        )
        candidate_resampled = baseline_resampled = None
    else:
        candidate_indices, baseline_indices = cache.indices(
            seed, (candidate.n_slices, baseline.n_slices), resamples, block_length
        )
        candidate_resampled = cache.resampled(candidate, candidate_indices)
        baseline_resampled = cache.resampled(baseline, baseline_indices)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = _bootstrap_quantiles(
            candidate, q, candidate_indices, candidate_resampled
        ) / _bootstrap_quantiles(baseline, q, baseline_indices, baseline_resampled)
    return _percentile_ci(ratios, level)


def block_bootstrap_value_ci(
    slices: Sequence[Buckets],
    q: float,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
) -> tuple[float, float]:
    """Percentile CI of the q-quantile over the slices (an absolute criterion's
    candidate value), by the block bootstrap over slices with data."""
    hist = _sides_with_data(slices, "candidate")
    return _quantile_value_ci(hist, q, resamples, seed, level, block_length)


def block_bootstrap_ratio_ci(
    candidate_slices: Sequence[Buckets],
    baseline_slices: Sequence[Buckets],
    q: float,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
) -> tuple[float, float]:
    """Percentile CI of candidate q-quantile / baseline q-quantile, each side
    resampled independently (candidate's draws first, same generator)."""
    candidate = _sides_with_data(candidate_slices, "candidate")
    baseline = _sides_with_data(baseline_slices, "baseline")
    return _quantile_ratio_ci(candidate, baseline, q, resamples, seed, level, block_length)


def _enough_for_quantile(hist: _Histograms, need: int, label: str, side: str) -> list[str]:
    shortfalls = []
    requests = hist.requests()
    if requests < need:
        shortfalls.append(f"{side} has {_count(requests)} requests, {label} needs ≥ {need}")
    if hist.n_slices < MIN_SLICES:
        shortfalls.append(
            f"{side} has {hist.n_slices} hourly slices with data, needs ≥ {MIN_SLICES}"
        )
    return shortfalls


def _bootstrap_method(
    head: str, comparison: Comparison, resamples: int, seed: int, level: float, block_length: int
) -> str:
    blocks = "hourly slices" if block_length == 1 else f"moving blocks of {block_length} hours"
    of = "ratio" if comparison == "relative" else "candidate value"
    return (
        f"{head}; block bootstrap over {blocks}, {resamples} resamples, seed {seed}; "
        f"percentile {level:.0%} CI of the {of}"
    )


def judge_quantile(
    *,
    metric: str,
    q: float,
    comparison: Comparison,
    direction: Direction,
    threshold: float,
    candidate_slices: Sequence[Buckets],
    baseline_slices: Sequence[Buckets],
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
    cache: QuantileCache | None = None,
) -> CriterionResult:
    """Evidence for a latency-quantile criterion (e2e or TTFT, p50..p99.9).

    ``candidate_n`` / ``baseline_n`` are the requests in the window. A
    ``cache`` shared by the criteria of one evaluation skips their repeated
    work and gives the same result."""
    need = min_requests_for_quantile(q)
    label = _label(q)
    if cache is None:
        candidate = _Histograms.of(candidate_slices).with_data()
        baseline = _Histograms.of(baseline_slices).with_data()
        candidate_value = _finite(quantile_over(candidate_slices, q))
        baseline_value = _finite(quantile_over(baseline_slices, q))
    else:
        candidate = cache.histograms(candidate_slices)
        baseline = cache.histograms(baseline_slices)
        candidate_value = _finite(histogram_quantile(q, cache.merged(candidate_slices)))
        baseline_value = _finite(histogram_quantile(q, cache.merged(baseline_slices)))
    ratio = (
        _finite(candidate_value / baseline_value)
        if candidate_value is not None and baseline_value
        else None
    )
    draft = _draft(
        metric=metric,
        comparison=comparison,
        direction=direction,
        threshold=threshold,
        candidate=candidate_value,
        baseline=baseline_value,
        ratio=ratio,
        candidate_n=_count(candidate.requests()),
        baseline_n=_count(baseline.requests()),
        method=_bootstrap_method(
            f"histogram_quantile({q:g}) of the merged buckets",
            comparison,
            resamples,
            seed,
            level,
            block_length,
        ),
    )

    shortfalls = _enough_for_quantile(candidate, need, label, "candidate")
    if comparison == "relative":
        shortfalls += _enough_for_quantile(baseline, need, label, "baseline")
    if shortfalls:
        return _insufficient(draft, "; ".join(shortfalls))

    if comparison == "relative":
        if ratio is None:
            return _insufficient(draft, f"baseline {label} is {_fmt(baseline_value)}: no ratio")
        low, high = _quantile_ratio_ci(
            candidate, baseline, q, resamples, seed, level, block_length, cache
        )
        return _judged(draft, ratio, low, high)
    if candidate_value is None:
        return _insufficient(draft, f"candidate {label} is undefined")
    low, high = _quantile_value_ci(candidate, q, resamples, seed, level, block_length, cache)
    return _judged(draft, candidate_value, low, high)


def _draft(
    *,
    metric: str,
    comparison: Comparison,
    direction: Direction,
    threshold: float,
    candidate: float | None,
    baseline: float | None,
    ratio: float | None,
    candidate_n: int | float | None,
    baseline_n: int | float | None,
    method: str,
) -> CriterionResult:
    """A result without its interval and verdict yet."""
    return CriterionResult(
        metric=metric,
        comparison=comparison,
        direction=direction,
        threshold=float(threshold),
        candidate=_finite(candidate),
        baseline=_finite(baseline),
        ratio=_finite(ratio) if comparison == "relative" else None,
        ci_low=None,
        ci_high=None,
        candidate_n=candidate_n,
        baseline_n=baseline_n,
        method=method,
        verdict="insufficient_data",
        reason="",
    )


def _insufficient(draft: CriterionResult, reason: str) -> CriterionResult:
    return replace(draft, ci_low=None, ci_high=None, verdict="insufficient_data", reason=reason)


def _judged(
    draft: CriterionResult, estimate: float, low: float, high: float, note: str = ""
) -> CriterionResult:
    if not (math.isfinite(low) and math.isfinite(high)):
        return _insufficient(draft, "the bootstrap gave undefined replicates")
    verdict = verdict_for(draft.direction, draft.threshold, low, high)
    bound = "≤" if draft.direction == "at_most" else "≥"
    reason = (
        f"{_fmt(estimate)}, CI [{_fmt(low)}, {_fmt(high)}] against {bound} {_fmt(draft.threshold)}"
    )
    return replace(draft, ci_low=low, ci_high=high, verdict=verdict, reason=f"{reason}{note}")


# --------------------------------------------------------------------------
# Error rate
# --------------------------------------------------------------------------


def wilson_interval(
    errors: float, requests: float, *, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """Wilson score interval of the proportion errors / requests (fine at 0)."""
    if requests <= 0:
        raise ValueError("requests must be positive")
    if not 0 <= errors <= requests:
        raise ValueError("errors must be between 0 and requests")
    z = _z(level)
    p = errors / requests
    z2n = z * z / requests
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / requests + z2n / (4 * requests))
    # Exact at the ends, where the formula leaves float residue.
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == requests else min(1.0, centre + half)
    return low, high


def risk_ratio(
    candidate_errors: float,
    candidate_requests: float,
    baseline_errors: float,
    baseline_requests: float,
    *,
    level: float = DEFAULT_LEVEL,
) -> RiskRatio:
    """Candidate error rate / baseline error rate with Katz' log interval:
    exp(ln RR ± z·√(1/a - 1/n₁ + 1/c - 1/n₂)). With a zero error count on
    either side, 0.5 is added to every cell of the 2×2 table first."""
    a, n1, c, n2 = candidate_errors, candidate_requests, baseline_errors, baseline_requests
    for errors, requests in ((a, n1), (c, n2)):
        if requests <= 0:
            raise ValueError("requests must be positive")
        if not 0 <= errors <= requests:
            raise ValueError("errors must be between 0 and requests")
    corrected = a == 0 or c == 0
    if corrected:
        a, c, n1, n2 = a + 0.5, c + 0.5, n1 + 1, n2 + 1
    ratio = (a / n1) / (c / n2)
    spread = _z(level) * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    return RiskRatio(ratio, ratio * math.exp(-spread), ratio * math.exp(spread), corrected)


def two_proportion_z_test(
    candidate_errors: float,
    candidate_requests: float,
    baseline_errors: float,
    baseline_requests: float,
) -> tuple[float, float]:
    """Pooled two-proportion z statistic and its two-sided p-value."""
    p1 = candidate_errors / candidate_requests
    p2 = baseline_errors / baseline_requests
    pooled = (candidate_errors + baseline_errors) / (candidate_requests + baseline_requests)
    se = math.sqrt(pooled * (1 - pooled) * (1 / candidate_requests + 1 / baseline_requests))
    if se == 0:
        return 0.0, 1.0
    z = (p1 - p2) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def judge_error_rate(
    *,
    comparison: Comparison,
    direction: Direction,
    threshold: float,
    candidate_errors: float,
    candidate_requests: float,
    baseline_errors: float | None = None,
    baseline_requests: float | None = None,
    level: float = DEFAULT_LEVEL,
    metric: str = "error_rate",
) -> CriterionResult:
    """Evidence for an error-rate criterion: Wilson interval of the candidate's
    error fraction (absolute), Katz interval of the rate ratio (relative)."""
    candidate_value = candidate_errors / candidate_requests if candidate_requests > 0 else None
    baseline_value = (
        baseline_errors / baseline_requests
        if baseline_errors is not None and baseline_requests
        else None
    )

    def draft(method: str, ratio: float | None = None) -> CriterionResult:
        return _draft(
            metric=metric,
            comparison=comparison,
            direction=direction,
            threshold=threshold,
            candidate=candidate_value,
            baseline=baseline_value,
            ratio=ratio,
            candidate_n=_count(candidate_requests),
            baseline_n=None if baseline_requests is None else _count(baseline_requests),
            method=method,
        )

    # More errors than requests means the two counters do not count the same
    # requests (a source whose requests_total leaves failures out): no
    # proportion to judge, and not a server error either.
    overcounted = [
        f"{side} counts {_count(errors)} errors in {_count(requests)} requests"
        for side, errors, requests in (
            ("candidate", candidate_errors, candidate_requests),
            ("baseline", baseline_errors, baseline_requests),
        )
        if (side == "candidate" or comparison == "relative")
        and errors is not None
        and requests is not None
        and requests > 0
        and errors > requests
    ]

    if comparison == "absolute":
        wilson = draft(f"Wilson score {level:.0%} interval of errors / requests")
        if candidate_value is None:
            return _insufficient(wilson, "candidate has no requests in the window")
        if overcounted:
            return _insufficient(wilson, "; ".join(overcounted))
        low, high = wilson_interval(candidate_errors, candidate_requests, level=level)
        return _judged(wilson, candidate_value, low, high)

    katz = f"risk ratio with Katz log {level:.0%} interval; two-proportion z-test"
    if candidate_value is None or baseline_value is None:
        return _insufficient(draft(katz), "both sides need requests in the window")
    if overcounted:
        return _insufficient(draft(katz), "; ".join(overcounted))
    assert baseline_errors is not None and baseline_requests is not None
    rr = risk_ratio(
        candidate_errors, candidate_requests, baseline_errors, baseline_requests, level=level
    )
    z, p = two_proportion_z_test(
        candidate_errors, candidate_requests, baseline_errors, baseline_requests
    )
    if rr.continuity_corrected:
        katz = f"{katz}; +0.5 per cell of the 2×2 table (a zero error count)"
    return _judged(draft(katz, rr.ratio), rr.ratio, rr.low, rr.high, f"; z = {z:.3g}, p = {p:.3g}")


# --------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------


def _rate_arrays(slices: Sequence[RateSlice]) -> tuple[FloatArray, FloatArray]:
    amounts = np.fromiter((s.amount for s in slices), dtype=np.float64, count=len(slices))
    seconds = np.fromiter((s.seconds for s in slices), dtype=np.float64, count=len(slices))
    observed = seconds > 0
    return amounts[observed], seconds[observed]


def rate_over(slices: Sequence[RateSlice]) -> float:
    """Σ amount / Σ seconds over the slices (NaN without observed seconds)."""
    amounts, seconds = _rate_arrays(slices)
    total = float(seconds.sum())
    return float(amounts.sum()) / total if total > 0 else math.nan


def _bootstrap_rates(
    rng: np.random.Generator,
    slices: Sequence[RateSlice],
    side: str,
    resamples: int,
    block_length: int,
) -> FloatArray:
    amounts, seconds = _rate_arrays(slices)
    if amounts.shape[0] == 0:
        raise ValueError(f"{side}: no slice with data")
    indices = resample_indices(rng, amounts.shape[0], resamples, block_length=block_length)
    weights = _multiplicities(indices, amounts.shape[0])
    rates: FloatArray = (weights @ amounts) / (weights @ seconds)
    return rates


def block_bootstrap_rate_ci(
    slices: Sequence[RateSlice],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
) -> tuple[float, float]:
    """Percentile CI of Σ amount / Σ seconds by the slice bootstrap."""
    rng = np.random.default_rng(seed)
    return _percentile_ci(
        _bootstrap_rates(rng, slices, "candidate", resamples, block_length), level
    )


def block_bootstrap_rate_ratio_ci(
    candidate_slices: Sequence[RateSlice],
    baseline_slices: Sequence[RateSlice],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
) -> tuple[float, float]:
    """Percentile CI of candidate rate / baseline rate, sides resampled
    independently (candidate's draws first, same generator)."""
    rng = np.random.default_rng(seed)
    candidate = _bootstrap_rates(rng, candidate_slices, "candidate", resamples, block_length)
    baseline = _bootstrap_rates(rng, baseline_slices, "baseline", resamples, block_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _percentile_ci(candidate / baseline, level)


def judge_throughput(
    *,
    metric: str,
    comparison: Comparison,
    direction: Direction,
    threshold: float,
    candidate_slices: Sequence[RateSlice],
    baseline_slices: Sequence[RateSlice],
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    block_length: int = 1,
) -> CriterionResult:
    """Evidence for a throughput criterion (requests or tokens per second).

    Enough data: at least 6 hourly slices with observed seconds on each side
    that enters the verdict."""
    candidate_n = int(_rate_arrays(candidate_slices)[0].shape[0])
    baseline_n = int(_rate_arrays(baseline_slices)[0].shape[0])
    candidate_value = _finite(rate_over(candidate_slices))
    baseline_value = _finite(rate_over(baseline_slices))
    ratio = (
        _finite(candidate_value / baseline_value)
        if candidate_value is not None and baseline_value
        else None
    )
    draft = _draft(
        metric=metric,
        comparison=comparison,
        direction=direction,
        threshold=threshold,
        candidate=candidate_value,
        baseline=baseline_value,
        ratio=ratio,
        candidate_n=candidate_n,
        baseline_n=baseline_n,
        method=_bootstrap_method(
            "Σ amount / Σ seconds", comparison, resamples, seed, level, block_length
        ),
    )
    sides = [("candidate", candidate_n)]
    if comparison == "relative":
        sides.append(("baseline", baseline_n))
    shortfalls = [
        f"{side} has {n} hourly slices with data, needs ≥ {MIN_SLICES}"
        for side, n in sides
        if n < MIN_SLICES
    ]
    if shortfalls:
        return _insufficient(draft, "; ".join(shortfalls))
    if comparison == "relative":
        if ratio is None:
            return _insufficient(draft, f"baseline rate is {_fmt(baseline_value)}: no ratio")
        low, high = block_bootstrap_rate_ratio_ci(
            candidate_slices,
            baseline_slices,
            resamples=resamples,
            seed=seed,
            level=level,
            block_length=block_length,
        )
        return _judged(draft, ratio, low, high)
    assert candidate_value is not None  # six observed slices give a rate
    low, high = block_bootstrap_rate_ci(
        candidate_slices, resamples=resamples, seed=seed, level=level, block_length=block_length
    )
    return _judged(draft, candidate_value, low, high)


# --------------------------------------------------------------------------
# Figures from the summary
# --------------------------------------------------------------------------


def judge_summary(
    *,
    metric: str,
    comparison: Comparison,
    direction: Direction,
    threshold: float,
    candidate: float | None,
    baseline: float | None,
    candidate_n: int | float | None = None,
    baseline_n: int | float | None = None,
    unavailable_reason: str | None = None,
) -> CriterionResult:
    """Evidence for a figure read from the summary (energy per token, max
    temperature, throttle seconds or events, cost per 1M tokens or per
    inference): the value (absolute) or the ratio (relative) against the
    threshold, no CI (ci_low = ci_high = the compared figure).

    ``unavailable_reason`` (e.g. unit economics not there yet) or a missing
    figure gives ``insufficient_data``."""
    candidate_value = _finite(candidate)
    baseline_value = _finite(baseline)
    ratio = (
        _finite(candidate_value / baseline_value)
        if candidate_value is not None and baseline_value
        else None
    )
    draft = _draft(
        metric=metric,
        comparison=comparison,
        direction=direction,
        threshold=threshold,
        candidate=candidate_value,
        baseline=baseline_value,
        ratio=ratio,
        candidate_n=candidate_n,
        baseline_n=baseline_n,
        method=(
            "summary ratio candidate / baseline, no CI"
            if comparison == "relative"
            else "summary value, no CI"
        ),
    )
    if unavailable_reason:
        return _insufficient(draft, unavailable_reason)
    if candidate_value is None:
        return _insufficient(draft, "no candidate figure in the window")
    if comparison == "relative":
        if ratio is None:
            return _insufficient(
                draft, f"baseline figure is {_fmt(baseline_value)}: no ratio (use an absolute one)"
            )
        return _judged(draft, ratio, ratio, ratio)
    return _judged(draft, candidate_value, candidate_value, candidate_value)


# --------------------------------------------------------------------------
# Overall verdict and red flags
# --------------------------------------------------------------------------


def overall_verdict(
    criteria: Iterable[WeightedVerdict],
    *,
    pass_score: float = 90.0,
    marginal_score: float = 75.0,
) -> Overall:
    """Kayenta's scheme, adapted.

    Any critical ``fail`` → fail; else any critical ``insufficient_data`` →
    insufficient_data; else by the score: pass at ≥ ``pass_score``, marginal
    at ≥ ``marginal_score``, fail below. score = 100 × Σ weight of passing /
    Σ weight of judged criteria, a marginal counting half its weight; judged
    means pass, marginal or fail (a non-critical insufficient_data criterion
    is not judged). The score is reported in the critical cases too, for the
    reader; it is None when nothing (or zero weight) was judged, and then the
    verdict is insufficient_data.
    """
    if marginal_score > pass_score:
        raise ValueError("marginal_score must not exceed pass_score")
    items = list(criteria)
    judged = [c for c in items if c.verdict != "insufficient_data"]
    total = sum((Fraction(c.weight) for c in judged), Fraction(0))
    earned = sum(
        (
            Fraction(c.weight) * (1 if c.verdict == "pass" else Fraction(1, 2))
            for c in judged
            if c.verdict in ("pass", "marginal")
        ),
        Fraction(0),
    )
    score = 100 * earned / total if total > 0 else None
    score_out = None if score is None else float(score)

    critical_failed = [c.metric for c in items if c.critical and c.verdict == "fail"]
    if critical_failed:
        return Overall("fail", score_out, f"critical criteria failed: {', '.join(critical_failed)}")
    critical_unknown = [c.metric for c in items if c.critical and c.verdict == "insufficient_data"]
    if critical_unknown:
        return Overall(
            "insufficient_data",
            score_out,
            f"critical criteria without enough data: {', '.join(critical_unknown)}",
        )
    if score is None:
        return Overall("insufficient_data", None, "no criterion could be judged")
    if score >= Fraction(pass_score):
        verdict: Verdict = "pass"
    elif score >= Fraction(marginal_score):
        verdict = "marginal"
    else:
        verdict = "fail"
    return Overall(
        verdict,
        score_out,
        f"score {float(score):.4g} (pass ≥ {pass_score:g}, marginal ≥ {marginal_score:g})",
    )


def red_flags(
    *,
    window_seconds: float,
    p999_ratio: float | None = None,
    p99_ratio_threshold: float | None = None,
    throttle_seconds: float | None = None,
    throttle_devices: int = 1,
    max_temperature: float | None = None,
    temperature_limit: float | None = None,
) -> list[RedFlag]:
    """Red flags of the window:

    - tail regression: candidate p99.9 / baseline p99.9 above what the
      (relative, at-most) p99 criterion allows;
    - thermal instability: throttle time over 1 % of the window's
      device-time (the window × ``throttle_devices``, the devices that
      reported throttle time: eight GPUs each throttled 0.5 % are 0.5 %),
      or a max temperature within 5 °C of the device limit, where one is
      known.
    """
    flags = []
    if (
        p999_ratio is not None
        and p99_ratio_threshold is not None
        and p999_ratio > p99_ratio_threshold
    ):
        flags.append(
            RedFlag(
                "tail_regression",
                f"candidate p99.9 is {p999_ratio:.3g}× baseline; "
                f"the p99 criterion allows {p99_ratio_threshold:g}×",
            )
        )
    device_seconds = window_seconds * max(throttle_devices, 1)
    if (
        throttle_seconds is not None
        and device_seconds > 0
        and throttle_seconds > 0.01 * device_seconds
    ):
        flags.append(
            RedFlag(
                "thermal_throttling",
                f"throttled {throttle_seconds:g} s, "
                f"{throttle_seconds / device_seconds:.2%} of the window's device-time "
                f"(over 1 %, {max(throttle_devices, 1)} reporting)",
            )
        )
    if (
        max_temperature is not None
        and temperature_limit is not None
        and max_temperature >= temperature_limit - 5
    ):
        flags.append(
            RedFlag(
                "thermal_headroom",
                f"max temperature {max_temperature:g} °C is within 5 °C "
                f"of the device limit {temperature_limit:g} °C",
            )
        )
    return flags
