"""Celery tasks of chargeback and budgets (registered by
``costs.receivers_chargeback``, which the app config imports). Thin and
safe to run twice: budget alerts are once per key, the late-data check
overwrites its own figures."""

from __future__ import annotations

from celery import shared_task

from costs.selectors import Period
from costs.services import budgets_check, period_check_late

__all__ = ["check_budgets", "check_late_data"]


@shared_task(
    name="costs.check_budgets",
    acks_late=True,
    time_limit=300,
    soft_time_limit=270,
    ignore_result=True,
)
def check_budgets() -> int:
    """The beat job: alert on every budget threshold reached this month."""
    return budgets_check()


@shared_task(
    name="costs.check_late_data",
    acks_late=True,
    time_limit=900,
    soft_time_limit=840,
    ignore_result=True,
)
def check_late_data(period: str) -> None:
    """What a restatement of the closed ``period`` (YYYY-MM) would change."""
    period_check_late(period=Period.parse(period))
