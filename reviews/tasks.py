"""Tasks of the reviews app: webhook deliveries. Thin: an id in, the
service sends; a task run twice sends once (the delivery is claimed)."""

from __future__ import annotations

from celery import Task, shared_task

from reviews.models import WebhookDelivery
from reviews.services.webhooks import backoff_seconds, webhook_deliver

__all__ = ["deliver_webhook"]


@shared_task(
    bind=True,
    name="reviews.deliver_webhook",
    time_limit=60,
    soft_time_limit=50,
    ignore_result=True,
)
def deliver_webhook(self: Task[[int], None], delivery_id: int) -> None:
    """Send one attempt; a failed one schedules the next after 30 s, 60 s, 120 s ..."""
    following = webhook_deliver(delivery_id=delivery_id)
    if following is not None:
        attempt = WebhookDelivery.objects.values_list("attempt", flat=True).get(pk=following)
        deliver_webhook.apply_async((following,), countdown=backoff_seconds(attempt - 1))
