"""Signals the pilots app sends for apps above it (which it may not import).

``vendor_data_changed`` is sent after the commit of any write that can
change a red flag (contracts, incidents, stock, units, pilots), with the ids of the
backends it touched (``backend_ids``; None means "any backend"). The reviews
app connects to it and re-evaluates the red flags of the pilots on them.

A contract write also says which days it touched (``days``: the first and
last day of the contract before and after the write, None for other
writes): the costs app refreshes the allocation of those days on the
backends whose cost model takes its opex from contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

__all__ = ["send_vendor_data_changed", "vendor_data_changed"]

vendor_data_changed = Signal()


def send_vendor_data_changed(
    *,
    backend_ids: Iterable[int] | None,
    sender: object,
    days: tuple[dt.date, dt.date] | None = None,
) -> None:
    """Send ``vendor_data_changed`` once the current transaction commits (at
    once outside one): a write that rolls back changes nothing."""
    ids = None if backend_ids is None else sorted(set(backend_ids))
    transaction.on_commit(
        lambda: vendor_data_changed.send(sender=sender, backend_ids=ids, days=days)
    )
