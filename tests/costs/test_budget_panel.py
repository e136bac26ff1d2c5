"""Budgets on the showback dashboard and the cost-center page (issue 10,
§4): month-to-date spend, the straight-line forecast and the budget, soft
and hard lines drawn by the one Plotly helper the budgets page uses (in
percent of each budget, the amounts in the hover and the table); only the
cost centers the user may see; a constant number of queries."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from costs.models import CostCenter
from costs.services import budget_set
from tests.costs.chargeback_data import World, build_world
from tests.factories import CostCenterFactory

pytestmark = pytest.mark.django_db

MID_OCTOBER = dt.date(2026, 10, 15)
PAGES = ("/costs/showback/?period=2026-10", "/costs/cost-centers/?period=2026-10")

# build_world's October on its 2-device backend at $1.37 a device-hour
# ($65.76 a day) with a capacity of 1 token/s (86,400 tokens a day):
# search used 30,000 tokens on the 3rd and 7,001 on the 12th, so
# 65.76 × 37,001 / 86,400 = 28.16; ads 10,003 tokens: 7.61; the platform
# takes the idle, unmapped and shadow rest of the two days' 131.52 and
# the 29 days nobody used (1,907.04). Forecast on the 15th: × 31 / 15.
SEARCH_SPEND = 28.16
SEARCH_FORECAST = 58.20


@pytest.fixture
def world(finance: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr("costs.services.budgets.utc_today", lambda: MID_OCTOBER)
    world = build_world()
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("1000"),
        soft_percent=50,
        hard_percent=90,
        actor=finance,
    )
    return world


def _figure(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="budgets-data" type="application/json">(.*?)</script>', html)
    assert found, "no budget figure on the page"
    figure: dict[str, Any] = json.loads(found.group(1))
    return figure


def _traces(html: str) -> dict[str, dict[str, Any]]:
    """{trace name: {cost center: y}} of the page's budget figure."""
    return {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True))
        for trace in _figure(html)["data"]
    }


def _amounts(html: str) -> dict[str, dict[str, Any]]:
    """{trace name: {cost center: amount}} (the hover's figures)."""
    out = {}
    for trace in _figure(html)["data"]:
        data = [d[0] if isinstance(d, list) else d for d in trace["customdata"]]
        out[trace["name"]] = dict(zip(trace["x"], data, strict=True))
    return out


def _budget_table(html: str) -> str:
    found = re.search(r'<table class="data" id="budget-table">(.*?)</table>', html, re.S)
    assert found, "no budget table on the page"
    return found.group(1)


@pytest.mark.parametrize("url", PAGES)
def test_page_draws_month_to_date_forecast_and_budget_lines(
    url: str, world: World, finance: Any, as_user: Any
) -> None:
    html = as_user(finance).get(url).content.decode()
    assert 'data-figure="budgets-data"' in html and "plotly.min.js" in html
    # In percent of the 1,000 budget: 28.16 is 2.82 %, 58.20 is 5.82 %.
    assert _traces(html) == {
        "Month to date": {"CC-4100": 2.82},
        "Forecast to month end": {"CC-4100": 5.82},
        "Budget": {"CC-4100": 100},
        "Soft threshold": {"CC-4100": 50},
        "Hard threshold": {"CC-4100": 90},
    }
    assert _amounts(html) == {
        "Month to date": {"CC-4100": SEARCH_SPEND},
        "Forecast to month end": {"CC-4100": SEARCH_FORECAST},
        "Budget": {"CC-4100": 1000.0},
        "Soft threshold": {"CC-4100": 500.0},
        "Hard threshold": {"CC-4100": 900.0},
    }
    assert "day 15 of 31" in _figure(html)["layout"]["title"]["text"]
    # The table has every cost center with spend, budgeted or not.
    table = _budget_table(html)
    assert "28.16" in table and "58.20" in table and "500.00 (50%)" in table
    assert "900.00 (90%)" in table and ">ok<" in table
    ads = table.split("CC-4200")[1].split("</tr>")[0]
    assert ">7.61<" in ads and ">15.73<" in ads and "no budget" in ads
    assert "CC-0000" in table


def test_the_three_pages_draw_the_same_figure(world: World, finance: Any, as_user: Any) -> None:
    client = as_user(finance)
    figures = [_figure(client.get(url).content.decode()) for url in PAGES]
    budgets_page = client.get("/costs/budgets/?period=2026-10").content.decode()
    assert figures[0] == figures[1] == _figure(budgets_page)


def test_thresholds_passed_by_the_forecast_show_on_the_dashboard(
    world: World, finance: Any, as_user: Any
) -> None:
    # 58.20 forecast: past the soft line of a 100 budget (50), not its hard (90).
    budget_set(
        cost_center=world.search,
        monthly_amount=Decimal("100"),
        soft_percent=50,
        hard_percent=90,
        actor=finance,
    )
    html = as_user(finance).get(PAGES[0]).content.decode()
    assert "badge warn" in _budget_table(html)
    traces, amounts = _traces(html), _amounts(html)
    assert traces["Forecast to month end"]["CC-4100"] == 58.2
    assert (
        traces["Soft threshold"]["CC-4100"] == 50 and amounts["Soft threshold"]["CC-4100"] == 50.0
    )
    assert (
        traces["Hard threshold"]["CC-4100"] == 90 and amounts["Hard threshold"]["CC-4100"] == 90.0
    )


@pytest.mark.parametrize("url", PAGES)
def test_team_member_sees_only_their_cost_centers(
    url: str, world: World, pilot_team: Any, finance: Any, as_user: Any
) -> None:
    world.ads.members.add(pilot_team)
    budget_set(
        cost_center=world.ads,
        monthly_amount=Decimal("40"),
        soft_percent=80,
        hard_percent=100,
        actor=finance,
    )
    html = as_user(pilot_team).get(url).content.decode()
    assert set(_traces(html)["Month to date"]) == {"CC-4200"}
    assert "CC-4100" not in json.dumps(_figure(html))
    table = _budget_table(html)
    assert "CC-4200" in table and "CC-4100" not in table and "CC-0000" not in table
    assert "1000" not in html.split('id="budgets"')[1].split("</section>")[0]


def test_nothing_to_see_draws_no_figure(world: World, pilot_team: Any, as_user: Any) -> None:
    for url in PAGES:
        html = as_user(pilot_team).get(url).content.decode()
        assert 'id="budgets-data"' not in html and 'id="budget-table"' not in html
        assert "No cost center of yours has a budget or any spend" in html
    # Spend without a budget: the table, no chart (nothing to draw it against).
    world.ads.members.add(pilot_team)
    for url in PAGES:
        html = as_user(pilot_team).get(url).content.decode()
        assert 'id="budgets-data"' not in html and "CC-4200" in _budget_table(html)
        assert "No cost center here has a budget yet" in html


def _more_centers(count: int, finance: Any) -> None:
    for n in range(count):
        center: Any = CostCenterFactory(code=f"CC-7{n:03d}", name=f"Team {n}")
        budget_set(
            cost_center=center,
            monthly_amount=Decimal("10"),
            soft_percent=80,
            hard_percent=100,
            actor=finance,
        )


def test_dashboard_queries_do_not_grow_with_cost_centers(
    world: World, finance: Any, pilot_team: Any, as_user: Any, django_assert_num_queries: Any
) -> None:
    url = PAGES[0]
    client = as_user(finance)
    client.get(url)
    # 1 session, 2 user, 3 roles; the month: 4 backend-day aggregate, 5
    # allocation aggregate, 6 closed or not; the previous month: 7, 8, 9;
    # 10 the 12 months of $/1M tokens; the budgets (the month's showback
    # is reused: finance sees it whole): 11 active cost centers, 12 the
    # closed period row, 13 the platform's code, 14 backend kinds, 15 budgets.
    with django_assert_num_queries(15):
        client.get(url)
    _more_centers(12, finance)
    with django_assert_num_queries(15):
        assert len(_traces(client.get(url).content.decode())["Budget"]) == 13

    world.ads.members.add(pilot_team)
    member = as_user(pilot_team)
    member.get(url)
    # 1-3 as finance's; the month: 4 the user's cost centers, 5-7; the
    # previous month: 8 the user's cost centers, 9-11; 12 $/1M tokens; the
    # budgets: 13 the user's cost centers, 14 those active, 15 the closed
    # period row, 16-18 the month's showback read whole (the user's own
    # has the others' lines merged into "other"), 19 the platform's code,
    # 20 backend kinds, 21 budgets.
    with django_assert_num_queries(21):
        member.get(url)
    for center in CostCenter.objects.filter(code__startswith="CC-7"):
        center.members.add(pilot_team)
    with django_assert_num_queries(21):
        assert len(_traces(member.get(url).content.decode())["Budget"]) == 12


def test_cost_center_page_queries_do_not_grow_with_cost_centers(
    world: World, finance: Any, as_user: Any, django_assert_num_queries: Any
) -> None:
    url = PAGES[1]
    client = as_user(finance)
    client.get(url)
    # 1 session, 2 user, 3 roles; 4 cost centers with owners, 5 their
    # members; the budgets: 6 active cost centers, 7 the closed period
    # row, 8 backend-day aggregate, 9 allocation aggregate, 10 closed or
    # not, 11 the platform's code, 12 backend kinds, 13 budgets.
    with django_assert_num_queries(13):
        client.get(url)
    _more_centers(12, finance)
    with django_assert_num_queries(13):
        assert len(_traces(client.get(url).content.decode())["Budget"]) == 13
