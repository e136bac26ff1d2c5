"""Gathering the evidence of a review: the window's figures from the metrics
rollups (and unit economics from costs, when that has landed) frozen into a
snapshot, then judged by the pure ``reviews.evidence.evaluate``."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from costs import selectors as cost_selectors
from metrics import catalog
from metrics import selectors as metrics_selectors
from pilots.models import Backend, Phase, Pilot
from reviews import evidence, stats
from reviews.models import ReviewSettings

__all__ = ["evidence_seed", "evidence_snapshot", "review_settings_for"]

logger = logging.getLogger(__name__)

HOUR_SECONDS = 3600.0
# The metrics the snapshot's summary figures come from (joules per token =
# energy / generated tokens); the summary reads only these.
SUMMARY_INPUTS = (
    catalog.ENERGY,
    catalog.GENERATION_TOKENS,
    catalog.TEMPERATURE,
    catalog.THROTTLE_SECONDS,
    catalog.THROTTLE_EVENTS,
)


def evidence_seed(*, pilot_id: int, phase_id: int, submitted_at: dt.datetime) -> int:
    """The bootstrap's seed: a hash of the pilot, the phase and the instant of
    submission, stored on the review so the evidence can be recomputed."""
    text = f"{pilot_id}:{phase_id}:{submitted_at.astimezone(dt.UTC).isoformat()}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def review_settings_for(pilot: Pilot) -> ReviewSettings:
    """The pilot's review settings, or the defaults (unsaved) without a row."""
    found = ReviewSettings.objects.filter(pilot=pilot).first()
    return found if found is not None else ReviewSettings(pilot=pilot)


def _money(value: Any) -> str | None:
    return None if value is None else str(Decimal(value))


UnitEconomics = Callable[..., Any]


def _unit_economics() -> UnitEconomics | None:
    # The showback issue adds it in parallel; until it lands the cost
    # criteria are insufficient_data with the reason.
    found = getattr(cost_selectors, "unit_economics_window", None)
    return found if callable(found) else None


def _side(
    *,
    backend: Backend,
    pilot: Pilot,
    start: dt.datetime,
    end: dt.datetime,
    economics: UnitEconomics | None,
) -> tuple[dict[str, Any], str]:
    """One side's inputs and, if unit economics failed, why."""
    named = metrics_selectors.pilot_has_series(backend=backend, pilot=pilot, start=start, end=end)
    scope = pilot if named else None
    slices = metrics_selectors.hourly_slices(backend=backend, start=start, end=end, pilot=scope)
    summary = metrics_selectors.metrics_summary(
        backend=backend, start=start, end=end, pilot=scope, metrics=SUMMARY_INPUTS
    )
    side: dict[str, Any] = {
        "backend": backend.slug,
        "source": slices.source,
        "e2e": evidence.histogram_to_json([b for _, b in slices.e2e]),
        "ttft": evidence.histogram_to_json([b for _, b in slices.ttft]),
        "requests": sum(v for _, v in slices.requests),
        "errors": sum(v for _, v in slices.errors),
        # Each hour with token data counts as 3600 observed seconds.
        "tokens": [[amount, HOUR_SECONDS] for _, amount in slices.tokens],
        "summary": {
            "joules_per_token": summary.joules_per_token,
            "temperature_max": summary.temperature_max,
            "throttle_seconds": summary.throttle_seconds,
            "throttle_events": summary.throttle_events,
            "throttle_devices": metrics_selectors.throttle_devices(
                backend=backend, start=start, end=end, pilot=scope
            ),
        },
        "cost_per_1m_tokens": None,
        "cost_per_inference": None,
    }
    problem = ""
    if economics is not None:
        try:
            figures = economics(backend=backend, start=start, end=end)
        except (TypeError, ValueError, LookupError, ArithmeticError):
            logger.exception("unit economics failed for %s", backend.slug)
            problem = "unit economics could not be computed for this window"
        else:
            side["cost_per_1m_tokens"] = _money(getattr(figures, "cost_per_1m_tokens", None))
            side["cost_per_inference"] = _money(getattr(figures, "cost_per_inference", None))
    return side, problem


def evidence_snapshot(
    *, pilot: Pilot, phase: Phase, start: dt.datetime, end: dt.datetime, seed: int
) -> dict[str, Any]:
    """Every input figure of the evidence over [start, end), the parameters
    (criteria, score thresholds, resamples) and the seed: what ``evaluate``
    needs, and all it needs, to give the review's verdicts again."""
    settings = review_settings_for(pilot)
    economics = _unit_economics()
    if end <= start:
        end = start + dt.timedelta(microseconds=1)
    candidate, problem_c = _side(
        backend=pilot.candidate_backend, pilot=pilot, start=start, end=end, economics=economics
    )
    baseline, problem_b = _side(
        backend=pilot.baseline_backend, pilot=pilot, start=start, end=end, economics=economics
    )
    if economics is None:
        unit = {"available": False, "reason": evidence.UNIT_ECONOMICS_MISSING}
    elif problem_c or problem_b:
        unit = {"available": False, "reason": problem_c or problem_b}
    else:
        unit = {"available": True, "reason": ""}
    criteria = [
        {
            "id": c.pk,
            "metric": c.metric,
            "comparison": c.comparison,
            "direction": c.direction,
            "threshold": format(c.threshold.normalize(), "f"),
            "critical": c.critical,
            "weight": c.weight,
        }
        for c in phase.exit_criteria.order_by("id")
    ]
    return {
        "version": evidence.EVIDENCE_VERSION,
        "seed": seed,
        "parameters": {
            "criteria": criteria,
            "pass_score": settings.pass_score,
            "marginal_score": settings.marginal_score,
            "resamples": max(settings.resamples, stats.DEFAULT_RESAMPLES),
            "level": stats.DEFAULT_LEVEL,
            "temperature_limit": settings.temperature_limit,
        },
        "inputs": {
            "window_start": start.astimezone(dt.UTC).isoformat(),
            "window_end": end.astimezone(dt.UTC).isoformat(),
            "window_seconds": (end - start).total_seconds(),
            "unit_economics": unit,
            "candidate": candidate,
            "baseline": baseline,
        },
    }
