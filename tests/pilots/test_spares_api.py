"""Spares through the API (issue 12, §3): sites, parts, stock, units, the
ledger that never goes negative (also under concurrent consumption on
PostgreSQL), and the Poisson standby count per backend."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilots.models import Contract, Part, Site, StockLevel, StockMovement, Unit
from pilots.services import spares
from tests.factories import BackendFactory, SiteFactory, UserFactory, VendorFactory

pytestmark = pytest.mark.django_db


def post(client: Any, name: str, body: dict[str, Any]) -> Any:
    return client.post(reverse(name), body, content_type="application/json")


@pytest.fixture
def world() -> dict[str, Any]:
    vendor = VendorFactory.create(slug="nvidia")
    site = SiteFactory.create(slug="ams", name="Amsterdam")
    backend = BackendFactory.create(slug="h100", vendor=vendor, site=site)
    part = Part.objects.create(
        vendor=vendor, part_number="GPU-H100", annual_failure_rate="0.5", criticality="critical"
    )
    return {"vendor": vendor, "site": site, "backend": backend, "part": part}


def test_catalogue_by_part_number_and_slug(as_user, procurement, world):
    client = as_user(procurement)
    assert post(client, "api-site-list", {"slug": "fra", "name": "Frankfurt"}).status_code == 201
    part = post(
        client,
        "api-part-list",
        {"part_number": "PSU-2", "vendor": "nvidia", "annual_failure_rate": "0.02"},
    )
    assert part.status_code == 201, part.json()
    assert set(part.json()) == {
        "part_number",
        "vendor",
        "description",
        "criticality",
        "unit_cost",
        "annual_failure_rate",
    }
    stock = post(client, "api-stock-list", {"part": "PSU-2", "site": "fra"})
    assert stock.status_code == 201, stock.json()
    assert stock.json()["on_hand"] == 0
    assert stock.json()["repair_partner"] == ""
    unit = post(
        client,
        "api-unit-list",
        {
            "serial": "SN-9",
            "part": "PSU-2",
            "site": "ams",
            "status": "in_service",
            "backend": "h100",
        },
    )
    assert unit.status_code == 201, unit.json()
    assert unit.json() == {
        "serial": "SN-9",
        "part": "PSU-2",
        "site": "ams",
        "status": "in_service",
        "backend": "h100",
        "firmware_version": "",
    }
    assert client.get(reverse("api-part-detail", args=["PSU-2"])).status_code == 200
    assert client.get(reverse("api-unit-detail", args=["SN-9"])).status_code == 200


def test_on_hand_is_read_only(as_user, procurement, world):
    client = as_user(procurement)
    created = post(client, "api-stock-list", {"part": "GPU-H100", "site": "ams", "on_hand": 50})
    assert created.status_code == 201
    assert created.json()["on_hand"] == 0


def test_unit_in_service_needs_a_backend_at_its_site(as_user, procurement, world):
    client = as_user(procurement)
    SiteFactory.create(slug="fra", name="Frankfurt")
    no_backend = {"serial": "X1", "part": "GPU-H100", "site": "ams", "status": "in_service"}
    assert post(client, "api-unit-list", no_backend).status_code == 400
    elsewhere = {**no_backend, "site": "fra", "backend": "h100"}
    response = post(client, "api-unit-list", elsewhere)
    assert response.status_code == 400
    assert "site" in response.json()["error"]["fields"]


def test_movement_refused_with_409_saying_why_and_on_hand(as_user, procurement, world):
    client = as_user(procurement)
    received = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 2, "note": "PO 7"},
    )
    assert received.status_code == 201, received.json()
    assert received.json()["delta"] == 2
    assert received.json()["created_by"] == "proc"

    response = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "consumed", "quantity": 3},
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["on_hand"] == 2
    assert "2 on hand" in error["message"] and "3 wanted" in error["message"]
    assert StockMovement.objects.count() == 1


def test_transfer_moves_between_sites_and_reversal_undoes(as_user, procurement, world):
    client = as_user(procurement)
    SiteFactory.create(slug="fra", name="Frankfurt")
    post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 3},
    )
    moved = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "transferred", "quantity": 2, "to_site": "fra"},
    )
    assert moved.status_code == 201, moved.json()
    stock = {
        row["site"]: row["on_hand"]
        for row in client.get(reverse("api-stock-list")).json()["results"]
    }
    assert stock == {"ams": 1, "fra": 2}
    reversed_ = client.post(reverse("api-movement-reverse", args=[moved.json()["id"]]), {})
    assert reversed_.status_code == 201, reversed_.json()
    assert reversed_.json()["delta"] == 2
    again = client.post(reverse("api-movement-reverse", args=[moved.json()["id"]]), {})
    assert again.status_code == 400


def test_movements_cannot_be_edited(as_user, procurement, world):
    client = as_user(procurement)
    created = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 1},
    )
    url = reverse("api-movement-detail", args=[created.json()["id"]])
    assert client.patch(url, {"quantity": 5}, content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405


@pytest.mark.parametrize("persona", ["pm", "finance", "approver", "pilot_team"])
def test_only_procurement_and_admins_move_stock(request, as_user, world, persona):
    client = as_user(request.getfixturevalue(persona))
    body = {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 1}
    assert post(client, "api-movement-list", body).status_code == 403
    assert client.get(reverse("api-movement-list")).status_code == 200


KINDS = ["received", "consumed", "sent_to_repair", "returned", "written_off"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 5)), max_size=25))
def test_random_movements_never_go_negative_and_refusals_say_why(world, moves):
    StockMovement.objects.all().delete()
    StockLevel.objects.all().delete()
    part, site = world["part"], world["site"]
    expected = 0
    for kind, quantity in moves:
        delta = spares.SIGN[kind] * quantity
        try:
            spares.movement_record(actor=None, part=part, site=site, kind=kind, quantity=quantity)
        except spares.InsufficientStock as error:
            assert expected + delta < 0
            assert error.available == expected
            assert f"{expected} on hand" in error.messages[0]
            assert f"{quantity} wanted" in error.messages[0]
            continue
        expected += delta
        assert expected >= 0
    stock = StockLevel.objects.filter(part=part, site=site).first()
    assert (spares.on_hand(stock) if stock else 0) == expected


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_consumption_of_the_last_unit_has_one_winner(world):
    part, site = world["part"], world["site"]
    spares.movement_record(actor=None, part=part, site=site, kind="received", quantity=1)
    barrier = threading.Barrier(4)
    results: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            barrier.wait()
            spares.movement_record(actor=None, part=part, site=site, kind="consumed", quantity=1)
            outcome = "won"
        except spares.InsufficientStock:
            outcome = "refused"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["refused", "refused", "refused", "won"]
    assert spares.on_hand(StockLevel.objects.get(part=part, site=site)) == 0


def _fleet(world: dict[str, Any], n: int) -> None:
    for i in range(n):
        Unit.objects.create(
            serial=f"U{i}",
            part=world["part"],
            site=world["site"],
            status="in_service",
            backend=world["backend"],
        )


def test_poisson_standby_count_through_the_api(as_user, pm, world):
    _fleet(world, 10)
    StockLevel.objects.create(
        part=world["part"], site=world["site"], lead_time_days=30, reorder_point=1
    )
    spares.movement_record(
        actor=None, part=world["part"], site=world["site"], kind="received", quantity=1
    )

    response = as_user(pm).get(reverse("api-backend-spares", args=["h100"]))

    assert response.status_code == 200, response.json()
    (row,) = response.json()
    # λ = 10 × 0.5 × 30 / 365 = 0.41096; P(X ≤ 1) = 0.9355 < 0.95 ≤ P(X ≤ 2) = 0.9915.
    assert row["part"] == "GPU-H100"
    assert row["fleet"] == 10
    assert row["replenishment_days"] == 30
    assert row["lambda"] == pytest.approx(10 * 0.5 * 30 / 365)
    assert row["recommended"] == 2
    assert row["on_hand"] == 1
    assert row["shortfall"] == 1
    assert set(row) == {
        "part",
        "fleet",
        "annual_failure_rate",
        "replenishment_days",
        "lambda",
        "recommended",
        "on_hand",
        "shortfall",
    }


def test_a_covering_contracts_shorter_replacement_time_wins(as_user, pm, world):
    _fleet(world, 10)
    StockLevel.objects.create(part=world["part"], site=world["site"], lead_time_days=30)
    contract = Contract.objects.create(
        vendor=world["vendor"],
        start="2026-01-01",
        end="2026-12-31",
        replacement_hours=Decimal("48"),
    )
    contract.backends.set([world["backend"]])

    (row,) = as_user(pm).get(reverse("api-backend-spares", args=["h100"])).json()

    # L = 2 days: λ = 0.0274, P(X = 0) = 0.973 ≥ 0.95.
    assert row["replenishment_days"] == 2
    assert row["recommended"] == 0
    assert row["shortfall"] == 0


def test_service_level_parameter_is_checked(as_user, pm, world):
    response = as_user(pm).get(reverse("api-backend-spares", args=["h100"]), {"service_level": "2"})
    assert response.status_code == 400
    assert "service_level" in response.json()["error"]["fields"]


def test_spares_path_resolves_beside_the_backend_detail_and_summary():
    from django.urls import resolve

    assert resolve("/api/v1/backends/h100/spares/").url_name == "api-backend-spares"
    assert resolve("/api/v1/backends/h100/").url_name == "api-backend-detail"
    assert resolve("/api/v1/backends/h100/summary/").url_name == "backend-metrics-summary"


def test_stock_list_query_count_is_flat(as_user, pm, world, django_assert_num_queries):
    for i in range(5):
        site = Site.objects.create(slug=f"s{i}", name=f"Site {i}")
        spares.movement_record(
            actor=None, part=world["part"], site=site, kind="received", quantity=i + 1
        )
    client = as_user(pm)
    # 1 session, 2 user, 3 groups, 4 stock rows with part, vendor, site and
    # the ledger's sum (no COUNT(*): the list reads one row more than it shows).
    with django_assert_num_queries(4):
        response = client.get(reverse("api-stock-list"))
    assert [r["on_hand"] for r in response.json()["results"]] == [1, 2, 3, 4, 5]


def test_unit_and_movement_lists_query_counts_are_flat(
    as_user, pm, world, django_assert_num_queries
):
    _fleet(world, 6)
    for _ in range(4):
        spares.movement_record(
            actor=UserFactory.create(),
            part=world["part"],
            site=world["site"],
            kind="received",
            quantity=1,
        )
    client = as_user(pm)
    client.get(reverse("api-unit-list"))
    # session, user, groups, units with part, site and backend (no COUNT(*)).
    with django_assert_num_queries(4):
        assert len(client.get(reverse("api-unit-list")).json()["results"]) == 6
    # session, user, groups, movements with shelf, part, site, other site, author.
    with django_assert_num_queries(4):
        assert len(client.get(reverse("api-movement-list")).json()["results"]) == 4


def _on_hand(client: Any) -> dict[str, int]:
    rows = client.get(reverse("api-stock-list")).json()["results"]
    return {row["site"]: row["on_hand"] for row in rows}


@pytest.mark.parametrize("line", ["outgoing", "incoming"])
def test_reversing_a_transfer_undoes_both_of_its_lines(as_user, procurement, world, line):
    """A transfer is two lines; reversing either puts the units back where
    they came from (it does not leave them at the destination as well)."""
    client = as_user(procurement)
    SiteFactory.create(slug="fra", name="Frankfurt")
    post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 3},
    )
    moved = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "transferred", "quantity": 2, "to_site": "fra"},
    ).json()
    target = moved["id"]
    if line == "incoming":
        target = StockMovement.objects.get(stock__site__slug="fra", kind="transferred").pk
    response = client.post(reverse("api-movement-reverse", args=[target]), {})
    assert response.status_code == 201, response.json()
    assert _on_hand(client) == {"ams": 3, "fra": 0}
    assert StockMovement.objects.filter(reverses__isnull=False).count() == 2
    # Either line of it is reversed now.
    again = client.post(reverse("api-movement-reverse", args=[moved["id"]]), {})
    assert again.status_code == 400


def test_a_transfer_whose_units_were_used_at_the_destination_cannot_be_reversed(
    as_user, procurement, world
):
    client = as_user(procurement)
    SiteFactory.create(slug="fra", name="Frankfurt")
    post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "received", "quantity": 3},
    )
    moved = post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "ams", "kind": "transferred", "quantity": 2, "to_site": "fra"},
    ).json()
    post(
        client,
        "api-movement-list",
        {"part": "GPU-H100", "site": "fra", "kind": "consumed", "quantity": 1},
    )
    response = client.post(reverse("api-movement-reverse", args=[moved["id"]]), {})
    assert response.status_code == 409
    assert response.json()["error"]["on_hand"] == 1
    assert _on_hand(client) == {"ams": 1, "fra": 1}
