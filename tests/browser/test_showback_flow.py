"""Finance's showback in real Chromium: log in, land on the showback
dashboard, switch month, see the budget chart drawn, open the backend
comparison and see the break-even chart drawn. Every request stays on the
portal (127.0.0.1)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

import pytest
from django.db import transaction

from costs import selectors
from costs.models import UsageMapping
from costs.services import budget_set
from metrics.catalog import seed_catalog
from metrics.models import MetricDefinition, Sample
from metrics.rollups import refresh_rollups
from portal.roles import Role
from tests.costs.conftest import D, cloud, refresh
from tests.factories import BackendFactory, CostCenterFactory, SeriesFactory
from tests.portal.test_csp_browser import WATCH_CSP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _tokens(backend: Any, day: dt.date, total: float) -> None:
    series = SeriesFactory.create(
        backend=backend,
        metric=MetricDefinition.objects.get(name="prompt_tokens_total"),
        labels={"team": "search"},
    )
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    Sample.objects.bulk_create(
        [
            Sample(series=series, ts=start, value=0.0),
            Sample(series=series, ts=start + dt.timedelta(hours=12), value=total),
        ]
    )
    # As an import does: inside one transaction (PostgreSQL takes the
    # backend's rollup lock for it).
    with transaction.atomic():
        refresh_rollups([series.pk], start, start + dt.timedelta(hours=12))


def test_finance_switches_month_and_sees_the_break_even_chart(
    live_server: Any, browser_page: Any, make_user: Any
) -> None:
    page = browser_page
    make_user("felix", Role.FINANCE)
    seed_catalog()
    previous = selectors.Period.parse(None).shift(-1)
    day = previous.start + dt.timedelta(days=9)
    gpu = BackendFactory.create(name="H100 Pool", slug="h100-pool", device_count=4)
    wafer = BackendFactory.create(
        name="Wafer One", slug="wafer-one", kind="wafer_scale", device_count=1
    )
    center = CostCenterFactory.create(code="CC-4100", name="Search")
    UsageMapping.objects.create(label="team", value="search", cost_center=center)
    budget_set(
        cost_center=center,
        monthly_amount=D("5000"),
        soft_percent=80,
        hard_percent=100,
        actor=None,
    )
    for backend in (gpu, wafer):
        cloud(backend, effective_from=previous.start, capacity_tokens_per_second=D("1"))
        _tokens(backend, day, 40_000.0)
    refresh(gpu, wafer, start=previous.start, end=previous.end)

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.add_init_script(WATCH_CSP)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "felix")
    page.fill("input[name=password]", "pw-felix")
    page.click("button[type=submit]")
    page.wait_for_url("**/costs/showback/")
    assert page.locator("h1").inner_text().startswith("Showback")

    page.click("#previous-month")
    page.wait_for_url(f"**/costs/showback/?period={previous}")
    assert str(previous) in page.locator("h1").inner_text()
    assert "CC-4100" in page.locator("table.lines").first.inner_text()
    page.wait_for_selector("#budgets-chart .main-svg")
    legend = page.locator("#budgets-chart .legend").text_content() or ""
    assert "Month to date" in legend and "Hard threshold" in legend
    assert page.evaluate("window.__csp") == []

    page.click("nav.subnav >> text=Backend comparison")
    page.wait_for_url(f"**/costs/compare/?period={previous}")
    page.wait_for_selector("#break-even-chart .main-svg")
    assert "Break-even" in page.locator("#break-even-chart").inner_text()
    assert page.evaluate("window.__csp") == []

    hosts = {urlparse(url).hostname for url in requested}
    assert hosts == {"127.0.0.1"}, hosts
