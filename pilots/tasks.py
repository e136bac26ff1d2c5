"""Celery tasks of the pilots app: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

__all__ = ["contract_notice_reminders"]


@shared_task(name="pilots.contract_notice_reminders", time_limit=300, soft_time_limit=270)
def contract_notice_reminders() -> int:
    """Daily: remind procurement of notice dates in the next 90 days (each
    contract and notice date once, whatever the number of runs)."""
    from pilots.services.vendors import contract_notice_reminders as remind

    return remind(today=timezone.now().date())
