"""Celery tasks of the costs app. Thin: ids or plain values in, a service does
the work, and running a task twice is harmless (bill imports are claimed;
an allocation refresh replaces the rows of the days it refreshes).

``refresh_open_days`` is the daily beat job that prices the days nothing
else would: a refresh runs on an import, a mapping, cost-model, contract
or bill change, a close or a restatement, so a backend nobody used gets
no daily rows after its cost model's creation and live showback, compare
and budgets of an open month would miss those days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task

from costs.models import ChargebackPeriod, CostModel
from costs.selectors import Period
from costs.services import allocation_refresh, bills
from costs.services.allocation import utc_today
from costs.services.budgets import budgets_check_after_refresh

__all__ = [
    "refresh_allocation",
    "refresh_open_days",
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


@shared_task(
    name="costs.refresh_open_days",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=1800,
    soft_time_limit=1740,
    ignore_result=True,
)
def refresh_open_days() -> dict[str, int]:
    """The daily beat job: refresh every day of the open months up to
    today (this month, and last month until it is closed, so yesterday is
    in even on the 1st) of every backend with a cost model in effect. A
    closed month's days are left alone (the refresh skips them), and a
    second run writes the same rows."""
    today = utc_today()
    this_month = Period(today.year, today.month)
    last_month = this_month.shift(-1)
    last_closed = ChargebackPeriod.objects.filter(
        period=str(last_month), status=ChargebackPeriod.Status.CLOSED
    ).exists()
    start = this_month.start if last_closed else last_month.start
    backend_ids = sorted(
        set(
            CostModel.objects.filter(effective_from__lte=today).values_list("backend_id", flat=True)
        )
    )
    if not backend_ids:
        return {"backend_days": 0, "lines": 0}
    result = allocation_refresh(backend_ids=backend_ids, start=start, end=today)
    budgets_check_after_refresh(start=start, end=today)
    return {"backend_days": result.backend_days, "lines": result.lines}
