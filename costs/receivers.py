"""What costs does when metrics or pilots says something happened (neither
imports costs: they send ``metrics.signals`` and ``pilots.signals`` and
costs listens here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from costs.models import CostModel, CostModelKind, OpexSource
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


def refresh_after_contract_change(
    sender: Any,
    *,
    backend_ids: list[int] | None = None,
    days: tuple[dt.date, dt.date] | None = None,
    **kwargs: Any,
) -> None:
    """A contract write committed (its fee, period, dates or backends may
    have changed): refresh the days it spans, before and after the write,
    on the backends it covered or covers whose cost model takes its opex
    from contract. Other vendor writes (incidents, stock) cost nothing."""
    if days is None or not backend_ids:
        return
    first_use: dict[int, dt.date] = {}
    for backend_id, effective_from in CostModel.objects.filter(
        backend_id__in=backend_ids, kind=CostModelKind.OWNED, opex_source=OpexSource.CONTRACT
    ).values_list("backend_id", "effective_from"):
        first_use[backend_id] = min(first_use.get(backend_id, effective_from), effective_from)
    if not first_use:
        return
    # Days before the first such model were not priced from contracts.
    start = max(days[0], min(first_use.values()))
    if start <= days[1]:
        allocation_refresh_later(backend_ids=sorted(first_use), start=start, end=days[1])
