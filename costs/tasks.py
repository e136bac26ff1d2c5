"""Celery tasks of the costs app. Thin: plain values in, the allocation
service does the work, and running a task twice changes nothing (it
replaces the rows of the days it refreshes)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from costs.services import allocation_refresh
from costs.services.budgets import budgets_check_after_refresh

__all__ = ["refresh_allocation"]


@shared_task(
    name="costs.refresh_allocation",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=900,
    soft_time_limit=840,
    ignore_result=True,
)
def refresh_allocation(backend_ids: list[int] | None, start: str, end: str) -> dict[str, int]:
    """Recompute the stored allocation of days ``start``..``end`` (ISO
    dates, inclusive) of ``backend_ids`` (None: every backend)."""
    result = allocation_refresh(
        backend_ids=backend_ids,
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
    )
    budgets_check_after_refresh(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end))
    return {"backend_days": result.backend_days, "lines": result.lines}
