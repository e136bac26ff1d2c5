"""Celery tasks of the portal: sending notifications. Thin: an id in, the
service does the work, and a task run twice sends once."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import Task, shared_task

from portal.models import Notification
from portal.notifications import notification_send

__all__ = ["send_notification"]

logger = logging.getLogger(__name__)

MAX_RETRIES = 6


@shared_task(
    bind=True,
    name="portal.send_notification",
    time_limit=60,
    soft_time_limit=50,
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
def send_notification(self: Task[[int], bool], notification_id: int) -> bool:
    """Send one notification; on a mail failure retry after 30 s, 60 s, 120 s ..."""
    try:
        return notification_send(notification_id=notification_id)
    except (SMTPException, OSError) as exc:
        Notification.objects.filter(pk=notification_id).update(last_error=str(exc)[:500])
        if self.request.retries >= MAX_RETRIES:
            Notification.objects.filter(pk=notification_id).update(
                status=Notification.Status.FAILED
            )
            logger.error("Notification %s failed for good: %s", notification_id, exc)
            return False
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
