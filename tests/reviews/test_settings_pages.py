"""The pilot's review settings page (issue 11, §3 and §5): program managers
(and admins) set the score thresholds and the pilot's webhooks through the
review services; a host the admins do not allow is a field error and
nothing is written; every change is in the change log (who, when, old and
new, never a secret); everyone else is refused."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import ChangeRecord
from reviews.models import ReviewSettings, Webhook
from reviews.services import review_submit
from tests.factories import ExitCriterionFactory, PilotFactory

pytestmark = pytest.mark.django_db

ALLOWED = ["hooks.example.com", "ci.example.com"]
SECRET = "s3cret-value-never-logged"


@pytest.fixture(autouse=True)
def _allowed_hosts(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ALLOWED


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _log(pilot: Any) -> list[ChangeRecord]:
    return list(ChangeRecord.objects.filter(scope=f"pilot:{pilot.pk}").order_by("id"))


def _settings(**values: Any) -> dict[str, Any]:
    return {
        "pass_score": "90",
        "marginal_score": "75",
        "resamples": "1000",
        "temperature_limit": "",
        **values,
    }


def test_pm_sets_the_thresholds_and_the_change_log_says_who_when_old_and_new(
    canary: Any, pm: Any
) -> None:
    client = _login(pm)
    url = f"/reviews/pilots/{canary.pilot.pk}/settings/"
    page = client.get(url).content.decode()
    assert "This pilot uses the defaults." in page and 'value="90.0"' in page
    before = timezone.now()
    response = client.post(url, _settings(pass_score="85", marginal_score="70"))
    assert response.status_code == 302 and response["Location"] == url
    row = ReviewSettings.objects.get(pilot=canary.pilot)
    assert (row.pass_score, row.marginal_score) == (85.0, 70.0)
    (created,) = _log(canary.pilot)
    assert created.actor == pm and created.action == "create" and created.at >= before
    assert created.changes["pass_score"] == 85.0

    client.post(url, _settings(pass_score="80", marginal_score="70"))
    updated = _log(canary.pilot)[-1]
    assert updated.action == "update" and updated.actor == pm
    assert updated.changes == {"pass_score": [85.0, 80.0]}
    log_page = client.get(f"/pilots/{canary.pilot.pk}/changes/").content.decode()
    assert "review settings of pilot" in log_page and "Pat Manager" in log_page


def test_the_next_review_is_judged_with_the_new_thresholds(
    canary: Any, pm: Any, pilot_team: Any
) -> None:
    ExitCriterionFactory(phase=canary.phase)
    _login(pm).post(
        f"/reviews/pilots/{canary.pilot.pk}/settings/",
        _settings(pass_score="99.5", marginal_score="40", resamples="1200"),
    )
    review = review_submit(
        pilot=canary.pilot, actor=pilot_team, phase=canary.phase, recommendation="go"
    )
    parameters = review.snapshot["parameters"]
    assert (parameters["pass_score"], parameters["marginal_score"]) == (99.5, 40.0)
    assert parameters["resamples"] == 1200


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"marginal_score": "95"}, "marginal_score", "cannot exceed the pass score"),
        ({"pass_score": "120"}, "pass_score", "less than or equal to 100"),
        ({"resamples": "10"}, "resamples", "greater than or equal to 1000"),
    ],
)
def test_a_refused_threshold_is_a_field_error_and_nothing_is_written(
    canary: Any, pm: Any, values: dict[str, str], field: str, message: str
) -> None:
    response = _login(pm).post(f"/reviews/pilots/{canary.pilot.pk}/settings/", _settings(**values))
    assert response.status_code == 200
    errors = response.context["settings_form"].errors
    assert list(errors) == [field] and message in " ".join(errors[field])
    assert message in response.content.decode()
    assert not ReviewSettings.objects.filter(pilot=canary.pilot).exists()
    assert _log(canary.pilot) == []


def test_pm_adds_and_edits_a_webhook_and_the_log_never_holds_the_secret(
    canary: Any, pm: Any
) -> None:
    client = _login(pm)
    response = client.post(
        f"/reviews/pilots/{canary.pilot.pk}/webhooks/new/",
        {"url": "https://hooks.example.com/pilotgate", "secret": SECRET, "active": "on"},
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get(pilot=canary.pilot)
    assert webhook.secret == SECRET and webhook.active
    page = client.get(f"/reviews/pilots/{canary.pilot.pk}/settings/").content.decode()
    assert "https://hooks.example.com/pilotgate" in page and SECRET not in page
    edit = f"/reviews/webhooks/{webhook.pk}/edit/"
    assert SECRET not in client.get(edit).content.decode()

    # An empty secret keeps the current one; the URL moves to another allowed host.
    client.post(edit, {"url": "https://ci.example.com/hook", "secret": ""})
    webhook.refresh_from_db()
    assert webhook.url == "https://ci.example.com/hook" and webhook.secret == SECRET
    assert not webhook.active  # the box was left unticked: switched off
    client.post(edit, {"url": "https://ci.example.com/hook", "secret": "new-one", "active": "on"})
    webhook.refresh_from_db()
    assert webhook.secret == "new-one" and webhook.active

    created, moved, rekeyed = _log(canary.pilot)
    assert {r.actor for r in (created, moved, rekeyed)} == {pm}
    assert created.action == "create" and created.changes["url"].endswith("/pilotgate")
    assert moved.changes == {
        "url": ["https://hooks.example.com/pilotgate", "https://ci.example.com/hook"],
        "active": [True, False],
    }
    old, new = rekeyed.changes["secret"]
    assert old.startswith("hmac:") and new.startswith("hmac:") and old != new
    logged = json.dumps([r.changes for r in _log(canary.pilot)])
    assert SECRET not in logged and "new-one" not in logged
    log_page = client.get(f"/pilots/{canary.pilot.pk}/changes/").content.decode()
    assert SECRET not in log_page and "new-one" not in log_page


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8000/hook",
        "https://hooks.example.com.evil.test/hook",
    ],
)
def test_a_host_not_allowed_is_a_field_error_and_nothing_is_written(
    canary: Any, pm: Any, url: str
) -> None:
    client = _login(pm)
    response = client.post(
        f"/reviews/pilots/{canary.pilot.pk}/webhooks/new/", {"url": url, "secret": SECRET}
    )
    assert response.status_code == 200
    errors = response.context["webhook_form"].errors
    assert list(errors) == ["url"]
    assert errors["url"] == [
        f"{urlsplit(url).hostname} is not an allowed webhook host; ask a platform admin."
    ]
    html = response.content.decode()
    assert "not an allowed webhook host" in html and "hooks.example.com</code>" in html
    assert not Webhook.objects.exists() and _log(canary.pilot) == []

    webhook = Webhook.objects.create(
        pilot=canary.pilot, url="https://hooks.example.com/x", secret=SECRET
    )
    response = client.post(
        f"/reviews/webhooks/{webhook.pk}/edit/", {"url": url, "secret": "other", "active": "on"}
    )
    assert "not an allowed webhook host" in " ".join(response.context["form"].errors["url"])
    webhook.refresh_from_db()
    assert (webhook.url, webhook.secret) == ("https://hooks.example.com/x", SECRET)
    assert _log(canary.pilot) == []


def test_only_program_managers_and_admins_configure(
    canary: Any,
    pm: Any,
    admin_user: Any,
    approver: Any,
    pilot_team: Any,
    finance: Any,
    outsider: Any,
) -> None:
    pilot = canary.pilot
    webhook = Webhook.objects.create(pilot=pilot, url="https://hooks.example.com/x", secret="k")
    urls = [
        f"/reviews/pilots/{pilot.pk}/settings/",
        f"/reviews/webhooks/{webhook.pk}/edit/",
    ]
    # The approver holds the A of this pilot's go/no-go: it decides, it does not set the bar.
    for user in (approver, pilot_team, finance, outsider):
        client = _login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user.username, url)
            assert client.post(url, {"url": "https://ci.example.com/y"}).status_code == 403
        created = client.post(
            f"/reviews/pilots/{pilot.pk}/webhooks/new/",
            {"url": "https://ci.example.com/y", "secret": "k"},
        )
        assert created.status_code == 403
        # A refusal names no pilot: outsiders learn nothing from it.
        assert pilot.name not in created.content.decode()
    assert Webhook.objects.count() == 1 and not ReviewSettings.objects.exists()
    assert _log(pilot) == []
    for user in (pm, admin_user):
        client = _login(user)
        assert all(client.get(url).status_code == 200 for url in urls)
        assert client.get("/reviews/pilots/999999/settings/").status_code == 404
        assert client.get("/reviews/webhooks/999999/edit/").status_code == 404
        assert client.post("/reviews/pilots/999999/webhooks/new/").status_code == 404
    assert _login(pm).get(f"/reviews/pilots/{pilot.pk}/webhooks/new/").status_code == 405


def test_the_pilot_page_links_the_settings_for_those_who_may(
    canary: Any, pm: Any, pilot_team: Any
) -> None:
    url = f"/reviews/pilots/{canary.pilot.pk}/panel/"
    link = f"/reviews/pilots/{canary.pilot.pk}/settings/"
    assert link in _login(pm).get(url).content.decode()
    assert link not in _login(pilot_team).get(url).content.decode()


def test_the_settings_page_reads_in_constant_queries(
    pm: Any, django_assert_num_queries: Any
) -> None:
    pilot: Any = PilotFactory()
    client = _login(pm)
    url = f"/reviews/pilots/{pilot.pk}/settings/"
    # 1 session, 2 user, 3 roles, 4 pilot with its backends, 5 settings
    # (form), 6 settings (defaults or not), 7 webhooks.
    with django_assert_num_queries(7):
        client.get(url)
    for n in range(5):
        Webhook.objects.create(pilot=pilot, url=f"https://hooks.example.com/{n}", secret="k")
    with django_assert_num_queries(7):
        assert client.get(url).content.decode().count("/edit/") == 5


def test_secrets_logged_before_the_fingerprints_are_masked_by_the_migration(
    canary: Any, pm: Any
) -> None:
    import importlib

    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from reviews.services._common import secret_fingerprint

    migration = importlib.import_module(
        "reviews.migrations.0004_webhook_secrets_out_of_the_change_log"
    )
    webhook = Webhook.objects.create(
        pilot=canary.pilot, url="https://hooks.example.com/pilotgate", secret=SECRET
    )
    kind = ContentType.objects.get_for_model(Webhook)
    # As the change log held them before: in clear on create and on update.
    old = [
        ChangeRecord.objects.create(
            action=action, content_type=kind, object_id=str(webhook.pk), changes=changes
        )
        for action, changes in (
            ("create", {"url": webhook.url, "secret": SECRET}),
            ("update", {"secret": [SECRET, "new-one"]}),
            ("update", {"active": [True, False]}),
        )
    ]
    migration.mask_webhook_secrets(apps, None)
    migration.mask_webhook_secrets(apps, None)  # twice changes nothing more

    created, rekeyed, other = (ChangeRecord.objects.get(pk=r.pk) for r in old)
    assert created.changes == {"url": webhook.url, "secret": secret_fingerprint(SECRET)}
    assert rekeyed.changes == {
        "secret": [secret_fingerprint(SECRET), secret_fingerprint("new-one")]
    }
    assert other.changes == {"active": [True, False]}
