"""The review pages in real Chromium (issue 11, §6): the pilot page lists
the reviews with their verdicts; the review page shows each criterion's
candidate against baseline with its CI (a Plotly figure drawn), the score,
the red flags and the objections; the Accountable resolves the objection,
decides through the form and sees the decision; the decision record
downloads as JSON and reads as a printable page. Nothing is refused by the
Content-Security-Policy and every request stays on 127.0.0.1."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from pilots.models import ExitCriterion, Phase
from portal.roles import Role
from reviews.models import Review
from reviews.services import objection_lodge, review_submit
from tests.factories import ExitCriterionFactory
from tests.portal.test_csp_browser import WATCH_CSP
from tests.reviews.builders import feed, pilot_in_canary

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch(page: Any) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"requests": [], "errors": [], "failed": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on(
        "console",
        lambda message: seen["errors"].append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: seen["errors"].append(f"uncaught: {error}"))
    page.on(
        "response",
        lambda response: seen["failed"].append(response.url) if response.status >= 400 else None,
    )
    page.add_init_script(WATCH_CSP)
    return seen


def _no_csp_violation(page: Any, where: str) -> None:
    refused = page.evaluate("window.__csp")
    assert refused == [], f"{where}: the CSP refused {refused}"


def test_the_accountable_decides_in_the_browser_and_exports_the_record(
    live_server: Any, browser_page: Any, make_user: Any, tmp_path: Path
) -> None:
    page = browser_page
    team = make_user("tess", Role.PILOT_TEAM)
    approver = make_user("ada", Role.APPROVER, first_name="Ada", last_name="Approver")
    finance = make_user("fred", Role.FINANCE)
    pilot, phase, following = pilot_in_canary(
        responsible=team, accountable=approver, consulted=finance
    )
    # The same latency on both sides; the candidate throttles 120 s an hour
    # for 24 of the window's 48 hours (1.7 %, over 1 %: the thermal red flag).
    feed(pilot.candidate_backend, hours=24, throttle_seconds_per_hour=120.0)
    feed(pilot.baseline_backend, hours=24)
    ExitCriterionFactory(
        phase=phase, metric=ExitCriterion.Metric.E2E_LATENCY_P99, threshold=Decimal("1.1")
    )
    ExitCriterionFactory(
        phase=phase, metric=ExitCriterion.Metric.TTFT_P99, threshold=Decimal("1.1")
    )
    review = review_submit(
        pilot=pilot, actor=team, phase=phase, recommendation="go", notes="Canary looks fine."
    )
    assert review.verdict == "pass", review.evidence.get("reason")
    assert [f["code"] for f in review.evidence["red_flags"]] == ["thermal_throttling"]
    objection = objection_lodge(review=review, actor=finance, text="Throttling needs a look.")
    seen = _watch(page)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "pw-ada")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # The pilot page: its reviews fragment (HTMX) lists the review and its verdict.
    page.goto(f"{live_server.url}/pilots/{pilot.pk}/")
    row = page.locator("#reviews tr", has_text=f"#{review.pk}")
    row.wait_for()
    assert "pass" in row.inner_text() and "Open" in row.inner_text()
    _no_csp_violation(page, "pilot page")

    # The review page: criteria with candidate, baseline and CI, figures drawn.
    page.click(f"#reviews a:text-is('#{review.pk}')")
    page.wait_for_url(f"**/reviews/{review.pk}/")
    page.wait_for_selector(".metrics-panel .chart .main-svg")
    assert page.locator(".metrics-panel .chart.js-plotly-plot").count() == 2
    criteria = page.locator(".metrics-panel table.data").inner_text()
    for criterion in review.evidence["criteria"]:
        # Each row: the metric, its verdict, candidate, baseline, ratio and the CI.
        line = page.locator(".metrics-panel tr", has_text=criterion["metric"]).first.inner_text()
        assert "pass" in line and "[" in line and "]" in line, line
        assert criterion["ci_low"] <= criterion["ratio"] <= criterion["ci_high"] <= 1.1
    assert "e2e_latency_p99" in criteria and "ttft_p99" in criteria
    assert f"{review.score:.1f}" in page.locator("dl.kv").first.inner_text()
    assert "thermal_throttling" in page.locator("section", has_text="Red flags").inner_text()
    objections = page.locator("section", has_text="Objections")
    assert "Throttling needs a look." in objections.inner_text()
    _no_csp_violation(page, "review page")

    # The A resolves the objection (it would block approval), then decides.
    objections.locator("textarea[name=note]").fill("Cooling fixed; see the ticket.")
    objections.locator("button:text-is('Resolve')").click()
    page.wait_for_selector(f"text=Objection #{objection.pk} resolved.")
    decide = page.locator("section", has_text="Decide")
    decide.locator("input[name=decision][value=approved]").check()
    decide.locator("textarea[name=rationale]").fill("Meets the exit criteria.")
    decide.locator("button:text-is('Record decision')").click()
    page.wait_for_selector(f"text=Review #{review.pk} approved.")
    status = page.locator("section", has_text="Status").first.inner_text()
    assert "Approved" in status and "Ada Approver" in status
    assert "Meets the exit criteria." in status
    assert page.locator("section", has_text="Decide").locator("form").count() == 0
    _no_csp_violation(page, "decided review page")
    review.refresh_from_db()
    phase.refresh_from_db()
    following.refresh_from_db()
    assert review.status == Review.Status.APPROVED and review.decided_by == approver
    assert phase.status == Phase.Status.PASSED and following.status == Phase.Status.ACTIVE

    # The decision record: JSON download and the printable page.
    with page.expect_download() as download:
        page.click("a:text-is('JSON')")
    saved = tmp_path / "record.json"
    download.value.save_as(saved)
    record = json.loads(saved.read_text())
    assert record["decision"] == "approved" and record["decided_by"] == "ada"
    assert record["rationale"] == "Meets the exit criteria."
    assert record["evidence"]["verdict"] == "pass"
    assert record["objections"][0]["resolution"] == "Cooling fixed; see the ticket."
    page.click("a:text-is('printable')")
    page.wait_for_url(f"**/reviews/{review.pk}/record/")
    text = page.locator("article.record").inner_text()
    assert "Decision record: review" in text and "Approved" in text and "Ada Approver" in text
    assert "Meets the exit criteria." in text and "e2e_latency_p99" in text
    _no_csp_violation(page, "decision record")

    assert seen["failed"] == [], seen["failed"]
    errors = [t for t in seen["errors"] if not t.startswith("Failed to load resource")]
    assert errors == [], errors
    sent = [url for url in seen["requests"] if not url.startswith(("data:", "blob:"))]
    assert {urlparse(url).hostname for url in sent} == {"127.0.0.1"}
