"""The evidence of a go/no-go review, from a frozen snapshot (issue 11, §3).

Pure and typed, no Django: ``evaluate(snapshot)`` turns the snapshot the
review service froze at submission (every input figure, the parameters and
the seed) into the result the API shows. Re-running it on a stored snapshot
gives the same result, verdict for verdict; ``EVIDENCE_VERSION`` names the
rules, so a later change of rules can tell old snapshots apart.

Snapshot layout (plain JSON; bucket bounds are strings, "+Inf" included,
because PostgreSQL's jsonb has no infinity)::

    {"version", "seed",
     "parameters": {"criteria": [{"id", "metric", "comparison", "direction",
                                  "threshold", "critical", "weight"}],
                    "pass_score", "marginal_score", "resamples", "level",
                    "temperature_limit"},
     "inputs": {"window_start", "window_end", "window_seconds",
                "unit_economics": {"available", "reason"},
                "candidate": SIDE, "baseline": SIDE}}

    SIDE = {"source": "pilot" | "backend",
            "e2e": HIST, "ttft": HIST,
            "requests": float, "errors": float,
            "tokens": [[amount, seconds], ...],          # one per hour with data
            "summary": {"joules_per_token", "temperature_max",
                        "throttle_seconds", "throttle_events",
                        "throttle_devices"},   # absent in older snapshots: 1
            "cost_per_1m_tokens": str | None, "cost_per_inference": str | None}
    HIST = {"bounds": ["0.1", ..., "+Inf"], "counts": [[c or None, ...], ...]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from metrics.quantile import histogram_quantile
from reviews import stats

__all__ = [
    "EVIDENCE_VERSION",
    "QUANTILE_METRICS",
    "SUMMARY_METRICS",
    "evaluate",
    "histogram_from_json",
    "histogram_to_json",
]

EVIDENCE_VERSION = "pilotgate-evidence/1"

# Exit-criterion metric -> (histogram family, q)
QUANTILE_METRICS: dict[str, tuple[str, float]] = {
    "e2e_latency_p50": ("e2e", 0.5),
    "e2e_latency_p95": ("e2e", 0.95),
    "e2e_latency_p99": ("e2e", 0.99),
    "e2e_latency_p999": ("e2e", 0.999),
    "ttft_p50": ("ttft", 0.5),
    "ttft_p95": ("ttft", 0.95),
    "ttft_p99": ("ttft", 0.99),
    "ttft_p999": ("ttft", 0.999),
}
# Exit-criterion metric -> summary field
SUMMARY_METRICS: dict[str, str] = {
    "joules_per_token": "joules_per_token",
    "max_temperature": "temperature_max",
    "throttle_seconds": "throttle_seconds",
    "throttle_events": "throttle_events",
}
COST_METRICS = ("cost_per_1m_tokens", "cost_per_inference")
UNIT_ECONOMICS_MISSING = "unit economics are not available yet"


def _bound_key(le: float) -> str:
    return "+Inf" if math.isinf(le) and le > 0 else repr(float(le))


def histogram_to_json(slices: Sequence[Mapping[float, float]]) -> dict[str, Any]:
    """Hourly bucket slices as the snapshot stores them (bounds as strings)."""
    bounds = sorted({float(le) for part in slices for le in part})
    return {
        "bounds": [_bound_key(le) for le in bounds],
        "counts": [[part.get(le) for le in bounds] for part in slices],
    }


def histogram_from_json(data: Mapping[str, Any]) -> list[dict[float, float]]:
    """The hourly bucket slices of a stored histogram."""
    bounds = [float(b) for b in data.get("bounds", [])]
    return [
        {le: float(count) for le, count in zip(bounds, row, strict=True) if count is not None}
        for row in data.get("counts", [])
    ]


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _judge(
    criterion: Mapping[str, Any],
    inputs: Mapping[str, Any],
    hists: Mapping[str, Mapping[str, list[dict[float, float]]]],
    *,
    seed: int,
    resamples: int,
    level: float,
    cache: stats.QuantileCache,
) -> stats.CriterionResult:
    metric = str(criterion["metric"])
    comparison: stats.Comparison = criterion["comparison"]
    direction: stats.Direction = criterion["direction"]
    threshold = float(Decimal(str(criterion["threshold"])))
    candidate, baseline = inputs["candidate"], inputs["baseline"]
    common: dict[str, Any] = {
        "metric": metric,
        "comparison": comparison,
        "direction": direction,
        "threshold": threshold,
    }
    if metric in QUANTILE_METRICS:
        family, q = QUANTILE_METRICS[metric]
        return stats.judge_quantile(
            **common,
            q=q,
            candidate_slices=hists["candidate"][family],
            baseline_slices=hists["baseline"][family],
            seed=seed,
            resamples=resamples,
            level=level,
            cache=cache,
        )
    if metric == "error_rate":
        return stats.judge_error_rate(
            **common,
            candidate_errors=float(candidate["errors"]),
            candidate_requests=float(candidate["requests"]),
            baseline_errors=float(baseline["errors"]),
            baseline_requests=float(baseline["requests"]),
            level=level,
        )
    if metric == "tokens_per_second":
        return stats.judge_throughput(
            **common,
            candidate_slices=[stats.RateSlice(a, s) for a, s in candidate["tokens"]],
            baseline_slices=[stats.RateSlice(a, s) for a, s in baseline["tokens"]],
            seed=seed,
            resamples=resamples,
            level=level,
        )
    if metric in SUMMARY_METRICS:
        field = SUMMARY_METRICS[metric]
        return stats.judge_summary(
            **common,
            candidate=_float(candidate["summary"].get(field)),
            baseline=_float(baseline["summary"].get(field)),
        )
    if metric in COST_METRICS:
        economics = inputs.get("unit_economics") or {}
        reason = None if economics.get("available") else economics.get("reason")
        return stats.judge_summary(
            **common,
            candidate=_float(candidate.get(metric)),
            baseline=_float(baseline.get(metric)),
            unavailable_reason=reason or None,
        )
    return stats.judge_summary(
        **common, candidate=None, baseline=None, unavailable_reason=f"unknown metric {metric!r}"
    )


def _settled(result: stats.CriterionResult) -> stats.CriterionResult:
    """The CI rounded to 12 significant digits, and the verdict on it.

    Bootstrap replicates of one figure differ in their last bits (fractional
    bucket counts summed in another order), so two equal distributions give
    a ratio CI of [1 - 3e-15, 1 + 3e-15], which "at most 1.0" would call
    marginal. Twelve digits is far below any difference a threshold means."""
    if result.verdict == "insufficient_data" or result.ci_low is None or result.ci_high is None:
        return result
    low, high = float(f"{result.ci_low:.12g}"), float(f"{result.ci_high:.12g}")
    verdict = stats.verdict_for(result.direction, result.threshold, low, high)
    return replace(result, ci_low=low, ci_high=high, verdict=verdict)


def _p999_ratio(
    hists: Mapping[str, Mapping[str, list[dict[float, float]]]], cache: stats.QuantileCache
) -> float | None:
    candidate = histogram_quantile(0.999, cache.merged(hists["candidate"]["e2e"]))
    baseline = histogram_quantile(0.999, cache.merged(hists["baseline"]["e2e"]))
    if math.isnan(candidate) or math.isnan(baseline) or baseline <= 0:
        return None
    return candidate / baseline


def evaluate(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence result of a snapshot: overall verdict and score, one
    entry per criterion (the API's field names, plus ``critical`` and
    ``weight``), red flags, the window, the series each side was read from,
    the seed and the rules' version."""
    parameters = snapshot["parameters"]
    inputs = snapshot["inputs"]
    seed = int(snapshot["seed"])
    resamples = int(parameters["resamples"])
    level = float(parameters["level"])
    hists = {
        side: {
            family: histogram_from_json(inputs[side][family] or {}) for family in ("e2e", "ttft")
        }
        for side in ("candidate", "baseline")
    }

    # Shared by the quantile criteria: same slices, same seed, same draws.
    cache = stats.QuantileCache()
    criteria: list[dict[str, Any]] = []
    weighted: list[stats.WeightedVerdict] = []
    for criterion in parameters["criteria"]:
        result = _settled(
            _judge(
                criterion, inputs, hists, seed=seed, resamples=resamples, level=level, cache=cache
            )
        )
        criteria.append(
            {
                **result.to_dict(),
                "critical": bool(criterion["critical"]),
                "weight": float(criterion["weight"]),
            }
        )
        weighted.append(
            stats.WeightedVerdict(
                result.metric,
                result.verdict,
                bool(criterion["critical"]),
                float(criterion["weight"]),
            )
        )
    overall = stats.overall_verdict(
        weighted,
        pass_score=float(parameters["pass_score"]),
        marginal_score=float(parameters["marginal_score"]),
    )

    p99_threshold = next(
        (
            float(Decimal(str(c["threshold"])))
            for c in parameters["criteria"]
            if c["metric"] == "e2e_latency_p99"
            and c["comparison"] == "relative"
            and c["direction"] == "at_most"
        ),
        None,
    )
    flags = stats.red_flags(
        window_seconds=float(inputs["window_seconds"]),
        p999_ratio=_p999_ratio(hists, cache) if p99_threshold is not None else None,
        p99_ratio_threshold=p99_threshold,
        throttle_seconds=_float(inputs["candidate"]["summary"].get("throttle_seconds")),
        throttle_devices=int(inputs["candidate"]["summary"].get("throttle_devices") or 1),
        max_temperature=_float(inputs["candidate"]["summary"].get("temperature_max")),
        temperature_limit=_float(parameters.get("temperature_limit")),
    )
    return {
        "verdict": overall.verdict,
        "score": overall.score,
        "reason": overall.reason,
        "window_start": inputs["window_start"],
        "window_end": inputs["window_end"],
        "sources": {
            "candidate": inputs["candidate"]["source"],
            "baseline": inputs["baseline"]["source"],
        },
        "criteria": criteria,
        "red_flags": [flag.to_dict() for flag in flags],
        "seed": seed,
        "version": snapshot["version"],
    }
