"""Vendor, contract, incident and spares pages (issue 12, §5): they render
for readers, write through the services for procurement, show refusals
inline, and the CSV exports cannot smuggle formulas."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from pilots.csv_export import safe_cell
from pilots.models import Contract, Part, StockLevel, StockMovement
from pilots.services import spares
from tests.factories import BackendFactory, SiteFactory, VendorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    vendor = VendorFactory.create(slug="cerebras", name="Cerebras")
    site = SiteFactory.create(slug="ams", name="Amsterdam")
    backend = BackendFactory.create(slug="wse-3", vendor=vendor, site=site)
    part = Part.objects.create(
        vendor=vendor, part_number="=HYPERLINK(1)", annual_failure_rate=Decimal("0.1")
    )
    contract = Contract.objects.create(
        vendor=vendor,
        reference="+CMD",
        start=dt.date(2026, 1, 1),
        end=dt.date(2026, 12, 31),
        fee=Decimal("1000"),
    )
    contract.backends.set([backend])
    return {"vendor": vendor, "site": site, "backend": backend, "part": part, "contract": contract}


@pytest.mark.parametrize(
    "name,args",
    [
        ("vendor-list", []),
        ("vendor-detail", ["cerebras"]),
        ("procurement", []),
        ("spares", []),
        ("backend-spares", ["wse-3"]),
    ],
)
def test_reader_pages_render(as_user, finance, world, name, args):
    response = as_user(finance).get(reverse(name, args=args))
    assert response.status_code == 200


def test_vendor_page_has_the_local_plotly_chart(as_user, finance, world):
    body = as_user(finance).get(reverse("vendor-detail", args=["cerebras"])).content.decode()
    assert 'id="compliance-data"' in body
    assert "/static/plotly/plotly.min.js" in body


def test_procurement_creates_a_contract_on_the_page(as_user, procurement, world):
    response = as_user(procurement).post(
        reverse("contract-create"),
        {
            "vendor": world["vendor"].pk,
            "backends": [world["backend"].pk],
            "start": "2026-01-01",
            "end": "2026-06-30",
            "notice_days": "30",
            "fee": "500",
            "fee_period": "monthly",
            "credit_basis": "per_breach",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Contract.objects.filter(end=dt.date(2026, 6, 30)).exists()


@pytest.mark.parametrize("field", ["notice_days", "patch_window_days", "firmware_cadence_days"])
def test_a_day_count_off_the_calendar_is_a_field_error_on_the_page(
    as_user, procurement, world, field
):
    # 10,000,000 days before the end is before year 1: refused, not a contract
    # that fails on every read.
    data = {
        "vendor": world["vendor"].pk,
        "start": "2026-01-01",
        "end": "2026-06-30",
        "notice_days": "0",
        "fee": "500",
        "fee_period": "monthly",
        "credit_basis": "per_breach",
        "reference": "far",
        field: "10000000",
    }
    response = as_user(procurement).post(reverse("contract-create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Contract.objects.filter(reference="far").exists()


def test_pm_cannot_open_the_contract_form(as_user, pm, world):
    assert as_user(pm).get(reverse("contract-create")).status_code == 403


def test_a_refused_movement_shows_why_on_the_form(as_user, procurement, world):
    response = as_user(procurement).post(
        reverse("movement-create"),
        {"part": world["part"].pk, "site": world["site"].pk, "kind": "consumed", "quantity": "1"},
    )
    assert response.status_code == 200
    assert "0 on hand" in response.content.decode()
    assert not StockMovement.objects.exists()


def test_a_movement_from_the_page_is_recorded(as_user, procurement, world):
    response = as_user(procurement).post(
        reverse("movement-create"),
        {"part": world["part"].pk, "site": world["site"].pk, "kind": "received", "quantity": "2"},
    )
    assert response.status_code == 302
    assert spares.on_hand(StockLevel.objects.get()) == 2


def test_incident_form_records_an_rma(as_user, procurement, world):
    response = as_user(procurement).post(
        reverse("incident-create", args=[world["contract"].pk]),
        {"kind": "rma", "opened_at": "2026-03-01T10:00", "resolved_at": "2026-03-01T12:00"},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert world["contract"].incidents.count() == 1


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ok", "ok"),
        (None, ""),
        (3, "3"),
    ],
)
def test_safe_cell_neutralises_formula_starts(value, expected):
    assert safe_cell(value) == expected


def test_inventory_csv_is_neutralised(as_user, finance, world):
    spares.movement_record(
        actor=None, part=world["part"], site=world["site"], kind="received", quantity=3
    )
    response = as_user(finance).get(reverse("inventory-csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["site", "part_number", "description", "criticality", "on_hand"]
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][4] == "3"


def test_compliance_csv_has_months_and_total(as_user, finance, world):
    response = as_user(finance).get(
        reverse("contract-compliance-csv", args=[world["contract"].pk]),
        {"from": "2026-01", "to": "2026-03"},
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [r[0] for r in rows] == ["month", "2026-01", "2026-02", "2026-03", "total"]
    assert rows[-1][-1] == "0.00"
