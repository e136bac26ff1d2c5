"""A program manager's first pilot, in real Chromium.

Logs in, creates a pilot, plans its phases, fills the RACI matrix (people
found with the search box; a second Accountable is refused inline, then
corrected; an activity added on the way keeps the unsaved choices), and
sees the timeline. Every
request the browser makes must go to the portal on 127.0.0.1: no CDN, no
fonts or scripts from another host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from pilots.models import Phase, Pilot, RaciAssignment
from portal.roles import Role
from tests.factories import BackendFactory, CostCenterFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pm_creates_pilot_plans_phases_assigns_raci_and_sees_timeline(
    live_server: Any, browser_page: Any, make_user: Any
) -> None:
    page = browser_page
    pm = make_user("pat", Role.PROGRAM_MANAGER, first_name="Pat", last_name="Manager")
    make_user("alex", Role.APPROVER, first_name="Alex", last_name="Approver")
    make_user("sam", Role.PILOT_TEAM, first_name="Sam", last_name="Sre")
    BackendFactory(name="Wafer One", slug="wafer-one", kind="wafer_scale")
    BackendFactory(name="H100 Pool", slug="h100-pool", kind="gpu_cluster")
    CostCenterFactory(code="CC-1042", name="Chat platform")

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    # Log in.
    page.goto(f"{live_server.url}/pilots/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "pw-pat")
    page.click("button[type=submit]")
    page.wait_for_url("**/pilots/")

    # Create a pilot.
    page.goto(f"{live_server.url}/pilots/new/")
    page.fill("input[name=name]", "Llama 70B on Wafer One")
    page.fill("input[name=model_name]", "llama-3-70b")
    page.select_option("select[name=candidate_backend]", label="Wafer One")
    page.select_option("select[name=baseline_backend]", label="H100 Pool")
    page.fill("input[name=team]", "Chat platform")
    page.fill("input[name=cost_center]", "CC-1042")
    page.fill("input[name=target_start]", "2026-12-01")
    page.fill("input[name=target_end]", "2027-05-31")
    page.click("form button[type=submit].primary")
    pilot = Pilot.objects.get(name="Llama 70B on Wafer One")
    page.wait_for_url(f"**/pilots/{pilot.pk}/")
    assert pilot.created_by_id == pm.pk

    # Plan the default phases.
    page.goto(f"{live_server.url}/pilots/{pilot.pk}/phases/")
    page.click("text=Plan default phases")
    page.wait_for_selector("text=Lab validation")
    kinds = list(pilot.phases.order_by("order").values_list("kind", flat=True))
    assert kinds[:3] == [Phase.Kind.LAB_VALIDATION, Phase.Kind.SHADOW, Phase.Kind.CANARY]

    # RACI: a row per activity, a picker per letter. The search box narrows
    # its picker (static/js/raci.js, no inline script).
    page.goto(f"{live_server.url}/pilots/{pilot.pk}/raci/")
    go_a = 'select[aria-label="Go/no-go decision: Accountable (A)"]'
    search = page.locator('input[aria-label="Search people for Go/no-go decision: Accountable"]')
    search.fill("approver")
    visible = page.eval_on_selector(
        go_a, "s => Array.from(s.options).filter(o => !o.hidden).map(o => o.text)"
    )
    assert visible == ["Alex Approver (alex)"]
    search.fill("")

    # Two Accountables for the go/no-go decision are refused inline.
    page.select_option(go_a, label=["Pat Manager (pat)", "Alex Approver (alex)"])
    page.select_option(
        'select[aria-label="Go/no-go decision: Responsible (R)"]', label=["Sam Sre (sam)"]
    )
    page.click("#raci-grid button[type=submit].primary")
    error = page.locator("#raci-grid tr.has-error .error")
    error.first.wait_for()
    assert "Go/no-go decision already has an Accountable" in error.first.text_content()
    assert not RaciAssignment.objects.filter(activity__pilot=pilot).exists()

    # Corrected: Pat is consulted, Alex holds the A. Adding an activity on
    # the way keeps these unsaved choices (HTMX swaps the grid).
    page.select_option(go_a, label=["Alex Approver (alex)"])
    page.select_option(
        'select[aria-label="Go/no-go decision: Consulted (C)"]', label=["Pat Manager (pat)"]
    )
    page.fill("#raci-grid input[name=name]", "Capacity planning")
    page.click("#raci-grid [data-add-activity]")
    page.wait_for_selector("text=Capacity planning added.")
    assert page.locator("text=Your changes to the grid are not saved yet").count() == 1
    assert page.eval_on_selector(go_a, "s => Array.from(s.selectedOptions).map(o => o.text)") == [
        "Alex Approver (alex)"
    ]
    assert not RaciAssignment.objects.filter(activity__pilot=pilot).exists()
    page.click("#raci-grid button[type=submit].primary")
    page.wait_for_selector("text=RACI matrix saved.")
    letters = dict(
        RaciAssignment.objects.filter(activity__pilot=pilot, activity__key="go_no_go").values_list(
            "user__username", "letter"
        )
    )
    assert letters == {"pat": "C", "alex": "A", "sam": "R"}
    assert pilot.raci_activities.filter(name="Capacity planning").exists()

    # The timeline renders with the locally served plotly.js.
    page.goto(f"{live_server.url}/pilots/{pilot.pk}/")
    page.wait_for_selector("#timeline .main-svg")
    assert page.locator("#timeline .main-svg").count() >= 1

    hosts = {urlparse(url).hostname or "" for url in requested if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, f"requests left the host: {sorted(hosts)}"
    assert any(url.endswith("plotly.min.js") for url in requested)
