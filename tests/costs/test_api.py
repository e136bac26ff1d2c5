"""The costs API (issue 9, §6): CRUD with field-named errors, the showback,
comparison and pilot economics reports, visibility by role and membership,
and pinned query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from costs.models import CostModel, UsageMapping
from tests.costs.conftest import D, cloud, refresh
from tests.factories import CostCenterFactory, PilotFactory

pytestmark = pytest.mark.django_db

PERIOD = "2026-03"


@pytest.fixture
def client_for() -> Any:
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def month(gpu, usage, team_a, team_b, platform):
    """March 10: GPU at $192, search 300 tokens (CC-4100), ads 100 (CC-4200)."""
    cloud(gpu)
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    UsageMapping.objects.create(label="team", value="ads", cost_center=team_b, order=10)
    usage(gpu, prompt=300, requests=3, labels={"team": "search"})
    usage(gpu, prompt=100, requests=1, labels={"team": "ads"})
    refresh(gpu)
    return gpu


def test_finance_creates_a_cost_center_by_code_with_usernames(client_for, finance, pm):
    response = client_for(finance).post(
        "/api/v1/cost-centers/",
        {"code": "CC-7000", "name": "Mail", "owner": "pm", "members": ["fin"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = client_for(finance).get("/api/v1/cost-centers/CC-7000/").json()
    assert body == {
        "code": "CC-7000",
        "name": "Mail",
        "owner": "pm",
        "members": ["fin"],
        "is_active": True,
        "is_platform": False,
    }


def test_only_finance_and_admins_write(client_for, pm, pilot_team, admin_user):
    for user in (pm, pilot_team):
        response = client_for(user).post("/api/v1/cost-centers/", {"code": "X"}, format="json")
        assert response.status_code == 403
    response = client_for(admin_user).post("/api/v1/cost-centers/", {"code": "X"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "owned", "amortization_months": 12, "amortization_start": "2026-01-01"}, "capex"),
        ({"kind": "cloud_rate", "device_hour_rate": "-1"}, "device_hour_rate"),
        ({"kind": "cloud_rate", "device_hour_rate": "1", "currency": "EUR"}, "currency"),
        (
            {"kind": "owned", "capex": "1", "amortization_start": "2026-01-01"},
            "amortization_months",
        ),
        ({"kind": "cloud_rate", "device_hour_rate": "1", "pue": "0.5"}, "pue"),
    ],
)
def test_a_bad_cost_model_is_a_400_naming_the_field(client_for, finance, gpu, payload, field):
    response = client_for(finance).post(
        "/api/v1/cost-models/",
        {"backend": gpu.slug, "effective_from": "2026-01-01", **payload},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()


def test_money_sent_as_a_json_number_keeps_every_digit(client_for, finance, gpu):
    # 20 significant digits: a float would store 123456789012345680.00.
    body = (
        f'{{"backend": "{gpu.slug}", "kind": "owned", "effective_from": "2026-01-01",'
        ' "capex": 123456789012345678.91, "amortization_months": 36,'
        ' "amortization_start": "2026-01-01", "pue": 1.25}'
    )
    client = client_for(finance)
    response = client.post("/api/v1/cost-models/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["capex"] == "123456789012345678.91"
    if connection.vendor == "postgresql":  # SQLite keeps decimals as 15-digit REALs
        assert CostModel.objects.get().capex == Decimal("123456789012345678.91")
    refused = client.post(
        "/api/v1/cost-models/",
        body.replace("123456789012345678.91", "NaN"),
        content_type="application/json",
    )
    assert refused.status_code == 400


def test_cost_models_filter_by_backend_slug(client_for, finance, gpu, wafer):
    client = client_for(finance)
    for backend in (gpu, wafer):
        response = client.post(
            "/api/v1/cost-models/",
            {
                "backend": backend.slug,
                "kind": "cloud_rate",
                "effective_from": "2026-01-01",
                "device_hour_rate": "2.5",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    listed = client.get("/api/v1/cost-models/", {"backend": wafer.slug}).json()["results"]
    assert [m["backend"] for m in listed] == [wafer.slug]
    assert listed[0]["device_hour_rate"] == "2.500000"
    assert CostModel.objects.count() == 2


def test_usage_mapping_create_names_the_cost_center(client_for, finance, team_a):
    client = client_for(finance)
    response = client.post(
        "/api/v1/usage-mappings/",
        {"label": "team", "value": "search", "cost_center": "CC-4100", "order": 10},
        format="json",
    )
    assert response.status_code == 201
    bad = client.post(
        "/api/v1/usage-mappings/",
        {"label": "team", "value": "x", "cost_center": "CC-NOPE"},
        format="json",
    )
    assert bad.status_code == 400
    assert "cost_center" in bad.json()["error"]["fields"]


def test_showback_for_finance(client_for, finance, month):
    response = client_for(finance).get("/api/v1/showback/", {"period": PERIOD})
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == PERIOD
    assert body["currency"] == "USD"
    assert body["status"] == "open"
    assert body["backends"] == [
        {
            "backend": "gpu-four",
            "cost": "192.00",
            "idle": "0.00",
            "unmapped": "0.00",
            "utilization": "1.000000",
            "idle_policy": "share",
            "power_source": None,
            "days_without_contract": 0,
        }
    ]
    assert body["lines"] == [
        {
            "cost_center": "CC-4100",
            "backend": "gpu-four",
            "kind": "usage",
            "basis": "tokens",
            "quantity": "300",
            "amount": "144.00",
        },
        {
            "cost_center": "CC-4200",
            "backend": "gpu-four",
            "kind": "usage",
            "basis": "tokens",
            "quantity": "100",
            "amount": "48.00",
        },
    ]
    assert body["total"] == "192.00"


def test_members_see_their_cost_center_and_one_other_line(client_for, pilot_team, month, team_a):
    team_a.members.add(pilot_team)
    body = client_for(pilot_team).get("/api/v1/showback/", {"period": PERIOD}).json()
    assert [(line["cost_center"], line["kind"], line["amount"]) for line in body["lines"]] == [
        ("CC-4100", "usage", "144.00"),
        (None, "other", "48.00"),
    ]
    assert body["backends"][0]["cost"] == "192.00"


def test_a_role_without_membership_sees_only_other(client_for, approver, month):
    body = client_for(approver).get("/api/v1/showback/", {"period": PERIOD}).json()
    assert [(line["kind"], line["amount"]) for line in body["lines"]] == [("other", "192.00")]


@pytest.fixture
def idle_month(gpu, usage, team_a, team_b, platform):
    """March 10, C = 4 devices × $2 × 24 = 192; capacity 0.01 token/s, so
    K = 864 tokens and rho = 400 / 864; platform policy: CC-4100 carries
    192 × 300/864 = 66.67, CC-4200 192 × 100/864 = 22.22, and the idle
    192 × 464/864 = 103.11 is one line of the platform's CC-9000."""
    cloud(gpu, capacity_tokens_per_second=D("0.01"), idle_policy="platform")
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    UsageMapping.objects.create(label="team", value="ads", cost_center=team_b, order=10)
    usage(gpu, prompt=300, labels={"team": "search"})
    usage(gpu, prompt=100, labels={"team": "ads"})
    refresh(gpu)
    return gpu


def _lines(body):
    return [(line["cost_center"], line["kind"], line["amount"]) for line in body["lines"]]


def test_a_member_sees_the_platforms_idle_line_only_inside_other(
    client_for, pilot_team, idle_month, team_a
):
    team_a.members.add(pilot_team)  # not a member of the platform's CC-9000
    body = client_for(pilot_team).get("/api/v1/showback/", {"period": PERIOD}).json()
    # The backend's own figures stay whole: its idle is the backend's.
    assert body["backends"][0]["cost"] == "192.00"
    assert body["backends"][0]["idle"] == "103.11"
    assert _lines(body) == [
        ("CC-4100", "usage", "66.67"),
        (None, "other", "125.33"),  # CC-4200's 22.22 + the platform's idle 103.11
    ]


def test_a_member_of_the_platform_sees_its_idle_line(client_for, pilot_team, idle_month, platform):
    platform.members.add(pilot_team)
    body = client_for(pilot_team).get("/api/v1/showback/", {"period": PERIOD}).json()
    assert _lines(body) == [("CC-9000", "idle", "103.11"), (None, "other", "88.89")]


def test_finance_filters_lines_by_cost_center_idle_included(client_for, finance, idle_month):
    def lines(code):
        params = {"period": PERIOD, "cost_center": code}
        return _lines(client_for(finance).get("/api/v1/showback/", params).json())

    assert lines("CC-4100") == [("CC-4100", "usage", "66.67"), (None, "other", "125.33")]
    assert lines("CC-9000") == [("CC-9000", "idle", "103.11"), (None, "other", "88.89")]
    unfiltered = client_for(finance).get("/api/v1/showback/", {"period": PERIOD}).json()
    assert _lines(unfiltered) == [
        ("CC-4100", "usage", "66.67"),
        ("CC-4200", "usage", "22.22"),
        ("CC-9000", "idle", "103.11"),
    ]


def test_outsider_gets_nothing(client_for, outsider, month):
    for url in ("/api/v1/showback/", "/api/v1/backends/compare/", "/api/v1/cost-centers/"):
        assert client_for(outsider).get(url, {"period": PERIOD}).status_code == 403


def test_showback_rejects_a_bad_period_naming_it(client_for, finance):
    response = client_for(finance).get("/api/v1/showback/", {"period": "2026-13"})
    assert response.status_code == 400
    assert "period" in response.json()["error"]["fields"]


def test_compare_is_routed_before_the_backend_detail(client_for, finance, month):
    body = client_for(finance).get("/api/v1/backends/compare/", {"period": PERIOD}).json()
    (gpu,) = body["backends"]
    assert gpu["backend"] == "gpu-four"
    assert gpu["cost"] == "192"
    assert gpu["cost_per_1m_tokens"] == "480000"  # 192 / 400 × 10^6
    assert gpu["cost_per_inference"] == "48"
    assert gpu["joules_per_token"] is None
    assert gpu["goodput_fraction"] is None
    assert gpu["break_even"] == []  # no capacity, no curve
    # A backend named like the route is still reachable by its slug elsewhere.
    assert client_for(finance).get("/api/v1/backends/gpu-four/").status_code == 200


def test_pilot_economics_candidate_against_baseline(client_for, pm, month, wafer):
    cloud(wafer, rate="1")
    refresh(wafer)
    pilot = PilotFactory.create(candidate_backend=wafer, baseline_backend=month)
    body = client_for(pm).get(f"/api/v1/pilots/{pilot.pk}/economics/", {"period": PERIOD}).json()
    assert body["candidate"]["backend"] == "wafer-one"
    assert body["candidate"]["cost"] == "48"  # 2 devices × $1 × 24
    assert body["baseline"]["cost"] == "192"
    assert body["ratios"]["cost"] == "0.25"
    assert body["ratios"]["cost_per_1m_tokens"] is None  # the candidate served no tokens


def _count(user: Any, url: str) -> int:
    # A fresh user object: roles are cached on it for one request.
    client = APIClient()
    client.force_authenticate(type(user).objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, {"period": PERIOD}).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_rows(finance, pilot_team, month, usage, wafer, gpu):
    # showback (finance): the user's roles, the backend-day aggregate, the
    # allocation aggregate, whether the month is closed; a member also: the
    # cost centers they may see.
    # compare: roles, backends, the month's backend-day rows.
    def counts() -> tuple[int, int, int]:
        return (
            _count(finance, "/api/v1/showback/"),
            _count(pilot_team, "/api/v1/showback/"),
            _count(finance, "/api/v1/backends/compare/"),
        )

    before = counts()
    assert before == (4, 5, 3)
    for n in range(5):
        center = CostCenterFactory.create(code=f"CC-5{n}")
        UsageMapping.objects.create(label="team", value=f"t{n}", cost_center=center)
        usage(gpu, prompt=10 + n, labels={"team": f"t{n}"}, day=dt.date(2026, 3, 11 + n))
    cloud(wafer)
    refresh(gpu, wafer, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert counts() == before


def test_pilot_economics_query_count(finance, month, wafer):
    pilot = PilotFactory.create(candidate_backend=wafer, baseline_backend=month)
    # roles, the pilot (with both backends joined), the backends, their days
    assert _count(finance, f"/api/v1/pilots/{pilot.pk}/economics/") == 4


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/showback/?period=0000-01",
        "/api/v1/backends/compare/?period=0000-01",
        "/api/v1/bills/unmatched/?period=0000-01",
        "/api/v1/chargeback/0000-01/statements/",
    ],
)
def test_a_month_of_year_zero_is_a_400_naming_the_period(finance, url):
    # Found by schemathesis: year 0 has no calendar date (a 500 before).
    client = APIClient()
    client.force_authenticate(finance)
    response = client.get(url)
    assert response.status_code == 400
    assert "period" in response.json()["error"]["fields"]
