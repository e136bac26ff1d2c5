"""Personal API tokens: shown once, stored hashed, revocable, expiring."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from portal.models import ApiToken, ChangeRecord
from portal.tokens import hash_key, token_create, token_revoke

PILOTS_URL = "/api/v1/pilots/"


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_created_token_authenticates_api_calls_with_bearer_header(api_client, pilot_team):
    _, key = token_create(user=pilot_team, name="ci", days=30)

    response = api_client.get(PILOTS_URL, **bearer(key))

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
def test_token_use_updates_last_used(api_client, pilot_team):
    token, key = token_create(user=pilot_team, name="ci", days=30)
    assert token.last_used_at is None

    api_client.get(PILOTS_URL, **bearer(key))

    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_key_is_not_stored_only_its_hash(pilot_team):
    token, key = token_create(user=pilot_team, name="ci", days=30)

    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in {str(value) for value in row.values()}
    assert row["key_hash"] == hash_key(key)
    # The audit record of the creation holds neither the key nor its hash.
    record = ChangeRecord.objects.get(object_id=str(token.pk), action=ChangeRecord.Action.CREATE)
    assert key not in str(record.changes)
    assert row["key_hash"] not in str(record.changes)
    assert record.actor == pilot_team


@pytest.mark.django_db
def test_revoked_token_gets_401_saying_revoked(api_client, pilot_team):
    token, key = token_create(user=pilot_team, name="ci", days=30)
    token_revoke(token=token, actor=pilot_team)

    response = api_client.get(PILOTS_URL, **bearer(key))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_expired_token_gets_401_saying_expired(api_client, pilot_team):
    token, key = token_create(user=pilot_team, name="ci", days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = api_client.get(PILOTS_URL, **bearer(key))

    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key_of",
    [
        lambda key: key[:-2] + ("AA" if not key.endswith("AA") else "BB"),  # wrong secret
        lambda key: "pg_000000000000_" + key.rsplit("_", 1)[1],  # unknown prefix
        lambda key: "not-a-pilotgate-key",
    ],
    ids=["wrong-secret", "unknown-prefix", "foreign-format"],
)
def test_wrong_key_gets_401_invalid_token(api_client, pilot_team, key_of):
    _, key = token_create(user=pilot_team, name="ci", days=30)

    response = api_client.get(PILOTS_URL, **bearer(key_of(key)))

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_malformed_authorization_header_gets_401(api_client):
    response = api_client.get(PILOTS_URL, HTTP_AUTHORIZATION="Bearer two parts")

    assert response.status_code == 401
    assert "Malformed" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_token_of_user_without_role_gets_403(api_client, outsider):
    _, key = token_create(user=outsider, name="ci", days=30)

    response = api_client.get(PILOTS_URL, **bearer(key))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_token_of_disabled_user_gets_401(api_client, pilot_team):
    _, key = token_create(user=pilot_team, name="ci", days=30)
    pilot_team.is_active = False
    pilot_team.save()

    response = api_client.get(PILOTS_URL, **bearer(key))

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("days", [0, 366])
def test_token_create_rejects_lifetime_outside_one_to_365_days(pilot_team, days):
    with pytest.raises(ValidationError) as error:
        token_create(user=pilot_team, name="ci", days=days)

    assert "days" in error.value.message_dict
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_create_defaults_to_configured_lifetime(pilot_team, settings):
    settings.API_TOKEN_DEFAULT_DAYS = 7

    token, _ = token_create(user=pilot_team, name="ci")

    expected = timezone.now() + dt.timedelta(days=7)
    assert abs(token.expires_at - expected) < dt.timedelta(minutes=1)


@pytest.mark.django_db
def test_revoke_records_who_revoked_and_twice_records_once(pilot_team):
    token, _ = token_create(user=pilot_team, name="ci", days=30)

    token_revoke(token=token, actor=pilot_team)
    token_revoke(token=token, actor=pilot_team)

    updates = ChangeRecord.objects.filter(
        object_id=str(token.pk), action=ChangeRecord.Action.UPDATE
    )
    assert updates.count() == 1
    record = updates.get()
    assert record.actor == pilot_team
    assert record.changes["revoked_at"][0] is None
    assert record.changes["revoked_at"][1] is not None


# Pages ---------------------------------------------------------------------


@pytest.mark.django_db
def test_token_page_shows_key_once(as_user, pilot_team):
    client = as_user(pilot_team)

    created = client.post(reverse("account-token-create"), {"name": "laptop", "days": 30})

    assert created.status_code == 200
    token = ApiToken.objects.get(user=pilot_team, name="laptop")
    key = created.context["key"]
    assert key.startswith(f"pg_{token.prefix}_")
    assert key in created.content.decode()
    assert "shown only this once" in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    # The example call goes to the API, not to the HTML pilot list.
    assert f'curl -H "Authorization: Bearer {key}" http://testserver/api/v1/pilots/' in (
        created.content.decode()
    )
    listing = client.get(reverse("account-tokens"))
    assert listing.status_code == 200
    assert key not in listing.content.decode()
    assert token.prefix in listing.content.decode()
    assert "laptop" in listing.content.decode()


@pytest.mark.django_db
def test_token_form_proposes_configured_default_lifetime(as_user, pilot_team, settings):
    settings.API_TOKEN_DEFAULT_DAYS = 45

    response = as_user(pilot_team).get(reverse("account-token-create"))

    assert response.context["form"]["days"].value() == 45


@pytest.mark.django_db
def test_token_form_rejects_more_than_365_days_next_to_the_field(as_user, pilot_team):
    response = as_user(pilot_team).post(
        reverse("account-token-create"), {"name": "laptop", "days": 400}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["days"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_form_rejects_duplicate_name_on_the_name_field(as_user, pilot_team):
    token_create(user=pilot_team, name="laptop", days=30)

    response = as_user(pilot_team).post(
        reverse("account-token-create"), {"name": "laptop", "days": 30}
    )

    assert response.context["form"].errors["name"] == ["You already have a token with this name."]
    assert ApiToken.objects.filter(user=pilot_team).count() == 1


@pytest.mark.django_db
def test_token_list_shows_status_and_only_my_tokens(as_user, pilot_team, finance):
    mine, _ = token_create(user=pilot_team, name="mine-revoked", days=30)
    token_revoke(token=mine, actor=pilot_team)
    token_create(user=finance, name="someone-elses", days=30)

    body = as_user(pilot_team).get(reverse("account-tokens")).content.decode()

    assert "mine-revoked" in body
    assert "revoked" in body
    assert "someone-elses" not in body


@pytest.mark.django_db
def test_revoke_page_revokes_my_token(as_user, api_client, pilot_team):
    token, key = token_create(user=pilot_team, name="ci", days=30)

    response = as_user(pilot_team).post(reverse("account-token-revoke", args=[token.pk]))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_client.get(PILOTS_URL, **bearer(key)).status_code == 401


@pytest.mark.django_db
def test_revoke_page_cannot_revoke_someone_elses_token(as_user, pilot_team, finance):
    token, _ = token_create(user=finance, name="ci", days=30)

    response = as_user(pilot_team).post(reverse("account-token-revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_revoke_by_get_asks_to_confirm_and_revokes_nothing(as_user, pilot_team):
    token, _ = token_create(user=pilot_team, name="ci", days=30)

    response = as_user(pilot_team).get(reverse("account-token-revoke", args=[token.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Revoke “ci”?" in body
    assert (
        f'<form method="post" action="{reverse("account-token-revoke", args=[token.pk])}"' in body
    )
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_token_list_revoke_opens_a_confirmation_dialog(as_user, pilot_team):
    token, _ = token_create(user=pilot_team, name="ci", days=30)

    body = as_user(pilot_team).get(reverse("account-tokens")).content.decode()

    # The button opens the dialog; the revoking form is inside it.
    assert f'data-dialog-open="revoke-{token.pk}"' in body
    dialog = body[body.index(f'<dialog id="revoke-{token.pk}"') : body.index("</dialog>")]
    assert 'method="post"' in dialog
    assert "Cancel" in dialog


@pytest.mark.django_db
def test_admin_sees_everyones_tokens_and_revokes_any(as_user, admin_user, finance):
    token, _ = token_create(user=finance, name="finance-ci", days=30)
    client = as_user(admin_user)

    listing = client.get(reverse("account-tokens-all"))
    confirm = client.get(reverse("account-token-revoke", args=[token.pk]))
    revoked = client.post(reverse("account-token-revoke", args=[token.pk]))

    assert listing.status_code == 200
    assert "finance-ci" in listing.content.decode()
    assert "fin" in listing.content.decode()
    assert "of fin?" in confirm.content.decode()
    assert revoked.status_code == 302
    assert revoked["Location"] == reverse("account-tokens-all")
    token.refresh_from_db()
    assert token.revoked_at is not None
    record = ChangeRecord.objects.filter(message="API token revoked").get()
    assert record.actor_id == admin_user.pk


@pytest.mark.django_db
def test_everyones_tokens_page_is_for_admins_only_and_says_so(as_user, pm):
    response = as_user(pm).get(reverse("account-tokens-all"))

    assert response.status_code == 403
    assert "This needs one of these roles: Platform admin." in response.content.decode()


@pytest.mark.django_db
def test_token_form_refuses_unknown_fields_naming_them(as_user, pilot_team):
    response = as_user(pilot_team).post(
        reverse("account-token-create"), {"name": "laptop", "days": 30, "lifetime": 7}
    )

    assert response.status_code == 400
    assert "Unknown field: lifetime" in response.content.decode()
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_pages_need_a_role(as_user, outsider):
    response = as_user(outsider).get(reverse("account-tokens"))

    assert response.status_code == 403


@pytest.mark.django_db
def test_user_menu_links_to_tokens_and_api_docs(as_user, pilot_team):
    body = as_user(pilot_team).get(reverse("account-tokens")).content.decode()

    assert reverse("account-tokens") in body
    assert reverse("api-swagger") in body


@pytest.mark.django_db
def test_user_menu_hides_api_links_from_users_without_a_role(as_user, outsider):
    body = as_user(outsider).get(reverse("account-tokens")).content.decode()

    assert reverse("account-tokens") not in body
    assert reverse("api-swagger") not in body


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 10])
def test_token_list_query_count_does_not_grow_with_tokens(
    as_user, pilot_team, count, django_assert_num_queries
):
    for number in range(count):
        token_create(user=pilot_team, name=f"token {number}", days=30)
    client = as_user(pilot_team)

    # 1. the session
    # 2. the user
    # 3. the user's role groups (RoleRequiredMixin)
    # 4. the user's tokens
    with django_assert_num_queries(4):
        response = client.get(reverse("account-tokens"))

    assert response.status_code == 200
    assert len(response.context["tokens"]) == count
