#!/usr/bin/env python
"""Evidence statistics benchmark: figures, not a pass/fail test (issue 11, section 9).

Judges 10 criteria over 6 weeks of hourly slices (1008 per side, 22 vLLM-like
latency buckets, 1000 bootstrap resamples per bootstrapped criterion) with
``reviews.stats`` alone: no database, no reading of samples. Prints the time
of the whole judgement (best of ``--repeat``) and of each criterion.

Run: ``.venv/bin/python bench/evidence_stats_bench.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reviews.stats import (
    CriterionResult,
    RateSlice,
    WeightedVerdict,
    judge_error_rate,
    judge_quantile,
    judge_summary,
    judge_throughput,
    overall_verdict,
)

HOURS = 6 * 7 * 24
BOUNDS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3,
    0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, math.inf,
)  # fmt: skip


def hourly_histograms(seed: int, median: float, per_hour: int) -> list[dict[float, float]]:
    """Cumulative bucket counts of lognormal latencies, drawn per hour as
    multinomial bucket counts (same distribution as bucketing samples, faster)."""
    rng = np.random.default_rng(seed)
    finite = np.array(BOUNDS[:-1])
    cdf = 0.5 * (1 + np.vectorize(math.erf)((np.log(finite / median)) / (0.5 * math.sqrt(2))))
    probabilities = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    counts = rng.multinomial(per_hour, probabilities, size=HOURS).cumsum(axis=1)
    return [dict(zip(BOUNDS, row.astype(float).tolist(), strict=True)) for row in counts]


def rates(seed: int, per_second: float) -> list[RateSlice]:
    rng = np.random.default_rng(seed)
    return [RateSlice(float(n), 3600.0) for n in rng.poisson(per_second * 3600, HOURS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    e2e = (hourly_histograms(1, 0.8, 400), hourly_histograms(2, 0.8, 400))
    ttft = (hourly_histograms(3, 0.05, 400), hourly_histograms(4, 0.05, 400))
    tokens = (rates(5, 900.0), rates(6, 1000.0))
    common = {"seed": 20260105, "resamples": args.resamples}

    def quantile(
        metric: str,
        q: float,
        sides: Any,
        comparison: Any = "relative",
        threshold: float = 1.05,
    ) -> Callable[[], Any]:
        return lambda: judge_quantile(
            metric=metric,
            q=q,
            comparison=comparison,
            direction="at_most",
            threshold=threshold,
            candidate_slices=sides[0],
            baseline_slices=sides[1],
            **common,
        )

    criteria: list[tuple[str, Callable[[], CriterionResult]]] = [
        ("e2e p50 ratio", quantile("e2e_latency_p50", 0.5, e2e)),
        ("e2e p95 ratio", quantile("e2e_latency_p95", 0.95, e2e)),
        ("e2e p99 ratio", quantile("e2e_latency_p99", 0.99, e2e)),
        ("e2e p99.9 ratio", quantile("e2e_latency_p999", 0.999, e2e)),
        ("ttft p99 ≤ 0.5 s", quantile("ttft_p99", 0.99, ttft, "absolute", 0.5)),
        (
            "tokens/s ratio",
            lambda: judge_throughput(
                metric="tokens_per_second",
                comparison="relative",
                direction="at_least",
                threshold=0.85,
                candidate_slices=tokens[0],
                baseline_slices=tokens[1],
                **common,
            ),
        ),
        (
            "error rate ratio",
            lambda: judge_error_rate(
                comparison="relative",
                direction="at_most",
                threshold=1.1,
                candidate_errors=410,
                candidate_requests=400 * HOURS,
                baseline_errors=400,
                baseline_requests=400 * HOURS,
            ),
        ),
        (
            "error rate ≤ 0.1 %",
            lambda: judge_error_rate(
                comparison="absolute",
                direction="at_most",
                threshold=0.001,
                candidate_errors=410,
                candidate_requests=400 * HOURS,
            ),
        ),
        (
            "J/token ratio",
            lambda: judge_summary(
                metric="joules_per_token",
                comparison="relative",
                direction="at_most",
                threshold=0.9,
                candidate=0.31,
                baseline=0.4,
            ),
        ),
        (
            "max temperature",
            lambda: judge_summary(
                metric="max_temperature",
                comparison="absolute",
                direction="at_most",
                threshold=85.0,
                candidate=78.0,
                baseline=74.0,
            ),
        ),
    ]

    best = math.inf
    per_criterion = dict.fromkeys((name for name, _ in criteria), math.inf)
    for _ in range(args.repeat):
        started = time.perf_counter()
        results = []
        for name, judge in criteria:
            t0 = time.perf_counter()
            results.append(judge())
            per_criterion[name] = min(per_criterion[name], time.perf_counter() - t0)
        overall = overall_verdict(
            WeightedVerdict(r.metric, r.verdict, critical=False, weight=1) for r in results
        )
        best = min(best, time.perf_counter() - started)

    print(
        f"{len(criteria)} criteria, {HOURS} hourly slices per side, "
        f"{args.resamples} resamples: {best:.3f} s (best of {args.repeat})"
    )
    for (name, _), result in zip(criteria, results, strict=True):
        print(f"  {name:<20} {per_criterion[name] * 1000:7.1f} ms  {result.verdict}")
    print(f"  overall: {overall.verdict}, score {overall.score}")


if __name__ == "__main__":
    main()
