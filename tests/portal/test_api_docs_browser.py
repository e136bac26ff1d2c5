"""Swagger UI and ReDoc in real Chromium: they render our schema and every
request the browser makes stays on the portal's host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from portal.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_the_schema_without_leaving_the_host(
    live_server: Any, browser_page: Any, make_user: Any
) -> None:
    page = browser_page
    make_user("sam", Role.PILOT_TEAM)
    requested: list[str] = []
    blocked_by_csp: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def note_blocked(request: Any) -> None:
        if request.failure == "csp":
            blocked_by_csp.append(request.url)

    page.on("requestfailed", note_blocked)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "pw-sam")
    page.click("button[type=submit]")
    page.wait_for_url("**/")

    page.goto(f"{live_server.url}/api/v1/schema/swagger/")
    page.wait_for_selector("text=/api/v1/pilots/")
    swagger_requests = len(requested)
    page.goto(f"{live_server.url}/api/v1/schema/redoc/")
    page.locator("h2", has_text="List pilots").first.wait_for()
    page.wait_for_load_state("networkidle")

    # The ReDoc bundle's logo from cdn.redoc.ly is stopped by our page's CSP
    # inside the browser: it never reaches the network.
    sent = [
        url
        for url in requested
        if url not in blocked_by_csp and not url.startswith(("data:", "blob:"))
    ]
    hosts = {urlparse(url).hostname or "" for url in sent}
    assert hosts == {"127.0.0.1"}, f"requests left the host: {sorted(hosts)}"
    assert any(url.endswith("/api/v1/schema/") for url in requested[:swagger_requests])
    assert any(url.endswith("redoc.standalone.js") for url in requested)
