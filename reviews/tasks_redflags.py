"""The red-flag task (imported by ``reviews.apps`` so workers register it):
thin, takes ids, may run twice without harm (the evaluation is idempotent)."""

from __future__ import annotations

from celery import shared_task

from reviews.services.redflags import red_flags_evaluate

__all__ = ["evaluate_red_flags"]


@shared_task(name="reviews.evaluate_red_flags", time_limit=600, soft_time_limit=540)
def evaluate_red_flags(backend_ids: list[int] | None = None) -> dict[str, int]:
    """Raise and clear red flags (all pilots, or those on ``backend_ids``);
    the daily beat job calls it without arguments."""
    result = red_flags_evaluate(backend_ids=backend_ids)
    return {"raised": result.raised, "cleared": result.cleared, "updated": result.updated}
