"""The notification service: once per event, sent after commit, retried."""

from __future__ import annotations

import threading
from smtplib import SMTPException

import pytest
from django.core import mail
from django.db import connection, connections

from portal.models import Notification
from portal.notifications import notification_send, notify
from portal.tasks import MAX_RETRIES, send_notification

pytestmark = pytest.mark.django_db


def test_notify_sends_once_per_event_key(pm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(
            key="test:1", kind="test", recipients=[pm], template="test", context={"name": "Pat"}
        )
        again = notify(
            key="test:1", kind="test", recipients=[pm], template="test", context={"name": "Pat"}
        )
    assert first is not None
    assert again is None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [pm.email]
    assert message.subject == "[PilotGate] Test notification for Pat"
    assert str(first.uuid) in message.body
    first.refresh_from_db()
    assert first.status == Notification.Status.SENT


def test_a_sent_notification_is_not_sent_again():
    notification = Notification.objects.create(
        uuid="00000000-0000-0000-0000-000000000001",
        key="k",
        kind="test",
        recipients=["a@example.com"],
        subject="s",
        body="b",
    )
    assert notification_send(notification_id=notification.pk) is True
    assert notification_send(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1


def test_nobody_with_an_address_means_no_notification(make_user):
    nobody = make_user("nomail")
    nobody.email = ""
    nobody.save()
    assert (
        notify(key="k2", kind="t", recipients=[nobody, None], template="test", context={}) is None
    )
    assert not Notification.objects.exists()


def test_a_mail_failure_is_retried_and_recorded(monkeypatch, settings):
    notification = Notification.objects.create(
        uuid="00000000-0000-0000-0000-000000000002",
        key="k3",
        kind="test",
        recipients=["a@example.com"],
        subject="s",
        body="b",
    )

    def broken(**kwargs):
        raise SMTPException("relay down")

    monkeypatch.setattr("portal.notifications.send_mail", broken)
    # Run eagerly, each retry runs at once: the first try and MAX_RETRIES more.
    send_notification.apply(args=(notification.pk,))
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.last_error == "relay down"
    assert notification.attempts == 1 + MAX_RETRIES


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_event_notify_once(pm):
    barrier = threading.Barrier(2)
    results: list[object] = []

    def raise_event() -> None:
        try:
            barrier.wait()
            results.append(
                notify(key="race:1", kind="t", recipients=[pm], template="test", context={})
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=raise_event) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r is None for r in results) == [False, True]
    assert Notification.objects.filter(key="race:1").count() == 1
    assert connection.vendor == "postgresql"
