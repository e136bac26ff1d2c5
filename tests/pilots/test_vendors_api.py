"""Vendors, contracts, incidents and compliance through the API (issue 12,
§1-2): the JSON names the issue gives, worked examples of hours late,
availability with merged outages and capped credits, who may write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from pilots.models import Contract, Incident
from portal.models import ChangeRecord
from tests.factories import BackendFactory, VendorFactory

pytestmark = pytest.mark.django_db

CONTRACT_KEYS = {
    "vendor",
    "backends",
    "start",
    "end",
    "notice_days",
    "fee",
    "fee_period",
    "replacement_hours",
    "response_hours",
    "firmware_cadence_days",
    "patch_window_days",
    "uptime_percent",
    "support_tier",
    "credit_percent",
    "credit_basis",
    "credit_cap_percent",
}


def t(day: int, hour: int = 0, minute: int = 0) -> str:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC).isoformat()


@pytest.fixture
def vendor() -> Any:
    return VendorFactory.create(slug="cerebras", name="Cerebras")


@pytest.fixture
def backend(vendor: Any) -> Any:
    return BackendFactory.create(slug="wse-3", vendor=vendor)


def contract_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vendor": "cerebras",
        "backends": ["wse-3"],
        "start": "2026-01-01",
        "end": "2026-12-31",
        "notice_days": 60,
        "fee": "10000.00",
        "fee_period": "monthly",
        "replacement_hours": "4",
        "response_hours": "2",
        "firmware_cadence_days": 90,
        "patch_window_days": 14,
        "uptime_percent": "99.9",
        "support_tier": "24x7x4",
        "credit_percent": "5",
        "credit_basis": "per_breach",
        "credit_cap_percent": "10",
    }
    body.update(overrides)
    return body


def post(client: Any, name: str, body: dict[str, Any]) -> Any:
    return client.post(reverse(name), body, content_type="application/json")


def test_contract_round_trips_the_issue_fields_by_slug(as_user, procurement, backend):
    client = as_user(procurement)
    response = post(client, "api-contract-list", contract_body())
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) >= CONTRACT_KEYS
    assert data["vendor"] == "cerebras"
    assert data["backends"] == ["wse-3"]
    assert data["fee"] == "10000.00"
    assert data["notice_date"] == "2026-11-01"  # 60 days before 31 December
    assert data["credit_basis"] == "per_breach"
    contract = Contract.objects.get(pk=data["id"])
    assert ChangeRecord.objects.filter(object_id=str(contract.pk), action="create").exists()
    fetched = client.get(reverse("api-contract-detail", args=[contract.pk])).json()
    assert fetched == data


def test_contract_needs_only_vendor_and_dates(as_user, procurement, vendor):
    response = post(
        as_user(procurement),
        "api-contract-list",
        {"vendor": "cerebras", "start": "2026-01-01", "end": "2026-06-30"},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["replacement_hours"] is None
    assert response.json()["backends"] == []


def test_contract_end_before_start_names_the_field(as_user, procurement, backend):
    response = post(as_user(procurement), "api-contract-list", contract_body(end="2025-12-31"))
    assert response.status_code == 400
    assert "end" in response.json()["error"]["fields"]


def test_unknown_vendor_slug_is_a_field_error(as_user, procurement, backend):
    response = post(as_user(procurement), "api-contract-list", contract_body(vendor="nobody"))
    assert response.status_code == 400
    assert "vendor" in response.json()["error"]["fields"]


@pytest.mark.parametrize("persona", ["pm", "finance", "approver", "pilot_team"])
def test_other_roles_read_but_cannot_write(request, as_user, backend, persona):
    client = as_user(request.getfixturevalue(persona))
    assert client.get(reverse("api-contract-list")).status_code == 200
    response = post(client, "api-contract-list", contract_body())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Contract.objects.exists()


def test_outsider_sees_nothing(as_user, outsider, backend):
    client = as_user(outsider)
    assert client.get(reverse("api-contract-list")).status_code == 403
    assert post(client, "api-contract-list", contract_body()).status_code == 403


def test_admin_writes_too(as_user, admin_user, backend):
    assert post(as_user(admin_user), "api-contract-list", contract_body()).status_code == 201


def _incidents(client: Any, contract_id: int) -> None:
    bodies: list[dict[str, Any]] = [
        # Due 14:00; resolved 13:00: met.
        {"kind": "rma", "opened_at": t(2, 10), "resolved_at": t(2, 13), "unit_serial": "A"},
        # Due 14:00; resolved 16:30: 2.5 h late = 3 started hours, breached.
        {"kind": "rma", "opened_at": t(5, 10), "resolved_at": t(5, 16, 30)},
        # Due 14:00; resolved 15:00: 1 h late, breached.
        {"kind": "rma", "opened_at": t(10, 10), "resolved_at": t(10, 15)},
        # Two overlapping outages: 00:00-02:00 and 01:00-03:00 = 3 h down.
        {
            "kind": "outage",
            "opened_at": t(20, 0),
            "resolved_at": t(20, 2),
            "backends": ["wse-3"],
        },
        {"kind": "outage", "opened_at": t(20, 1), "resolved_at": t(20, 3)},
    ]
    for body in bodies:
        response = post(client, "api-incident-list", {"contract": contract_id, **body})
        assert response.status_code == 201, response.json()


def test_compliance_worked_example_per_breach_capped(as_user, procurement, backend):
    client = as_user(procurement)
    contract_id = post(client, "api-contract-list", contract_body()).json()["id"]
    _incidents(client, contract_id)

    response = client.get(
        reverse("api-contract-compliance", args=[contract_id]), {"from": "2026-03", "to": "2026-04"}
    )

    assert response.status_code == 200, response.json()
    march, april = response.json()["months"]
    assert march["month"] == "2026-03"
    assert (march["measured"], march["met"], march["breached"]) == (3, 1, 2)
    assert march["compliance_percent"] == pytest.approx(100 / 3)
    # 3 h of 744 h down (overlap merged): 99.5968 %, below the 99.9 % term.
    assert march["availability_percent"] == pytest.approx((1 - 3 / 744) * 100)
    # Two breaches plus the uptime month: 3 × 5 % = 15 %, capped at 10 % of 10,000.
    assert march["credits"] == "1000.00"
    assert april == {
        "month": "2026-04",
        "measured": 0,
        "met": 0,
        "breached": 0,
        "compliance_percent": None,
        "availability_percent": 100.0,
        "credits": "0.00",
    }
    total = response.json()["total"]
    assert total["credits"] == "1000.00"
    assert (total["measured"], total["met"], total["breached"]) == (3, 1, 2)
    assert total["availability_percent"] == pytest.approx((1 - 3 / (744 + 720)) * 100)


def test_compliance_per_started_hour_late(as_user, procurement, backend):
    client = as_user(procurement)
    body = contract_body(credit_basis="per_hour_late", credit_percent="1", credit_cap_percent="50")
    contract_id = post(client, "api-contract-list", body).json()["id"]
    _incidents(client, contract_id)

    march = client.get(
        reverse("api-contract-compliance", args=[contract_id]), {"from": "2026-03", "to": "2026-03"}
    ).json()["months"][0]

    # Hours late 3 + 1; downtime 3 h against an allowance of 0.744 h: 3 more
    # started hours. 7 × 1 % of 10,000.
    assert march["credits"] == "700.00"


def test_compliance_per_started_hour_of_downtime_capped(as_user, procurement, backend):
    client = as_user(procurement)
    body = contract_body(credit_basis="per_hour_late", credit_percent="2", credit_cap_percent="30")
    contract_id = post(client, "api-contract-list", body).json()["id"]
    # 20 h down in March: 99.9 % of 744 h allows 0.744 h, so 19.256 h beyond
    # = 20 started hours × 2 % = 40 %, capped at 30 % of 10,000.
    outage = {"kind": "outage", "opened_at": t(9, 0), "resolved_at": t(9, 20)}
    assert post(client, "api-incident-list", {"contract": contract_id, **outage}).status_code == 201

    march = client.get(
        reverse("api-contract-compliance", args=[contract_id]), {"from": "2026-03", "to": "2026-03"}
    ).json()["months"][0]

    assert (march["measured"], march["breached"]) == (0, 0)
    assert march["availability_percent"] == pytest.approx((1 - 20 / 744) * 100)
    assert march["credits"] == "3000.00"


def test_vendor_compliance_sums_its_contracts(as_user, procurement, backend):
    client = as_user(procurement)
    first = post(client, "api-contract-list", contract_body()).json()["id"]
    second = post(client, "api-contract-list", contract_body(fee="2000.00")).json()["id"]
    _incidents(client, first)
    post(
        client,
        "api-incident-list",
        {"contract": second, "kind": "rma", "opened_at": t(3, 0), "resolved_at": t(3, 9)},
    )
    total = client.get(
        reverse("api-vendor-compliance", args=["cerebras"]), {"from": "2026-03", "to": "2026-03"}
    ).json()["total"]
    assert (total["measured"], total["met"], total["breached"]) == (4, 1, 3)
    # 1000.00 capped on the first; 5 % of 2,000 on the second.
    assert total["credits"] == "1100.00"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13"}, "from"),
        ({"from": "2026-05", "to": "2026-03"}, "to"),
        ({"to": "x"}, "to"),
    ],
)
def test_bad_months_name_the_parameter(as_user, pm, backend, query, field):
    contract = Contract.objects.create(
        vendor=backend.vendor, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31)
    )
    response = as_user(pm).get(reverse("api-contract-compliance", args=[contract.pk]), query)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_outage_backends_must_be_covered(as_user, procurement, backend):
    client = as_user(procurement)
    other = BackendFactory.create(slug="elsewhere")
    contract_id = post(client, "api-contract-list", contract_body()).json()["id"]
    response = post(
        client,
        "api-incident-list",
        {"contract": contract_id, "kind": "outage", "opened_at": t(1), "backends": [other.slug]},
    )
    assert response.status_code == 400
    assert "backends" in response.json()["error"]["fields"]
    assert not Incident.objects.exists()


def test_incident_is_resolved_with_a_patch(as_user, procurement, backend):
    client = as_user(procurement)
    contract_id = post(client, "api-contract-list", contract_body()).json()["id"]
    created = post(
        client,
        "api-incident-list",
        {"contract": contract_id, "kind": "support_request", "opened_at": t(1, 8)},
    ).json()
    response = client.patch(
        reverse("api-incident-detail", args=[created["id"]]),
        {"resolved_at": t(1, 9)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["resolved_at"].startswith("2026-03-01T09:00:00")
    assert response.json()["vendor"] == "cerebras"


def test_resolved_before_opened_is_refused(as_user, procurement, backend):
    client = as_user(procurement)
    contract_id = post(client, "api-contract-list", contract_body()).json()["id"]
    response = post(
        client,
        "api-incident-list",
        {"contract": contract_id, "kind": "rma", "opened_at": t(2), "resolved_at": t(1)},
    )
    assert response.status_code == 400
    assert "resolved_at" in response.json()["error"]["fields"]


def test_vendor_risk_answers_are_stamped_with_who_and_when(as_user, procurement, vendor):
    client = as_user(procurement)
    response = client.patch(
        reverse("api-vendor-detail", args=["cerebras"]),
        {"escrowed_source": True, "roadmap_confidence": "medium", "support_contacts": "NOC"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["escrowed_source"] is True
    assert data["escrowed_source_assessed_by"] == "proc"
    assert data["escrowed_source_assessed_at"] is not None
    assert data["roadmap_confidence_assessed_by"] == "proc"
    assert data["business_health_assessed_by"] is None
    assert data["business_health_assessed_at"] is None
    vendor.refresh_from_db()
    assert vendor.escrowed_source is True


def test_contract_list_query_count_is_flat(as_user, pm, backend, django_assert_num_queries):
    for n in range(4):
        contract = Contract.objects.create(
            vendor=backend.vendor,
            start=dt.date(2026, 1, 1),
            end=dt.date(2026, 12, 1 + n),
            fee=Decimal("1"),
        )
        contract.backends.set([backend, BackendFactory.create()])
    client = as_user(pm)
    client.get(reverse("api-contract-list"))  # warm the session and roles
    # 1 session, 2 user, 3 user's groups (roles), 4 contracts with their
    # vendor (one row more than the page: no COUNT(*)), 5 the backends of the
    # page's contracts.
    with django_assert_num_queries(5):
        response = client.get(reverse("api-contract-list"))
    assert len(response.json()["results"]) == 4


def test_incident_list_query_count_is_flat(as_user, pm, backend, django_assert_num_queries):
    contract = Contract.objects.create(
        vendor=backend.vendor, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 1)
    )
    for day in range(1, 6):
        Incident.objects.create(
            contract=contract, kind="rma", opened_at=dt.datetime(2026, 3, day, tzinfo=dt.UTC)
        )
    client = as_user(pm)
    # 1 session, 2 user, 3 groups, 4 incidents with contract, vendor and part
    # (one row more than the page: no COUNT(*)), 5 the outages' backends.
    with django_assert_num_queries(5):
        response = client.get(reverse("api-incident-list"))
    assert len(response.json()["results"]) == 5


def test_a_vendor_with_one_contract_has_exactly_that_contracts_figures(
    as_user, procurement, backend
):
    """Per vendor "the same" figures: with one contract, the vendor's
    compliance is the contract's to the last digit (1 met of 3 is
    33.333333333333336, the float nearest 100 / 3)."""
    client = as_user(procurement)
    contract = post(client, "api-contract-list", contract_body()).json()["id"]
    for opened, resolved in [((2, 0), (2, 3)), ((3, 0), (3, 5)), ((4, 0), (4, 9))]:
        post(
            client,
            "api-incident-list",
            {
                "contract": contract,
                "kind": "rma",
                "opened_at": t(*opened),
                "resolved_at": t(*resolved),
            },
        )
    window = {"from": "2026-02", "to": "2026-03"}
    by_contract = client.get(reverse("api-contract-compliance", args=[contract]), window).json()
    by_vendor = client.get(reverse("api-vendor-compliance", args=["cerebras"]), window).json()
    assert by_contract["total"]["compliance_percent"] == 100 / 3 == 33.333333333333336
    assert by_vendor == by_contract
