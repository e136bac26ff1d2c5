"""Chargeback API (issue 10, §6): shapes, visibility, commands, 409s and
pinned query counts; the racing close on PostgreSQL."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from costs.models import ChargebackPeriod, Statement
from costs.selectors import showback
from costs.services import period_close
from tests.costs.chargeback_data import OCTOBER, build_world

pytestmark = pytest.mark.django_db

LINE_KEYS = {"backend", "kind", "basis", "quantity", "unit_cost", "amount"}
STATEMENT_KEYS = {"number", "cost_center", "period", "version", "replaces", "total", "lines"}


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_periods_list_every_month_with_data(finance: Any) -> None:
    build_world()
    client = _client(finance)
    assert client.get("/api/v1/chargeback/").json() == [
        {"period": "2026-10", "status": "open", "version": None}
    ]
    period_close(period=OCTOBER, actor=finance)
    assert client.get("/api/v1/chargeback/").json() == [
        {"period": "2026-10", "status": "closed", "version": 1}
    ]


def test_close_then_close_again_is_409(finance: Any) -> None:
    build_world()
    client = _client(finance)
    first = client.post("/api/v1/chargeback/2026-10/close/")
    assert first.status_code == 201, first.content
    assert first.json() == {"period": "2026-10", "status": "closed", "version": 1}

    second = client.post("/api/v1/chargeback/2026-10/close/")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "conflict"
    assert "already closed" in second.json()["error"]["message"]


def test_close_refusals_name_the_period(finance: Any) -> None:
    build_world()
    client = _client(finance)
    bad = client.post("/api/v1/chargeback/2026-13/close/")
    assert bad.status_code == 400 and "period" in bad.json()["error"]["fields"]
    future = client.post("/api/v1/chargeback/2099-01/close/")
    assert future.status_code == 400
    assert "has not ended" in future.json()["error"]["fields"]["period"][0]


def test_statements_shape_and_totals(finance: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    body = _client(finance).get("/api/v1/chargeback/2026-10/statements/").json()
    assert [s["cost_center"] for s in body] == ["CC-0000", "CC-4100", "CC-4200"]
    for statement in body:
        assert set(statement) == STATEMENT_KEYS
        assert statement["period"] == "2026-10" and statement["version"] == 1
        assert statement["replaces"] is None
        for line in statement["lines"]:
            assert set(line) == LINE_KEYS
            assert isinstance(line["amount"], str)
    total = sum(Decimal(s["total"]) for s in body)
    assert total == showback(period=OCTOBER, user=finance).total


def test_members_see_only_their_cost_centers_statements(finance: Any, pm: Any) -> None:
    world = build_world()
    world.search.members.add(pm)
    period_close(period=OCTOBER, actor=finance)
    client = _client(pm)
    body = client.get("/api/v1/chargeback/2026-10/statements/").json()
    assert [s["cost_center"] for s in body] == ["CC-4100"]
    assert client.get("/api/v1/statements/2026-10-CC-4100-v1/").status_code == 200
    hidden = client.get("/api/v1/statements/2026-10-CC-4200-v1/")
    assert hidden.status_code == 404
    assert "CC-4200" not in hidden.content.decode()


def test_statement_detail_has_hash_and_who_closed_it(finance: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    body = _client(finance).get("/api/v1/statements/2026-10-CC-4100-v1/").json()
    stored = Statement.objects.get(number="2026-10-CC-4100-v1")
    assert body["content_hash"] == stored.content_hash
    assert body["closed_by"] == finance.username
    assert body["closed_at"].endswith("Z")


def test_restate_needs_a_reason_and_finance(finance: Any, pm: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    assert (
        _client(pm).post("/api/v1/chargeback/2026-10/restate/", {"reason": "x"}).status_code == 403
    )
    client = _client(finance)
    missing = client.post("/api/v1/chargeback/2026-10/restate/", {})
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    done = client.post(
        "/api/v1/chargeback/2026-10/restate/", {"reason": "new price"}, format="json"
    )
    assert done.status_code == 201 and done.json()["version"] == 2
    latest = client.get("/api/v1/chargeback/2026-10/statements/").json()
    assert {s["version"] for s in latest} == {2}
    assert latest[1]["replaces"] == "2026-10-CC-4100-v1"
    old = client.get("/api/v1/chargeback/2026-10/statements/?version=1").json()
    assert {s["version"] for s in old} == {1}


def test_restating_an_open_month_is_409(finance: Any) -> None:
    build_world()
    response = _client(finance).post(
        "/api/v1/chargeback/2026-10/restate/", {"reason": "why"}, format="json"
    )
    assert response.status_code == 409


def test_pm_cannot_close(pm: Any) -> None:
    build_world()
    assert _client(pm).post("/api/v1/chargeback/2026-10/close/").status_code == 403
    assert not ChargebackPeriod.objects.exists()


def test_statements_list_query_count_does_not_grow(
    finance: Any, django_assert_num_queries: Any
) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    client = _client(finance)
    client.get("/api/v1/chargeback/2026-10/statements/")  # caches the roles on the user
    # Finance sees every cost center (no membership query):
    # 1 the period row, 2 the statements with their period and replaced
    # statement, 3 their lines (prefetch).
    with django_assert_num_queries(3):
        response = client.get("/api/v1/chargeback/2026-10/statements/")
    assert len(response.json()) == 3


def test_budget_on_the_cost_center_resource(finance: Any, pm: Any) -> None:
    world = build_world()
    world.search.members.add(pm)
    client = _client(finance)
    put = client.put(
        "/api/v1/cost-centers/CC-4100/budget/",
        {"monthly_amount": "100.00", "soft_percent": 80, "hard_percent": 100},
        format="json",
    )
    assert put.status_code == 200, put.content
    got = _client(pm).get("/api/v1/cost-centers/CC-4100/budget/?period=2026-10").json()
    assert got["monthly_amount"] == "100.00" and got["cost_center"] == "CC-4100"
    assert Decimal(got["spend"]) > 0
    assert _client(pm).get("/api/v1/cost-centers/CC-4200/budget/").status_code == 404
    refused = _client(pm).put(
        "/api/v1/cost-centers/CC-4100/budget/", {"monthly_amount": "1"}, format="json"
    )
    assert refused.status_code == 403
    bad = client.put(
        "/api/v1/cost-centers/CC-4100/budget/",
        {"monthly_amount": "100", "soft_percent": 120, "hard_percent": 100},
        format="json",
    )
    assert bad.status_code == 400 and "soft_percent" in bad.json()["error"]["fields"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_closes_at_once_one_wins_the_other_gets_409(make_user: Any) -> None:
    from portal.roles import Role

    build_world()
    users = [make_user(f"fin{i}", Role.FINANCE) for i in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def close(user: Any) -> None:
        try:
            client = _client(user)
            barrier.wait()
            statuses.append(client.post("/api/v1/chargeback/2026-10/close/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409]
    assert Statement.objects.count() == 3
    assert ChargebackPeriod.objects.get(period="2026-10").version == 1


def test_showback_of_a_closed_month_says_closed_and_adds_up_to_its_statements(
    finance: Any,
) -> None:
    build_world()
    client = _client(finance)
    assert client.get("/api/v1/showback/", {"period": "2026-10"}).json()["status"] == "open"
    period_close(period=OCTOBER, actor=finance)
    showback_body = client.get("/api/v1/showback/", {"period": "2026-10"}).json()
    statements = client.get("/api/v1/chargeback/2026-10/statements/").json()
    assert showback_body["status"] == "closed"
    assert Decimal(showback_body["total"]) == sum(Decimal(s["total"]) for s in statements)
