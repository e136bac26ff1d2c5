"""Chargeback pages and exports (issue 10, §5): close page with warnings,
statements (printable, diff), budgets, CSV/XLSX/FOCUS exports with
formula injection neutralised, FOCUS round trip, pinned query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from costs.focus import FocusReader, FocusRow
from costs.models import ChargebackPeriod, Statement
from costs.selectors import showback
from costs.services import period_close, period_restate
from tests.costs.chargeback_data import OCTOBER, add_usage, build_world
from tests.factories import BackendFactory

pytestmark = pytest.mark.django_db

NASTY = '=HYPERLINK("http://evil")'


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_finance_closes_from_the_close_page(finance: Any, as_user: Any) -> None:
    build_world()
    client = as_user(finance)
    page = client.get("/costs/chargeback/2026-10/close/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "What will be frozen" in text and "CC-4100" in text
    response = client.post("/costs/chargeback/2026-10/close/")
    assert response.status_code == 302
    assert ChargebackPeriod.objects.get(period="2026-10").is_closed
    again = client.post("/costs/chargeback/2026-10/close/", follow=True)
    assert "already closed" in again.content.decode()


def test_close_page_warns_of_unmapped_usage_missing_models_and_late_data(
    finance: Any, as_user: Any
) -> None:
    build_world()
    BackendFactory(slug="no-model", name="Backend without a price")
    row = ChargebackPeriod.objects.create(period="2026-09", status="closed", version=1)
    ChargebackPeriod.objects.filter(pk=row.pk).update(late_arrivals=2)
    text = as_user(finance).get("/costs/chargeback/2026-10/close/").content.decode()
    assert "unmapped" in text and "usage no mapping claims" in text
    assert "no-model" in text and "has no cost model" in text
    assert "2026-09 has 2 late arrivals" in text


def test_statement_page_is_printable_and_names_who_closed_it(
    finance: Any, pm: Any, as_user: Any
) -> None:
    world = build_world()
    world.search.members.add(pm)
    period_close(period=OCTOBER, actor=finance)
    statement = Statement.objects.get(number="2026-10-CC-4100-v1")
    text = as_user(pm).get("/costs/statements/2026-10-CC-4100-v1/").content.decode()
    assert f">{statement.total}<" in text
    assert "by fin" in text and statement.content_hash in text
    assert "@media" not in text or 'media="print"' in text
    assert as_user(pm).get("/costs/statements/2026-10-CC-4200-v1/").status_code == 404


def test_restated_statement_shows_the_line_by_line_difference(finance: Any, as_user: Any) -> None:
    world = build_world()
    period_close(period=OCTOBER, actor=finance)
    add_usage(world.backend, OCTOBER.start + dt.timedelta(days=5), team="search", tokens=50_000)
    period_restate(period=OCTOBER, actor=finance, reason="late scrape")
    v1 = Statement.objects.get(number="2026-10-CC-4100-v1")
    v2 = Statement.objects.get(number="2026-10-CC-4100-v2")
    text = as_user(finance).get("/costs/statements/2026-10-CC-4100-v2/").content.decode()
    assert "Changes from version 1" in text
    assert "changed" in text
    assert f">{v1.total}<" in text and f">{v2.total}<" in text
    assert "late scrape" in text
    old = as_user(finance).get("/costs/statements/2026-10-CC-4100-v1/").content.decode()
    assert "replaced by" in old


def test_statement_list_page_query_count_does_not_grow(
    finance: Any, as_user: Any, django_assert_num_queries: Any
) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    client = as_user(finance)
    # 1 session, 2 user, 3 the user's groups (roles), 4 count for the
    # paginator, 5 the page of statements with their period and replaced one.
    with django_assert_num_queries(5):
        response = client.get("/costs/statements/?period=2026-10")
    assert response.content.decode().count("2026-10-CC-") >= 3
    period_restate(period=OCTOBER, actor=finance, reason="more rows")
    with django_assert_num_queries(5):
        client.get("/costs/statements/?version=all")


def test_statement_list_filters(finance: Any, as_user: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    period_restate(period=OCTOBER, actor=finance, reason="v2")
    client = as_user(finance)
    latest = client.get("/costs/statements/").content.decode()
    assert "/costs/statements/2026-10-CC-4100-v2/" in latest
    assert "/costs/statements/2026-10-CC-4100-v1/" not in latest
    one = client.get("/costs/statements/?cost_center=CC-4200&version=1").content.decode()
    assert "2026-10-CC-4200-v1" in one and "CC-4100-v" not in one


def _nasty_world() -> Any:
    world = build_world()
    world.search.name = NASTY
    world.search.save()
    world.ads.name = "@SUM(A1)"
    world.ads.save()
    return world


def test_statement_csv_is_neutralised_and_adds_up(finance: Any, as_user: Any) -> None:
    _nasty_world()
    period_close(period=OCTOBER, actor=finance)
    response = as_user(finance).get("/costs/statements/2026-10-CC-4100-v1/export.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="2026-10-CC-4100-v1.csv"'
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert rows and all(row["Cost center name"] == "'" + NASTY for row in rows)
    statement = Statement.objects.get(number="2026-10-CC-4100-v1")
    assert sum(Decimal(r["Amount"]) for r in rows if r["Charged"] == "yes") == statement.total
    assert rows[0]["Closed at"].endswith("Z")


def test_statement_xlsx_keeps_money_numeric_and_dates_dates(finance: Any, as_user: Any) -> None:
    _nasty_world()
    period_close(period=OCTOBER, actor=finance)
    response = as_user(finance).get("/costs/statements/2026-10-CC-4200-v1/export.xlsx")
    sheet = load_workbook(io.BytesIO(_body(response))).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    amount = header.index("Amount")
    closed = header.index("Closed at (UTC)")
    name = header.index("Cost center name")
    rows = list(sheet.iter_rows(min_row=2))
    assert rows
    for row in rows:
        assert isinstance(row[amount].value, (int, float))
        assert "$" in row[amount].number_format
        assert isinstance(row[closed].value, dt.datetime)
        assert row[name].value == "'@SUM(A1)" and row[name].data_type == "s"
    statement = Statement.objects.get(number="2026-10-CC-4200-v1")
    charged = header.index("Charged")
    total = sum(Decimal(str(r[amount].value)) for r in rows if r[charged].value == "yes")
    assert total == statement.total


def test_statement_focus_export_round_trips_through_the_reader(finance: Any, as_user: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    for statement in Statement.objects.all():
        response = as_user(finance).get(f"/costs/statements/{statement.number}/export.focus")
        text = _body(response).decode("utf-8-sig")
        assert text.splitlines()[0].startswith("BilledCost,BillingAccountId,BillingAccountName")
        reader = FocusReader(io.StringIO(text, newline=""), currency="USD")
        rows = list(reader)
        assert all(isinstance(r, FocusRow) for r in rows), rows
        read = [r for r in rows if isinstance(r, FocusRow)]
        assert sum((r.effective_cost for r in read), Decimal(0)) == statement.total
        assert sum((r.billed_cost for r in read), Decimal(0)) == statement.total
        assert all(r.service_category == "AI and Machine Learning" for r in read)
        assert all(r.charge_period_start == dt.datetime(2026, 10, 1, tzinfo=dt.UTC) for r in read)


def test_showback_exports_csv_xlsx_and_focus(finance: Any, as_user: Any) -> None:
    _nasty_world()
    client = as_user(finance)
    total = showback(period=OCTOBER, user=finance).total
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                _body(client.get("/costs/chargeback/2026-10/showback.csv")).decode("utf-8-sig")
            )
        )
    )
    assert sum(Decimal(r["Amount"]) for r in csv_rows) == total
    assert {r["Status"] for r in csv_rows} == {"open"}
    assert "'" + NASTY in {r["Cost center name"] for r in csv_rows}
    focus = _body(client.get("/costs/chargeback/2026-10/showback.focus")).decode("utf-8-sig")
    read = [r for r in FocusReader(io.StringIO(focus, newline="")) if isinstance(r, FocusRow)]
    assert sum((r.effective_cost for r in read), Decimal(0)) == total
    book = load_workbook(io.BytesIO(_body(client.get("/costs/chargeback/2026-10/showback.xlsx"))))
    sheet = book.active
    assert sheet is not None and sheet.max_row == len(csv_rows) + 1

    period_close(period=OCTOBER, actor=finance)
    closed = list(
        csv.DictReader(
            io.StringIO(
                _body(client.get("/costs/chargeback/2026-10/showback.csv")).decode("utf-8-sig")
            )
        )
    )
    assert {r["Status"] for r in closed} == {"closed"}
    assert sum(Decimal(r["Amount"]) for r in closed) == total


def test_unit_economics_exports(finance: Any, as_user: Any) -> None:
    build_world()
    client = as_user(finance)
    rows = list(
        csv.DictReader(
            io.StringIO(
                _body(client.get("/costs/chargeback/2026-10/economics.csv")).decode("utf-8-sig")
            )
        )
    )
    assert [r["Backend"] for r in rows] == ["gpu-a"]
    assert Decimal(rows[0]["Cost"]) == showback(period=OCTOBER, user=finance).total
    book = load_workbook(io.BytesIO(_body(client.get("/costs/chargeback/2026-10/economics.xlsx"))))
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert isinstance(sheet[2][header.index("Cost")].value, (int, float))
    assert client.get("/costs/chargeback/2026-10/economics.focus").status_code == 404


def test_budgets_page_and_save(finance: Any, pm: Any, as_user: Any) -> None:
    world = build_world()
    world.search.members.add(pm)
    client = as_user(finance)
    response = client.post(
        "/costs/budgets/CC-4100/",
        {"monthly_amount": "250.00", "soft_percent": "80", "hard_percent": "100"},
    )
    assert response.status_code == 302
    text = client.get("/costs/budgets/?period=2026-10").content.decode()
    assert "250.00" in text and "200.00 (80%)" in text
    bad = client.post(
        "/costs/budgets/CC-4100/",
        {"monthly_amount": "abc"},
        follow=True,
    )
    assert "Budget of CC-4100" in bad.content.decode()
    member = as_user(pm).get("/costs/budgets/?period=2026-10").content.decode()
    assert "CC-4100" in member and "CC-4200" not in member
