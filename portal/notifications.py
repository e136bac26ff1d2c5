"""The one notification service: reviews, budgets, red flags and vendor
reminders all notify through ``notify``.

``notify`` renders ``templates/notifications/<template>.txt`` (first line the
subject, the rest the body), inserts a ``Notification`` row keyed by the
event — a second call with the same key inserts nothing and returns None,
whatever the number of workers — and enqueues the send after commit. The
task sends with Django's mail backend and retries with exponential backoff;
a crash between sending and recording may send twice (at least once), so
every message carries the notification's id for de-duplication.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from portal.models import Notification

__all__ = ["notification_send", "notify"]

logger = logging.getLogger(__name__)


def _addresses(recipients: Iterable[User | str | None]) -> list[str]:
    found: list[str] = []
    for recipient in recipients:
        address = recipient.email if isinstance(recipient, User) else recipient
        if address and address not in found:
            found.append(address)
    return found


def notify(
    *,
    key: str,
    kind: str,
    recipients: Iterable[User | str | None],
    template: str,
    context: Mapping[str, Any],
) -> Notification | None:
    """Owe ``recipients`` the message of ``template`` once for event ``key``.

    Returns the new notification, or None when the event was notified before
    or nobody has an address. Call it inside the transaction of the change
    that raised the event: if that rolls back, so does the notification.
    """
    addresses = _addresses(recipients)
    if not addresses:
        return None
    ident = uuid.uuid4()
    text = render_to_string(
        f"notifications/{template}.txt", {**context, "notification_id": ident}
    ).strip()
    subject, _, body = text.partition("\n")
    try:
        # A savepoint: the losing insert of a race must not break the caller's
        # transaction.
        with transaction.atomic():
            notification = Notification.objects.create(
                uuid=ident,
                key=key[:200],
                kind=kind,
                recipients=addresses,
                subject=subject.strip()[:200],
                body=body.strip() + f"\n\n--\nNotification {ident}\n",
            )
    except IntegrityError:
        return None
    from portal.tasks import send_notification

    transaction.on_commit(lambda: send_notification.delay(notification.pk))
    return notification


def notification_send(*, notification_id: int) -> bool:
    """Send one pending notification; True when it was sent now. A sent one
    is left alone, so a redelivered task sends nothing again."""
    notification = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING
    ).first()
    if notification is None:
        return False
    Notification.objects.filter(pk=notification.pk).update(attempts=notification.attempts + 1)
    send_mail(
        subject=f"[PilotGate] {notification.subject}",
        message=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=list(notification.recipients),
        fail_silently=False,
    )
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True
