"""Login throttling: per account and per client address, on the portal's
login page and the admin's, logged, and reset by a success."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from portal.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def _login(client: Client, username: str, password: str, *, ip: str = "10.0.0.1", url=None):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_account_locks_after_limit_even_with_right_password(make_user):
    make_user("sam", Role.PILOT_TEAM)
    client = Client()
    assert [_login(client, "sam", "wrong").status_code for _ in range(3)] == [200, 200, 429]

    response = _login(client, "sam", "pw-sam")

    assert response.status_code == 429
    assert "Too many failed logins; try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_account_lockout_follows_the_account_to_other_addresses(make_user):
    make_user("sam", Role.PILOT_TEAM)
    for attempt in range(3):
        _login(Client(), "sam", "wrong", ip=f"10.0.1.{attempt}")

    response = _login(Client(), "sam", "pw-sam", ip="10.0.9.9")

    assert response.status_code == 429


def test_address_locks_after_failures_on_different_accounts(make_user):
    make_user("sam", Role.PILOT_TEAM)
    for name in ("alice", "bob", "carol"):
        _login(Client(), name, "guess", ip="10.0.2.2")

    locked = _login(Client(), "sam", "pw-sam", ip="10.0.2.2")
    elsewhere = _login(Client(), "sam", "pw-sam", ip="10.0.3.3")

    assert locked.status_code == 429
    assert elsewhere.status_code == 302  # the account itself is not locked


def test_success_resets_the_count(make_user):
    make_user("sam", Role.PILOT_TEAM)
    for _ in range(2):
        _login(Client(), "sam", "wrong")
    assert _login(Client(), "sam", "pw-sam").status_code == 302

    for _ in range(2):
        _login(Client(), "sam", "wrong")
    response = _login(Client(), "sam", "pw-sam")

    assert response.status_code == 302


def test_admin_login_is_throttled_and_says_why(make_user):
    make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    statuses = [_login(Client(), "root", "wrong", url=admin_login).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]

    response = _login(Client(), "root", "pw-root", url=admin_login)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def test_failures_on_the_portal_count_on_the_admin(make_user):
    make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    for _ in range(3):
        _login(Client(), "root", "wrong")

    response = _login(Client(), "root", "pw-root", url=reverse("admin:login"))

    assert response.status_code == 429


def test_lockout_is_logged_with_account_and_address(make_user, caplog):
    make_user("sam", Role.PILOT_TEAM)
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            _login(Client(), "sam", "wrong", ip="10.0.4.4")

    lockouts = [r.getMessage() for r in caplog.records if r.name == "portal.auth"]
    assert lockouts, "no lockout was logged"
    assert "'sam'" in lockouts[-1]
    assert "10.0.4.4" in lockouts[-1]


def test_cooloff_setting_is_in_the_message(make_user, settings):
    import datetime as dt

    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=1)
    make_user("sam", Role.PILOT_TEAM)
    for _ in range(3):
        _login(Client(), "sam", "wrong")

    response = _login(Client(), "sam", "wrong")

    assert "try again in 1 minute." in response.content.decode()


def test_client_address_behind_a_trusted_proxy_is_the_forwarded_one(settings, rf):
    from portal.auth import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.post("/login/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7")

    # The proxy appended the address it saw; what the client wrote before is ignored.
    assert client_ip(request) == "192.0.2.7"


def test_test_client_login_and_tokens_still_work(make_user, client, api_client):
    from portal.tokens import token_create

    user = make_user("sam", Role.PILOT_TEAM)
    assert client.login(username="sam", password="pw-sam")
    _, key = token_create(user=user, name="ci")

    response = api_client.get(reverse("api-pilot-list"), HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 200
