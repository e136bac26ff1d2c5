"""What costs does when metrics says something happened (metrics never
imports costs: it sends ``metrics.signals`` and costs listens here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from costs.services import allocation_refresh_later


def refresh_after_import(
    sender: Any,
    *,
    backend_id: int,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    **kwargs: Any,
) -> None:
    """An import changed the rollups of its window: refresh those days.

    The signal comes after the import committed; the refresh is enqueued
    at once (``on_commit`` outside a transaction runs immediately). The
    day after the window's end is included: the first sample after the
    window changed its step, which may fall in the next day.
    """
    if window_start is None or window_end is None:
        return
    allocation_refresh_later(
        backend_ids=[backend_id],
        start=window_start.astimezone(dt.UTC).date(),
        end=window_end.astimezone(dt.UTC).date() + dt.timedelta(days=1),
    )
