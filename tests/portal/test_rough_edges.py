"""What a new user hits first: refusals that say why, unknown fields named,
an Admin link for admins."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from rest_framework import serializers

from portal.api import RejectUnknownFieldsMixin
from portal.tokens import token_create
from tests.factories import BackendFactory

pytestmark = pytest.mark.django_db

IMPORTS_URL = "/api/v1/imports/"


def _bearer(user):
    _, key = token_create(user=user, name="probe")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_finance_posting_an_import_is_told_which_roles_may(api_client, finance):
    response = api_client.post(IMPORTS_URL, {"backend": "x"}, **_bearer(finance))

    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert message == "This needs one of these roles: Pilot team, Platform admin, Program manager."


def test_a_page_refusal_names_the_roles_that_may(as_user, finance):
    response = as_user(finance).get(reverse("import-create"))

    assert response.status_code == 403
    assert "This needs one of these roles: Pilot team, Platform admin, Program manager." in (
        response.content.decode()
    )


def test_a_user_without_any_role_is_told_to_ask_for_one(as_user, outsider):
    response = as_user(outsider).get(reverse("pilot-list"))

    assert response.status_code == 403
    assert "no PilotGate role" in response.content.decode()


def test_import_with_an_unknown_field_is_400_naming_it(api_client, pilot_team):
    BackendFactory(slug="gpu-a")
    file = io.BytesIO(b"timestamp,metric,value,labels\n")
    file.name = "m.csv"

    response = api_client.post(
        IMPORTS_URL,
        {"file": file, "backend": "gpu-a", "pilot_id": "1"},
        format="multipart",
        **_bearer(pilot_team),
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["pilot_id"]
    assert "Unknown field" in fields["pilot_id"][0]
    assert "pilot" in fields["pilot_id"][0]


def test_unknown_json_fields_are_400_for_any_serializer_with_the_mixin():
    class Body(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
        name = serializers.CharField()
        id = serializers.IntegerField(read_only=True)

    good = Body(data={"name": "x"})
    bad = Body(data={"name": "x", "id": 3, "nmae": "y"})

    assert good.is_valid(), good.errors
    assert not bad.is_valid()
    assert sorted(bad.errors) == ["id", "nmae"]
    assert "this request accepts: name." in str(bad.errors["nmae"][0])


def test_admin_link_only_for_staff(as_user, admin_user, pm):
    admin_page = as_user(admin_user).get(reverse("home")).content.decode()
    pm_page = as_user(pm).get(reverse("home")).content.decode()

    assert f'href="{reverse("admin:index")}"' in admin_page
    assert f'href="{reverse("admin:index")}"' not in pm_page
