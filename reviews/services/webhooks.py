"""Outgoing webhooks of a pilot: review events as signed JSON POSTs.

Signature: ``X-PilotGate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the webhook's secret>``; receivers refuse a ``t`` outside
their replay window (``SIGNATURE_TOLERANCE`` is ours, for ``verify``).
``X-PilotGate-Event-Id`` (also ``"id"`` in the body) is the same for every
attempt of an event: delivery is at least once and the receiver
de-duplicates on it. A failed attempt (network error or a non-2xx answer)
is retried by a Celery task with exponential backoff, each attempt a
``WebhookDelivery`` row the pilot page lists with its response code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from pilots.models import Pilot
from portal.audit import Actor
from portal.models import ChangeRecord
from reviews.models import Webhook, WebhookDelivery, webhook_host_allowed
from reviews.services._common import ReviewError, audit, fields_of

__all__ = [
    "MAX_ATTEMPTS",
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE",
    "backoff_seconds",
    "sign",
    "verify",
    "webhook_create",
    "webhook_deliver",
    "webhook_dispatch",
    "webhook_update",
]

SIGNATURE_HEADER = "X-PilotGate-Signature"
EVENT_ID_HEADER = "X-PilotGate-Event-Id"
SIGNATURE_TOLERANCE = 300
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 10
BACKOFF_BASE_SECONDS = 30


def backoff_seconds(attempt: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Wait before attempt ``attempt + 1``: base × 2^(attempt - 1) (30 s, 60 s, 120 s ...)."""
    return float(base * 2 ** (attempt - 1))


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    *, secret: str, body: bytes, header: str, now: float | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does: the HMAC matches and ``t`` is within the replay window."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _check_url(url: str) -> None:
    if not webhook_host_allowed(url):
        host = urlsplit(url).hostname or "This URL's host"
        raise ReviewError({"url": f"{host} is not an allowed webhook host; ask a platform admin."})


@transaction.atomic
def webhook_create(
    *, pilot: Pilot, actor: Actor, url: str, secret: str, active: bool = True
) -> Webhook:
    _check_url(url)
    webhook = Webhook(pilot=pilot, url=url, secret=secret, active=active)
    webhook.full_clean()
    webhook.save()
    audit(actor=actor, instance=webhook, pilot_id=pilot.pk, action=ChangeRecord.Action.CREATE)
    return webhook


@transaction.atomic
def webhook_update(*, webhook: Webhook, actor: Actor, data: Mapping[str, Any]) -> Webhook:
    unknown = set(data) - {"url", "secret", "active"}
    if unknown:
        raise ReviewError(f"These webhook fields cannot be edited: {', '.join(sorted(unknown))}.")
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    before = fields_of(webhook)
    for field, value in data.items():
        setattr(webhook, field, value)
    _check_url(webhook.url)
    webhook.full_clean()
    webhook.save()
    audit(
        actor=actor,
        instance=webhook,
        pilot_id=webhook.pilot_id,
        action=ChangeRecord.Action.UPDATE,
        before=before,
    )
    return webhook


def webhook_dispatch(
    *, pilot_id: int, event: str, event_id: uuid.UUID, data: Mapping[str, Any]
) -> list[WebhookDelivery]:
    """Owe every active webhook of the pilot this event: one pending
    delivery each, sent by a task after commit. Call it in the transaction
    of the change that raised the event."""
    from reviews.tasks import deliver_webhook

    body = json.dumps(
        {
            "id": str(event_id),
            "event": event,
            "created_at": timezone.now().isoformat(),
            "pilot": pilot_id,
            "data": data,
        },
        cls=DjangoJSONEncoder,
        sort_keys=True,
    )
    deliveries = []
    for webhook in Webhook.objects.filter(pilot_id=pilot_id, active=True):
        delivery = WebhookDelivery.objects.create(
            webhook=webhook, event_id=event_id, event=event, body=body, attempt=1
        )
        deliveries.append(delivery)
        transaction.on_commit(partial(deliver_webhook.delay, delivery.pk))
    return deliveries


def webhook_deliver(*, delivery_id: int, base_backoff: float = BACKOFF_BASE_SECONDS) -> int | None:
    """Send one pending attempt. Returns the id of the next attempt to send
    (after ``backoff_seconds``) when this one failed and attempts remain,
    else None. A delivery already claimed is left alone, so a task run
    twice sends once."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING
    ).update(status=WebhookDelivery.Status.SENDING)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    body = delivery.body.encode()
    status_code: int | None = None
    excerpt = error = ""
    if not webhook.active:
        error = "webhook deactivated"
    elif not webhook_host_allowed(webhook.url):
        # The allow-list may have shrunk since the webhook was saved.
        error = "host no longer allowed"
    else:
        request = urllib.request.Request(  # noqa: S310 - scheme and host checked
            webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "PilotGate-Webhook/1",
                SIGNATURE_HEADER: sign(
                    secret=webhook.secret, body=body, timestamp=int(time.time())
                ),
                EVENT_ID_HEADER: str(delivery.event_id),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                status_code = int(response.status)
                excerpt = response.read(500).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status_code = int(exc.code)
            excerpt = exc.read(500).decode(errors="replace") if exc.fp else ""
        except (urllib.error.URLError, OSError) as exc:
            error = f"no response: {type(exc).__name__}"
    delivered = status_code is not None and 200 <= status_code < 300
    retry = not delivered and not error.startswith(("webhook", "host"))
    retry = retry and delivery.attempt < MAX_ATTEMPTS
    next_at = timezone.now() + dt.timedelta(seconds=backoff_seconds(delivery.attempt, base_backoff))
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.DELIVERED if delivered else WebhookDelivery.Status.FAILED,
            status_code=status_code,
            response_excerpt=excerpt[:500],
            error=error[:300],
            sent_at=timezone.now(),
            next_retry_at=next_at if retry else None,
        )
        if not retry:
            return None
        following, _ = WebhookDelivery.objects.get_or_create(
            webhook=webhook,
            event_id=delivery.event_id,
            attempt=delivery.attempt + 1,
            defaults={"event": delivery.event, "body": delivery.body},
        )
    return following.pk
