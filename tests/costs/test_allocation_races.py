"""The allocation lock on PostgreSQL (issues 9 and 10): two refreshes of one
backend and month at once, and a refresh racing the close of its month.

Each racer runs in its own thread with its own connection; a wrapped step
widens the window in which the other would interleave without the lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from costs.models import BackendDay, DailyAllocation, Statement
from costs.services import allocation as allocation_service
from costs.services import allocation_refresh, period_close
from costs.services.chargeback import month_drafts
from tests.costs.chargeback_data import OCTOBER, add_usage, build_world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored daily row, without ids (a rewrite gives new ones)."""
    days = list(
        BackendDay.objects.order_by("backend_id", "day").values_list(
            "backend_id", "day", "cost", "basis_total", "utilization"
        )
    )
    lines = list(
        DailyAllocation.objects.order_by("backend_id", "day", "cost_center_id", "kind").values_list(
            "backend_id", "day", "cost_center_id", "kind", "quantity", "amount"
        )
    )
    return days, lines


def _race(*targets: Callable[[], object]) -> list[BaseException]:
    """Run ``targets`` at once, one thread and connection each; their errors."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> None:
        try:
            barrier.wait()
            target()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return errors


def test_two_refreshes_of_one_backend_and_month_store_what_one_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = build_world()
    allocation_refresh(backend_ids=[world.backend.pk], start=OCTOBER.start, end=OCTOBER.end)
    expected = _rows()
    assert expected[1], "the world has lines to race over"
    store = allocation_service._store_lines

    def slow_store(lines: list[Any]) -> None:
        # Between deleting the old rows and inserting the new lines: without
        # the lock, the other refresh deletes and inserts here too.
        time.sleep(0.3)
        store(lines)

    monkeypatch.setattr(allocation_service, "_store_lines", slow_store)

    def refresh() -> None:
        allocation_refresh(backend_ids=[world.backend.pk], start=OCTOBER.start, end=OCTOBER.end)

    errors = _race(refresh, refresh)

    assert errors == []
    days, lines = _rows()
    assert days == expected[0]
    assert lines == expected[1]  # none duplicated, none missing, amounts to the digit
    assert sum(line[-1] for line in lines) == sum(day[2] for day in days)


def test_a_refresh_that_read_the_month_open_does_not_rewrite_it_after_the_close(
    monkeypatch: pytest.MonkeyPatch, finance: Any
) -> None:
    world = build_world()
    read = threading.Event()
    closed = threading.Event()
    allocate = allocation_service._allocate

    def allocate_then_wait(**kwargs: Any) -> Any:
        found = allocate(**kwargs)
        if threading.current_thread().name == "stale-refresh" and not read.is_set():
            # The refresh has read October's usage and status, and priced its
            # first day: the close may commit now (it waits at most this long
            # when the refresh holds it up).
            read.set()
            closed.wait(timeout=1.5)
        return found

    monkeypatch.setattr(allocation_service, "_allocate", allocate_then_wait)
    errors: list[BaseException] = []

    def stale_refresh() -> None:
        try:
            allocation_refresh(backend_ids=None, start=OCTOBER.start, end=OCTOBER.end)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    def close() -> None:
        try:
            period_close(period=OCTOBER, actor=finance)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            closed.set()
            connections.close_all()

    refresher = threading.Thread(target=stale_refresh, name="stale-refresh")
    refresher.start()
    assert read.wait(timeout=30)
    # Late usage of October 1st arrives after the refresh read, before the
    # close: the close books it, the stale reading does not have it.
    add_usage(world.backend, OCTOBER.start, team="search", tokens=20_000, hour=11)
    closer = threading.Thread(target=close)
    closer.start()
    for thread in (refresher, closer):
        thread.join(timeout=60)
        assert not thread.is_alive(), "a racer hung"

    assert errors == []
    frozen = dict(
        Statement.objects.filter(period__period=str(OCTOBER)).values_list(
            "cost_center_code", "total"
        )
    )
    _, drafts = month_drafts(OCTOBER)
    stored = {
        code: sum((d.amount for d in lines if d.charged), Decimal(0))
        for code, lines in drafts.items()
    }
    # October's stored daily rows are still exactly what its statements froze.
    assert {code: total for code, total in frozen.items() if total} == stored
