"""The reviews admin saves webhooks and review settings through the review
services: a refused host or threshold is a field error with nothing
written, every change is in the change log with the admin as actor, and
the secret is never shown nor logged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from portal.models import ChangeRecord
from reviews.models import ReviewSettings, Webhook
from tests.factories import PilotFactory

pytestmark = pytest.mark.django_db

SECRET = "admin-typed-secret"


@pytest.fixture(autouse=True)
def _allowed_hosts(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]


@pytest.fixture
def pilot() -> Any:
    return PilotFactory()


def _log(pilot: Any) -> list[ChangeRecord]:
    return list(ChangeRecord.objects.filter(scope=f"pilot:{pilot.pk}").order_by("id"))


def test_a_refused_host_is_a_field_error_and_nothing_is_written(
    as_user: Any, admin_user: Any, pilot: Any
) -> None:
    response = as_user(admin_user).post(
        reverse("admin:reviews_webhook_add"),
        {"pilot": pilot.pk, "url": "http://10.0.0.7/hook", "secret": SECRET, "active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["url"] and "not an allowed webhook host" in errors["url"][0]
    assert not Webhook.objects.exists() and _log(pilot) == []


def test_admin_adds_and_changes_a_webhook_through_the_service(
    as_user: Any, admin_user: Any, pilot: Any
) -> None:
    client = as_user(admin_user)
    response = client.post(
        reverse("admin:reviews_webhook_add"),
        {"pilot": pilot.pk, "url": "https://hooks.example.com/a", "secret": SECRET, "active": "on"},
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.secret == SECRET
    change = reverse("admin:reviews_webhook_change", args=[webhook.pk])
    assert SECRET not in client.get(change).content.decode()
    # Empty secret: kept. The URL change and the switch-off are logged.
    response = client.post(change, {"url": "https://hooks.example.com/b", "secret": ""})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.url.endswith("/b") and webhook.secret == SECRET and not webhook.active
    created, changed = _log(pilot)
    assert created.actor == admin_user and created.action == "create"
    assert changed.actor == admin_user
    assert changed.changes == {
        "url": ["https://hooks.example.com/a", "https://hooks.example.com/b"],
        "active": [True, False],
    }
    assert SECRET not in json.dumps([r.changes for r in _log(pilot)])


def test_admin_sets_review_thresholds_through_the_service(
    as_user: Any, admin_user: Any, pilot: Any
) -> None:
    client = as_user(admin_user)
    add = reverse("admin:reviews_reviewsettings_add")
    values = {"pass_score": "80", "marginal_score": "85", "resamples": "1000"}
    refused = client.post(add, {"pilot": pilot.pk, **values})
    assert refused.status_code == 200
    assert "marginal score cannot exceed the pass score" in refused.content.decode()
    assert not ReviewSettings.objects.exists() and _log(pilot) == []
    response = client.post(add, {"pilot": pilot.pk, **values, "marginal_score": "60"})
    assert response.status_code == 302
    row = ReviewSettings.objects.get(pilot=pilot)
    assert (row.pass_score, row.marginal_score) == (80.0, 60.0)
    client.post(
        reverse("admin:reviews_reviewsettings_change", args=[row.pk]),
        {**values, "marginal_score": "70"},
    )
    created, changed = _log(pilot)
    assert created.actor == admin_user and changed.changes == {"marginal_score": [60.0, 70.0]}


def test_the_reviews_admin_is_for_staff_only(as_user: Any, pm: Any) -> None:
    response = as_user(pm).get(reverse("admin:reviews_webhook_changelist"))
    assert response.status_code == 302
