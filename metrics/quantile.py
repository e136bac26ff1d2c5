"""Quantiles from classic histogram buckets, with the semantics of
Prometheus' ``histogram_quantile`` (promql/quantile.go, ``bucketQuantile``).

Callers pass MERGED bucket counts: for a window, the reset-aware increase of
each cumulative ``le`` bucket, summed over every series (devices, engines,
hours) that shares the ``le``. Averaging per-series or per-hour percentiles
is wrong and is never done.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["histogram_quantile", "merge_buckets"]

# Prometheus ignores tiny decreases between buckets caused by float error.
SMALL_DELTA_TOLERANCE = 1e-12


def merge_buckets(parts: Iterable[Mapping[float, float]]) -> dict[float, float]:
    """Sum cumulative bucket counts by upper bound."""
    merged: dict[float, float] = {}
    for part in parts:
        for le, count in part.items():
            merged[le] = merged.get(le, 0.0) + count
    return merged


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """The ``q``-quantile (0 ≤ q ≤ 1) of cumulative buckets ``{le: count}``.

    - q < 0 gives -Inf, q > 1 gives +Inf, NaN q gives NaN.
    - No +Inf bucket, fewer than two buckets, or zero observations: NaN.
    - Counts that decrease with ``le`` (float error, or buckets scraped at
      slightly different times) are forced monotonic first.
    - The rank ``q * count`` is found by linear interpolation within its
      bucket; the first bucket's lower bound is 0, unless its upper bound is
      not positive, in which case that bound is returned.
    - A rank in the +Inf bucket returns the highest finite upper bound.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return math.nan
    counts = [float(buckets[le]) for le in bounds]
    _ensure_monotonic(counts)
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    # First bucket whose cumulative count reaches the rank (never the +Inf one).
    b = len(bounds) - 1
    for i in range(len(bounds) - 1):
        if counts[i] >= rank:
            b = i
            break
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    bucket_start = 0.0
    bucket_end = bounds[b]
    count = counts[b]
    if b > 0:
        bucket_start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    if count == 0:
        # Only at q=0 with an empty first bucket: Prometheus computes 0/0.
        return math.nan
    return bucket_start + (bucket_end - bucket_start) * (rank / count)


def _ensure_monotonic(counts: list[float]) -> None:
    previous = counts[0] if counts else 0.0
    for i in range(1, len(counts)):
        current = counts[i]
        if current < previous or abs(current - previous) <= SMALL_DELTA_TOLERANCE * max(
            abs(current), abs(previous)
        ):
            counts[i] = previous
        previous = counts[i]
