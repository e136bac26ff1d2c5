"""The Content-Security-Policy in real Chromium: the main pages work under it
(nothing is refused, no console error) and every request stays on the host."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from portal.roles import Role
from portal.tokens import token_create
from tests.factories import BackendFactory, PhaseFactory, PilotFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects what the browser refused, from inside the page.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push(event.violatedDirective + " " + (event.blockedURI || "inline")
                    + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


def _recent_metrics(backend: Any) -> None:
    """An hour of power samples ending now, so the panels' default window has data."""
    from metrics.catalog import seed_catalog
    from metrics.models import ImportJob
    from metrics.services import import_job_create, import_job_run

    seed_catalog()
    now = timezone.now().replace(second=0, microsecond=0)
    lines = ["timestamp,metric,value,labels"]
    for step in range(13):
        ts = (now - dt.timedelta(minutes=5 * (12 - step))).isoformat()
        lines.append(f"{ts},DCGM_FI_DEV_POWER_USAGE,{300 + step},gpu=0")
        lines.append(f"{ts},vllm:generation_tokens_total,{step * 3000},model_name=llama")
    file = io.BytesIO(("\n".join(lines) + "\n").encode())
    file.name = "recent.csv"
    job = import_job_create(
        actor=None,
        backend=backend,
        pilot=None,
        fmt="auto",
        source=ImportJob.Source.CLI,
        file=file,
        scrape_time=None,
        enqueue=False,
    )
    import_job_run(job_id=job.pk)


def test_main_pages_run_under_the_csp_without_leaving_the_host(
    live_server: Any, browser_page: Any, make_user: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    page = browser_page
    root = make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    token_create(user=root, name="laptop")
    candidate = BackendFactory(name="Wafer One", slug="wafer-one")
    baseline = BackendFactory(name="H100 Pool", slug="h100-pool")
    pilot: Any = PilotFactory(
        name="Llama on wafer", candidate_backend=candidate, baseline_backend=baseline
    )
    # A name that Plotly would draw as a link if it were markup.
    PhaseFactory(pilot=pilot, name='<a href="https://evil.example/">click</a>')
    _recent_metrics(baseline)
    _recent_metrics(candidate)

    requested: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    failed: list[str] = []
    page.on(
        "response", lambda response: failed.append(response.url) if response.status >= 400 else None
    )
    page.add_init_script(WATCH_CSP)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "pw-root")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    refused: dict[str, list[str]] = {}

    def visit(path: str, ready: str) -> None:
        page.goto(f"{live_server.url}{path}")
        try:
            page.wait_for_selector(ready)
        except Exception as error:  # noqa: BLE001 - say what the browser refused
            raise AssertionError(
                f"{path}: {error}; refused {page.evaluate('window.__csp')}; "
                f"console {console_errors}"
            ) from None
        page.wait_for_load_state("networkidle")
        refused[path] = page.evaluate("window.__csp")

    visit("/", "main")
    visit(f"/pilots/{pilot.pk}/", "#timeline .main-svg")
    assert page.locator("#timeline svg a").count() == 0
    assert '<a href="https://evil.example/">click</a>' in page.locator("#timeline").inner_text()
    page.wait_for_selector(".metrics-panel .chart.js-plotly-plot .main-svg")
    refused[f"/pilots/{pilot.pk}/ (panel)"] = page.evaluate("window.__csp")
    visit("/backends/h100-pool/", ".metrics-panel .chart.js-plotly-plot .main-svg")
    visit("/account/tokens/", "main h1")
    # Revoking asks first, in a dialog opened by portal.js (no inline script).
    page.click("text=Revoke…")
    page.wait_for_selector("dialog[open]")
    page.click("dialog[open] [data-dialog-close]")
    assert page.locator("dialog[open]").count() == 0
    page.click("text=Revoke…")
    page.click("dialog[open] button[type=submit]")
    page.wait_for_selector("text=revoked; it no longer works")
    visit("/api/v1/schema/swagger/", "text=/api/v1/pilots/")
    visit("/api/v1/schema/redoc/", "h2")
    visit("/admin/", "#content")

    violations = {path: found for path, found in refused.items() if found}
    assert violations == {}, "\n".join(f"{path}: {found}" for path, found in violations.items())
    # The admin's pages name no icon, so Chromium asks for /favicon.ico.
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    errors = [text for text in console_errors if not text.startswith("Failed to load resource")]
    assert errors == [], "\n".join(errors)
    sent = [url for url in requested if not url.startswith(("data:", "blob:"))]
    hosts = {urlparse(url).hostname or "" for url in sent}
    assert hosts == {"127.0.0.1"}, f"requests left the host: {sorted(hosts)}"
