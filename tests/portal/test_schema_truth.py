"""The schema documents what the API answers (schemathesis checks it in CI,
.ci/schemathesis); these pin the generic parts."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_the_error_shape(schema):
    missing = [
        f"{method.upper()} {path}: {code}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for code in ("400", "401", "403", "404")
        if code not in operation["responses"]
    ]

    assert missing == []
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]


def test_a_strict_request_body_says_it_takes_no_other_fields(schema):
    body = schema["components"]["schemas"]["ImportJobCreateRequest"]

    assert body["additionalProperties"] is False


def test_choice_query_parameters_admit_the_empty_any_value(schema):
    parameters = schema["paths"]["/api/v1/pilots/"]["get"]["parameters"]
    status = next(p for p in parameters if p["name"] == "status")

    assert "" in status["schema"]["enum"]


@pytest.mark.parametrize("query", ["page_size=abc", "page_size=0", "page=", "page=x", "page=-1"])
def test_unreadable_paging_is_a_400_naming_the_parameter(as_user, pm, query):
    response = as_user(pm).get(f"/api/v1/pilots/?{query}")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [query.split("=")[0]]


def test_cursor_pages_refuse_an_unreadable_page_size_too(as_user, pm):
    response = as_user(pm).get("/api/v1/imports/?page_size=many")

    assert response.status_code == 400
    assert "page_size" in response.json()["error"]["fields"]


def test_unreadable_yes_no_filter_is_a_400_naming_it(as_user, pm):
    bad = as_user(pm).get("/api/v1/backends/?is_active=null")
    good = as_user(pm).get("/api/v1/backends/?is_active=false")

    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]) == ["is_active"]
    assert good.status_code == 200


def test_import_job_of_a_cli_import_has_null_creator_and_blank_format(schema):
    job = schema["components"]["schemas"]["ImportJob"]["properties"]

    assert job["created_by"]["nullable"] is True
    assert any("BlankEnum" in str(option) for option in job["detected_format"].get("oneOf", []))
