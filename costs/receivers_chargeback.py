"""Chargeback's listener: an import whose window touches a closed month is
late data. It is counted on the period and its effect computed (not
booked) by a task after the import's refresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction

from costs import tasks_chargeback
from costs.services import period_record_late_arrival


def count_late_import(
    sender: Any,
    *,
    job_id: int | None = None,
    backend_id: int,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    **kwargs: Any,
) -> None:
    if window_start is None or window_end is None:
        return
    touched = period_record_late_arrival(
        day_from=window_start.astimezone(dt.UTC).date(),
        day_to=window_end.astimezone(dt.UTC).date(),
        source="metrics import",
        reference=f"import-job:{job_id}",
        backend_id=backend_id,
    )
    for row in touched:
        transaction.on_commit(_enqueue_check(row.period))


def _enqueue_check(period: str) -> Callable[[], None]:
    def enqueue() -> None:
        tasks_chargeback.check_late_data.delay(period)

    return enqueue
