"""Webhooks: allowed hosts only, HMAC signature with a timestamp, retries
with backoff against a local receiver, one event id for every attempt."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from reviews.models import Webhook, WebhookDelivery
from reviews.services import review_submit, sign, verify, webhook_create, webhook_deliver
from reviews.services.webhooks import SIGNATURE_HEADER, backoff_seconds
from tests.reviews.builders import pilot_in_canary

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that fails the first ``failures`` posts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = 503 if len(receiver.received) <= receiver.failures else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"busy" if code == 503 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    server = Receiver(failures=2)
    yield server
    server.close()


def test_the_signature_covers_timestamp_and_body() -> None:
    header = sign(secret="s3cret", body=b'{"a":1}', timestamp=1_700_000_000)
    assert verify(secret="s3cret", body=b'{"a":1}', header=header, now=1_700_000_010)
    assert not verify(secret="s3cret", body=b'{"a":2}', header=header, now=1_700_000_010)
    assert not verify(secret="other", body=b'{"a":1}', header=header, now=1_700_000_010)
    # Outside the replay window.
    assert not verify(secret="s3cret", body=b'{"a":1}', header=header, now=1_700_001_000)


def test_a_host_not_allowed_is_refused_at_save(
    settings: Any, pilot_team: Any, approver: Any, pm: Any
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    pilot, _, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    with pytest.raises(ValidationError) as refused:
        webhook_create(pilot=pilot, actor=pm, url="http://169.254.169.254/latest", secret="x")
    assert "url" in refused.value.message_dict
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(ValidationError):
        webhook_create(pilot=pilot, actor=pm, url="https://hooks.example.com/x", secret="x")
    assert not Webhook.objects.exists()


def test_backoff_doubles() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]


def test_a_submitted_review_is_delivered_signed_after_retries(
    receiver: Receiver,
    pilot_team: Any,
    approver: Any,
    pm: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    webhook = webhook_create(pilot=pilot, actor=pm, url=receiver.url, secret="s3cret")
    with django_capture_on_commit_callbacks(execute=True):
        review = review_submit(pilot=pilot, actor=pilot_team, phase=phase, recommendation="go")

    attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
    assert [(a.attempt, a.status, a.status_code) for a in attempts] == [
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    assert attempts[0].next_retry_at is not None and attempts[2].next_retry_at is None
    assert len({a.event_id for a in attempts}) == 1
    assert len(receiver.received) == 3
    ids = set()
    for headers, body in receiver.received:
        assert verify(
            secret="s3cret", body=body, header=headers[SIGNATURE_HEADER.lower()], now=time.time()
        )
        payload = json.loads(body)
        ids.add(payload["id"])
        assert payload["event"] == "review.submitted"
        assert payload["data"]["review_id"] == review.pk
    assert ids == {str(attempts[0].event_id)}


def test_a_delivery_is_sent_once_however_often_the_task_runs(
    receiver: Receiver, pilot_team: Any, approver: Any, pm: Any
) -> None:
    receiver.failures = 0
    pilot, _, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    webhook = webhook_create(pilot=pilot, actor=pm, url=receiver.url, secret="s")
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="test", body="{}")
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1


def test_retries_stop_after_the_last_attempt(
    receiver: Receiver, pilot_team: Any, approver: Any, pm: Any
) -> None:
    receiver.failures = 100
    pilot, _, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    webhook = webhook_create(pilot=pilot, actor=pm, url=receiver.url, secret="s")
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="test", body="{}")
    following: int | None = delivery.pk
    while following is not None:
        following = webhook_deliver(delivery_id=following)
    assert WebhookDelivery.objects.filter(webhook=webhook).count() == 6
    assert not WebhookDelivery.objects.filter(status="pending").exists()
