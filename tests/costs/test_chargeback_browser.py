"""Finance closes last month in real Chromium, opens a statement and
downloads its XLSX and its FOCUS CSV (issue 10, §7). Every request stays
on the portal's host."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from openpyxl import load_workbook

from costs.focus import FocusReader, FocusRow
from costs.models import ChargebackPeriod, Statement
from costs.selectors import Period
from portal.roles import Role
from tests.costs.chargeback_data import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_finance_closes_last_month_and_downloads_a_statement(
    live_server: Any, browser_page: Any, make_user: Any
) -> None:
    page = browser_page
    make_user("fran", Role.FINANCE)
    last = Period.parse("").shift(-1)
    build_world(last)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/costs/chargeback/")
    page.fill("input[name=username]", "fran")
    page.fill("input[name=password]", "pw-fran")
    page.click("button[type=submit]")
    page.wait_for_url("**/costs/chargeback/")

    page.click(f"a[href='/costs/chargeback/{last}/close/']")
    page.wait_for_selector("text=What will be frozen")
    page.click("#close-button")
    page.wait_for_url(f"**/costs/chargeback/{last}/")
    assert page.locator("text=closed").first.is_visible()
    row = ChargebackPeriod.objects.get(period=str(last))
    assert row.is_closed and row.closed_by is not None and row.closed_by.username == "fran"

    number = f"{last}-CC-4100-v1"
    page.click(f"a[href='/costs/statements/{number}/']")
    page.wait_for_url(f"**/costs/statements/{number}/")
    statement = Statement.objects.get(number=number)
    assert page.locator("#statement-total").text_content() == str(statement.total)

    with page.expect_download() as xlsx_download:
        page.click("#download-xlsx")
    xlsx = Path(xlsx_download.value.path()).read_bytes()
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    amounts = [
        Decimal(str(r[header.index("Amount")].value))
        for r in sheet.iter_rows(min_row=2)
        if r[header.index("Charged")].value == "yes"
    ]
    assert sum(amounts, Decimal(0)) == statement.total

    with page.expect_download() as focus_download:
        page.click("#download-focus")
    assert focus_download.value.suggested_filename == f"{number}-focus.csv"
    text = Path(focus_download.value.path()).read_text(encoding="utf-8-sig")
    read = [r for r in FocusReader(io.StringIO(text, newline="")) if isinstance(r, FocusRow)]
    assert sum((r.effective_cost for r in read), Decimal(0)) == statement.total

    hosts = {urlparse(url).hostname for url in requested}
    assert hosts <= {urlparse(live_server.url).hostname}
