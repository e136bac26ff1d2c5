"""Showback pages: finance lands on the dashboard, the pages render the
month's figures, the unmapped page maps in one click, the pilot page's
economics panel, and the dashboard's query count is pinned."""

from __future__ import annotations

import pytest
from django.urls import reverse

from costs.models import UsageMapping
from tests.costs.conftest import D, cloud, refresh
from tests.factories import PilotFactory

pytestmark = pytest.mark.django_db

PERIOD = "2026-03"


@pytest.fixture
def month(gpu, wafer, usage, team_a, team_b, platform):
    cloud(gpu, capacity_tokens_per_second=D("0.01"))
    cloud(wafer, rate="1", capacity_tokens_per_second=D("0.02"))
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    usage(gpu, prompt=300, requests=3, labels={"team": "search"})
    usage(gpu, prompt=100, requests=1, labels={"team": "mystery"})
    usage(wafer, prompt=500, labels={"team": "search"})
    refresh(gpu, wafer)
    return gpu


def test_finance_lands_on_the_showback_dashboard(client, finance):
    response = client.post(reverse("login"), {"username": "fin", "password": "pw-fin"})
    assert response.status_code == 302
    assert response["Location"] == reverse("showback")


def test_other_roles_land_on_the_home_page(client, pm):
    response = client.post(reverse("login"), {"username": "pm", "password": "pw-pm"})
    assert response["Location"] == reverse("home")


def test_dashboard_shows_lines_with_unmapped(as_user, finance, month):
    html = as_user(finance).get(reverse("showback"), {"period": PERIOD}).content.decode()
    assert "Showback · 2026-03" in html
    assert "CC-4100" in html
    assert "kind-unmapped" in html
    assert 'id="stacked-chart"' in html
    assert "plotly.min.js" in html


def test_dashboard_query_count_does_not_grow(as_user, finance, month, django_assert_num_queries):
    client = as_user(finance)
    client.get(reverse("showback"), {"period": PERIOD})
    # 1 session, 2 user, 3 roles; this month: 4 backend-day aggregate,
    # 5 allocation aggregate, 6 closed or not; the previous month: 7, 8, 9;
    # 10 the 12 months of $/1M tokens; the budget panel (issue 10, §4;
    # it reuses this month's showback, which finance reads whole): 11
    # active cost centers, 12 the closed period row, 13 the platform's
    # code, 14 backend kinds, 15 budgets.
    with django_assert_num_queries(15):
        client.get(reverse("showback"), {"period": PERIOD})


def test_compare_page_has_the_break_even_chart(as_user, finance, month):
    html = as_user(finance).get(reverse("backend-compare"), {"period": PERIOD}).content.decode()
    assert 'id="break-even-chart"' in html
    assert "How each figure is computed" in html


def test_unmapped_usage_maps_in_one_click(
    as_user, finance, month, django_capture_on_commit_callbacks
):
    client = as_user(finance)
    html = client.get(reverse("unmapped-usage"), {"period": PERIOD}).content.decode()
    assert "<code>team=mystery</code>" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("unmapped-map"),
            {"label": "team", "value": "mystery", "cost_center": "CC-4200", "period": PERIOD},
        )
    assert response.status_code == 302
    assert UsageMapping.objects.filter(value="mystery", cost_center__code="CC-4200").exists()
    html = client.get(reverse("unmapped-usage"), {"period": PERIOD}).content.decode()
    assert "<code>team=mystery</code>" not in html
    # The refresh ran after commit: the mystery usage is now CC-4200's.
    body = client.get("/api/v1/showback/", {"period": PERIOD, "backend": "gpu-four"}).json()
    assert {line["cost_center"] for line in body["lines"]} == {"CC-4100", "CC-4200"}


def test_only_finance_and_admins_map(as_user, pm, month):
    response = as_user(pm).post(
        reverse("unmapped-map"), {"label": "team", "value": "mystery", "cost_center": "CC-4200"}
    )
    assert response.status_code == 403
    assert not UsageMapping.objects.filter(value="mystery").exists()


def test_pilot_page_loads_the_economics_panel(as_user, pm, month, wafer):
    pilot = PilotFactory.create(candidate_backend=wafer, baseline_backend=month)
    page = as_user(pm).get(reverse("pilot-detail", args=[pilot.pk])).content.decode()
    assert reverse("costs-pilot-panel", args=[pilot.pk]) in page
    panel = as_user(pm).get(reverse("costs-pilot-panel", args=[pilot.pk]), {"period": PERIOD})
    html = panel.content.decode()
    assert "Wafer one (candidate)" in html
    assert "0.250×" in html  # $48 against $192


def test_cost_model_center_and_mapping_pages(as_user, pilot_team, month):
    client = as_user(pilot_team)
    assert "Cloud rate" in client.get(reverse("cost-model-list")).content.decode()
    assert "CC-9000" in client.get(reverse("cost-center-list")).content.decode()
    assert "search" in client.get(reverse("usage-mapping-list")).content.decode()


def test_dashboard_folds_the_platforms_idle_into_other_for_a_member(
    as_user, pilot_team, finance, gpu, usage, team_a, platform
):
    # Platform policy with a capacity: most of March 10 is the platform's idle.
    cloud(gpu, capacity_tokens_per_second=D("0.01"), idle_policy="platform")
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    usage(gpu, prompt=300, labels={"team": "search"})
    refresh(gpu)
    team_a.members.add(pilot_team)

    def lines(user):
        html = as_user(user).get(reverse("showback"), {"period": PERIOD}).content.decode()
        return html.split("<h2>Lines</h2>")[1]

    member = lines(pilot_team)
    assert "CC-4100" in member and "kind-other" in member
    assert "kind-idle" not in member and "CC-9000" not in member
    everything = lines(finance)
    assert "kind-idle" in everything and "CC-9000" in everything
