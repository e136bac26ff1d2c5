"""Metrics pages in real Chromium: upload a file, follow the job page, see
the charts the backend and pilot pages load with HTMX drawn by the portal's
own plotly.js. Every request must go to the portal on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from metrics.charts import CHARTS
from metrics.models import ImportJob
from portal.roles import Role
from tests.factories import BackendFactory, PilotFactory
from tests.metrics.test_pages_panels import _csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _upload(page: Any, base: str, path: Path, backend_slug: str) -> None:
    page.goto(f"{base}/metrics/imports/new/")
    page.set_input_files("input[name=file]", str(path))
    page.select_option("select[name=backend]", backend_slug)
    page.click("main button[type=submit]")  # not the header's "Log out"
    page.wait_for_url(re.compile(r"/metrics/imports/\d+/$"))


def test_pm_uploads_metrics_and_sees_charts(
    live_server: Any, browser_page: Any, make_user: Any, catalog: None, tmp_path: Path
) -> None:
    page = browser_page
    make_user("pat", Role.PROGRAM_MANAGER)
    candidate: Any = BackendFactory(name="Wafer One", slug="wafer-one", kind="wafer_scale")
    baseline: Any = BackendFactory(name="H100 Pool", slug="h100-pool")
    pilot: Any = PilotFactory(
        name="Llama on wafer", candidate_backend=candidate, baseline_backend=baseline
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/login/?next=/metrics/imports/")
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "pw-pat")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/metrics/imports/")
    assert "No metrics have been imported yet." in page.content()

    baseline_file = tmp_path / "baseline.csv"
    baseline_file.write_text(_csv(power=300) + "2026-03-01T10:00:00Z,DCGM_FI_DEV_GPU_TEMP,x,\n")
    _upload(page, live_server.url, baseline_file, "h100-pool")
    # The job page: finished, so the progress fragment no longer polls.
    page.wait_for_selector("[data-status=succeeded]")
    assert page.locator("#import-progress[hx-trigger]").count() == 0
    assert "Rejected lines" in page.content()
    job = ImportJob.objects.get(backend=baseline)
    assert job.rejected == 1
    assert page.locator("table.data td.num", has_text=str(job.rejects[0]["line"])).count() == 1

    candidate_file = tmp_path / "candidate.csv"
    candidate_file.write_text(_csv(power=150, latency_shift=2))
    _upload(page, live_server.url, candidate_file, "wafer-one")
    page.wait_for_selector("[data-status=succeeded]")

    # Backend page: the panel arrives through HTMX and Plotly draws it.
    page.goto(f"{live_server.url}/backends/h100-pool/")
    page.wait_for_selector(".metrics-panel #chart-latency .main-svg")
    # Every chart was drawn (plotly marks the div it drew into).
    assert page.locator(".metrics-panel .chart.js-plotly-plot").count() == len(CHARTS)
    # Another window re-renders the panel in place, drawn again.
    page.select_option(".metrics-panel select[name=window]", "24h")
    page.click(".metrics-panel button[type=submit]")
    page.wait_for_selector(".metrics-panel:has-text('2026-02-28 12:00') #chart-power .main-svg")

    # Pilot page: candidate and baseline side by side, with the summary.
    page.goto(f"{live_server.url}/pilots/{pilot.pk}/")
    page.wait_for_selector(".metrics-panel #compare-latency .main-svg")
    assert "Power mean" in page.locator(".metrics-panel table.data").inner_text()

    hosts = {urlparse(url).hostname for url in requested}
    assert hosts == {"localhost"} or hosts == {"127.0.0.1"}, hosts
    assert any(url.endswith("/static/plotly/plotly.min.js") for url in requested)
