"""Bad input is a 400 naming what is wrong, never a 500 or a silent default
(what schemathesis found, .ci/schemathesis): page numbers no table reaches,
empty or non-ISO date filters, empty report parameters, values of the wrong
JSON type, a blank related object in a form, day counts that push a date off
the calendar, list bodies that only JSON can carry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from costs.models import CostCenter, UsageMapping
from pilots import services
from pilots.models import Contract, Part, Pilot, ReadinessAnswer, StockLevel, StockMovement
from tests.factories import (
    BackendFactory,
    CostCenterFactory,
    PilotFactory,
    SiteFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def fields_of(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    return sorted(response.json()["error"]["fields"])


@pytest.fixture
def draft_pilot(pm: Any) -> Pilot:
    """A pilot as the create page makes it: default RACI, unanswered checklist."""
    CostCenterFactory.create(code="CC-7")
    return services.pilot_create(
        actor=pm,
        name="Wafer chat pilot",
        model_name="llama-3-70b",
        candidate_backend=BackendFactory.create(slug="wse-3"),
        baseline_backend=BackendFactory.create(slug="h100"),
        team="chat",
        cost_center="CC-7",
        target_start=dt.date(2026, 1, 5),
        target_end=dt.date(2026, 9, 30),
    )


@pytest.fixture
def contract() -> Contract:
    vendor = VendorFactory.create(slug="cerebras")
    return Contract.objects.create(
        vendor=vendor, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31), notice_days=60
    )


# --- query strings ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/cost-centers/", "/api/v1/parts/", "/api/v1/sites/"])
def test_a_page_number_no_table_reaches_is_a_400_naming_it(as_user, admin_user, url):
    response = as_user(admin_user).get(url, {"page": "44212364316687790305932476416"})

    assert fields_of(response) == ["page"]


def test_the_schema_gives_the_largest_page_number(schema):
    parameters = schema["paths"]["/api/v1/cost-centers/"]["get"]["parameters"]
    page = next(p for p in parameters if p["name"] == "page")

    assert page["schema"]["maximum"] == 10_000_000


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/v1/contracts/", "ends_before="),
        ("/api/v1/contracts/", "ends_after=12/31/2026"),
        ("/api/v1/incidents/", "opened_before="),
        ("/api/v1/red-flags/", "raised_after="),
    ],
)
def test_an_empty_or_non_iso_date_filter_is_a_400_naming_it(as_user, pm, url, query):
    response = as_user(pm).get(f"{url}?{query}")

    assert fields_of(response) == [query.split("=")[0]]


def test_an_iso_date_filter_still_filters(as_user, pm, contract):
    client = as_user(pm)

    assert len(client.get("/api/v1/contracts/?ends_before=2026-12-31").json()["results"]) == 1
    assert client.get("/api/v1/contracts/?ends_before=2026-12-30").json()["results"] == []


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/showback/", "period"),
        ("/api/v1/backends/compare/", "period"),
        ("/api/v1/bills/unmatched/", "period"),
        ("/api/v1/backends/wse-3/summary/", "start"),
    ],
)
def test_an_empty_report_parameter_is_a_400_not_the_default(as_user, admin_user, url, name):
    BackendFactory.create(slug="wse-3")

    response = as_user(admin_user).get(f"{url}?{name}=")

    assert fields_of(response) == [name]


def test_bill_pages_refuse_a_page_size_that_is_not_a_number(as_user, admin_user):
    response = as_user(admin_user).get("/api/v1/bills/?page_size=null")

    assert fields_of(response) == ["page_size"]


# --- the RACI matrix and the readiness checklist -----------------------------------


def test_the_raci_matrix_ignores_the_pilot_list_filters(as_user, pm, draft_pilot):
    response = as_user(pm).get(
        f"/api/v1/pilots/{draft_pilot.pk}/raci/?phase=canary&status=active&page_size=1"
    )

    assert response.status_code == 200
    assert [row["key"] for row in response.json()][:2] == ["runtime_hardware", "slo_incident"]


def test_the_schema_says_the_raci_matrix_is_a_plain_list(schema):
    operation = schema["paths"]["/api/v1/pilots/{id}/raci/"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]

    assert body["type"] == "array"
    assert [p["name"] for p in operation.get("parameters", [])] == ["id"]


def test_a_checklist_in_a_form_is_refused_and_clears_nothing(api_client, pm, draft_pilot):
    api_client.force_login(pm)
    answered = [{"question": "model_fits", "answer": "yes", "evidence": "fits one die"}]
    url = f"/api/v1/pilots/{draft_pilot.pk}/readiness/"
    assert api_client.put(url, answered, format="json").status_code == 200

    # A form cannot carry a list: DRF would read it as an empty checklist.
    response = api_client.put(url, {"question": "model_fits"}, format="multipart")

    assert response.status_code == 415
    kept = ReadinessAnswer.objects.get(pilot=draft_pilot, question="model_fits")
    assert kept.answer == "yes"


def test_a_number_for_a_text_answer_is_a_400_naming_it(as_user, pm, draft_pilot):
    body = [{"question": "model_fits", "answer": "no", "evidence": 0}]

    response = as_user(pm).put(
        f"/api/v1/pilots/{draft_pilot.pk}/readiness/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "evidence" in str(response.json()["error"]["fields"])


# --- bodies: types, blanks and ranges ------------------------------------------------


@pytest.fixture
def mapping() -> UsageMapping:
    center = CostCenterFactory.create(code="0")
    CostCenterFactory.create(code="CC-9")
    return UsageMapping.objects.create(label="team", value="search", cost_center=center, order=1)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"value": 0}, "value"), ({"cost_center": 0}, "cost_center"), ({"order": "1"}, "order")],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_it(
    as_user, admin_user, mapping, change, field
):
    body = {"label": "team", "value": "search", "cost_center": "CC-9", "order": 1, **change}

    response = as_user(admin_user).put(
        f"/api/v1/usage-mappings/{mapping.pk}/", body, content_type="application/json"
    )

    assert fields_of(response) == [field]
    mapping.refresh_from_db()
    assert (mapping.value, mapping.cost_center.code) == ("search", "0")


def test_a_blank_owner_in_a_form_is_refused_not_read_as_none(as_user, admin_user):
    body = {"code": "CC-1", "name": "One", "owner": "", "is_active": "true"}

    response = as_user(admin_user).post("/api/v1/cost-centers/", body)  # multipart

    assert fields_of(response) == ["owner"]
    assert not CostCenter.objects.filter(code="CC-1").exists()


def test_a_yes_no_answer_in_a_form_is_true_or_false(api_client, procurement):
    VendorFactory.create(slug="cerebras", name="Cerebras")
    api_client.force_login(procurement)
    url = "/api/v1/vendors/cerebras/"

    refused = api_client.patch(url, {"multi_vendor_fallback": "0"}, format="multipart")
    accepted = api_client.patch(url, {"multi_vendor_fallback": "false"}, format="multipart")

    assert fields_of(refused) == ["multi_vendor_fallback"]
    assert accepted.status_code == 200
    assert accepted.json()["multi_vendor_fallback"] is False


def test_an_unanswered_risk_has_no_assessor_and_the_schema_says_so(as_user, pm, schema):
    VendorFactory.create(slug="cerebras", name="Cerebras")

    body = as_user(pm).get("/api/v1/vendors/cerebras/").json()

    assert body["escrowed_source_assessed_by"] is None
    vendor = schema["components"]["schemas"]["VendorDetail"]["properties"]
    assert vendor["escrowed_source_assessed_by"]["nullable"] is True


def test_notice_days_that_push_the_notice_date_off_the_calendar_are_a_400(
    as_user, procurement, contract
):
    response = as_user(procurement).patch(
        f"/api/v1/contracts/{contract.pk}/",
        {"notice_days": 9223372036854775806},
        content_type="application/json",
    )

    assert fields_of(response) == ["notice_days"]
    contract.refresh_from_db()
    assert contract.notice_days == 60
    assert as_user(procurement).get(f"/api/v1/contracts/{contract.pk}/").status_code == 200


# --- documented state refusals ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/chargeback/{period}/restate/", "/api/v1/chargeback/{period}/close/"],
)
def test_a_month_state_refusal_is_documented_with_the_error_shape(schema, path):
    conflict = schema["paths"][path]["post"]["responses"]["409"]

    assert conflict["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_restating_an_open_month_is_the_documented_409(as_user, admin_user):
    PilotFactory.create()

    response = as_user(admin_user).post(
        "/api/v1/chargeback/2026-01/restate/", {"reason": "x"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_a_nul_in_an_object_reference_is_a_400_naming_it(as_user, admin_user):
    # PostgreSQL refuses NUL in a query: without the check this is a 500 there.
    response = as_user(admin_user).post(
        "/api/v1/movements/", {"site": "lab\x00"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["site"] == ["Null characters are not allowed."]


def test_a_multipart_body_without_a_named_part_is_a_400(api_client, procurement):
    VendorFactory.create(slug="cerebras", name="Cerebras")
    api_client.force_login(procurement)
    boundary = "9cc651cd2c8d168349f50fede4c361ac"
    garbage = f"--{boundary}\r\nFalse--{boundary}--\r\n"
    empty_form = f"--{boundary}--\r\n"
    content_type = f"multipart/form-data; boundary={boundary}"

    refused = api_client.generic("PATCH", "/api/v1/vendors/cerebras/", garbage, content_type)
    nothing = api_client.generic("PATCH", "/api/v1/vendors/cerebras/", empty_form, content_type)

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parse_error"
    assert nothing.status_code == 200


def test_a_movement_without_an_author_has_null_and_the_schema_says_so(as_user, pm, schema):
    # Seeded and command-line lines have no author; a first line reverses nothing.
    part = Part.objects.create(
        vendor=VendorFactory.create(), part_number="PSU-1", unit_cost=1, annual_failure_rate=1
    )
    stock = StockLevel.objects.create(part=part, site=SiteFactory.create())
    StockMovement.objects.create(stock=stock, kind="received", quantity=2, delta=2)

    movement = as_user(pm).get("/api/v1/movements/").json()["results"][0]

    assert (movement["created_by"], movement["reverses"]) == (None, None)
    properties = schema["components"]["schemas"]["Movement"]["properties"]
    assert properties["created_by"]["nullable"] is True
    assert properties["reverses"]["nullable"] is True


@pytest.mark.parametrize("path", ["/api/v1/movements/", "/api/v1/movements/{id}/reverse/"])
def test_a_movement_below_zero_is_a_documented_409(schema, path):
    assert "409" in schema["paths"][path]["post"]["responses"]


def test_a_decimal_in_a_request_may_be_a_string_or_a_number(as_user, pm, schema):
    threshold = schema["components"]["schemas"]["PatchedExitCriterionWriteRequest"]["properties"][
        "threshold"
    ]

    assert [branch["type"] for branch in threshold["anyOf"]] == ["string", "number"]
    response_side = schema["components"]["schemas"]["ExitCriterion"]["properties"]["threshold"]
    assert response_side["type"] == "string"


def test_an_object_for_a_list_of_references_is_a_400_naming_it(as_user, procurement, contract):
    response = as_user(procurement).patch(
        f"/api/v1/contracts/{contract.pk}/", {"backends": {}}, content_type="application/json"
    )

    assert fields_of(response) == ["backends"]


def test_text_past_its_length_is_refused_before_its_spaces_are_trimmed(as_user, procurement):
    part = Part.objects.create(
        vendor=VendorFactory.create(), part_number="PSU-1", unit_cost=1, annual_failure_rate=1
    )
    stock = StockLevel.objects.create(part=part, site=SiteFactory.create())
    line = StockMovement.objects.create(stock=stock, kind="received", quantity=2, delta=2)

    response = as_user(procurement).post(
        f"/api/v1/movements/{line.pk}/reverse/",
        {"note": "^8" + " " * 300},
        content_type="application/json",
    )

    assert fields_of(response) == ["note"]
    assert not StockMovement.objects.filter(reverses=line).exists()


def test_a_nul_in_a_pilot_backend_is_a_400_naming_it(as_user, pm):
    body = {
        "name": "x",
        "model_name": "m",
        "candidate_backend": "wse\x00",
        "baseline_backend": "h100",
        "team": "t",
        "cost_center": "CC-1",
        "target_start": "2026-01-01",
        "target_end": "2026-02-01",
    }

    response = as_user(pm).post("/api/v1/pilots/", body, content_type="application/json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["candidate_backend"] == ["Null characters are not allowed."]


@pytest.mark.parametrize("offset", ["-18:50", "+14:30"])
def test_a_time_filter_with_an_offset_no_place_has_is_a_400_naming_it(as_user, pm, offset):
    # PostgreSQL refuses offsets past about 16 hours in a query: a 500 there.
    response = as_user(pm).get("/api/v1/red-flags/", {"raised_after": f"2026-05-24T17:50{offset}"})

    assert fields_of(response) == ["raised_after"]


def test_a_time_filter_with_a_real_offset_still_filters(as_user, pm):
    response = as_user(pm).get("/api/v1/red-flags/", {"raised_after": "2026-05-24T17:50+14:00"})

    assert response.status_code == 200
