"""Celery tasks of the costs app. Thin: ids or plain values in, a service does
the work, and running a task twice is harmless (bill imports are claimed;
an allocation refresh replaces the rows of the days it refreshes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task

from costs.services import allocation_refresh, bills
from costs.services.budgets import budgets_check_after_refresh

__all__ = [
    "refresh_allocation",
    "requeue_stale_bill_imports",
    "run_bill_import",
]

# One bill file per task.
BILL_IMPORT_TIME_LIMIT = 3600


BILL_IMPORT_SOFT_TIME_LIMIT = 3300


@shared_task(
    name="costs.run_bill_import",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=BILL_IMPORT_TIME_LIMIT,
    soft_time_limit=BILL_IMPORT_SOFT_TIME_LIMIT,
    ignore_result=True,
)
def run_bill_import(job_id: int) -> dict[str, Any] | None:
    """Import one BillImport by id. A job already done or being run by a
    live worker is left alone; a worker killed mid-job leaves nothing behind
    (one transaction), and the redelivered task imports it again."""
    summary = bills.bill_import_run(job_id=job_id)
    if summary is None:
        return None
    return {key: summary[key] for key in ("job_id", "rows_stored", "duplicates", "rejected")}


@shared_task(name="costs.requeue_stale_bill_imports", time_limit=60, soft_time_limit=50)
def requeue_stale_bill_imports() -> list[int]:
    """Re-enqueue bill imports whose task message was lost (run it from beat)."""
    return bills.bill_imports_requeue_stale()


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
