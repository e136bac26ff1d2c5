"""The chart panels the backend and pilot pages load with HTMX."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
BUCKETS = ("0.1", "0.5", "1.0", "2.5", "+Inf")


def _csv(*, hours: int = 3, latency_shift: int = 0, power: float = 300.0) -> str:
    """Five-minute samples of power, tokens and a latency histogram.

    ``latency_shift`` moves observations into slower buckets, so p99 differs
    between backends.
    """
    lines = ["timestamp,metric,value,labels"]
    for step in range(hours * 12 + 1):
        ts = (START + dt.timedelta(minutes=5 * step)).isoformat()
        lines.append(f"{ts},DCGM_FI_DEV_POWER_USAGE,{power + step % 3},gpu=0")
        lines.append(f"{ts},DCGM_FI_DEV_GPU_UTIL,{50 + step % 10},gpu=0")
        lines.append(f"{ts},DCGM_FI_DEV_GPU_TEMP,{60 + step % 5},gpu=0")
        lines.append(f"{ts},vllm:generation_tokens_total,{step * 3000},model_name=llama")
        cumulative = 0
        for position, le in enumerate(BUCKETS):
            share = 10 if position >= latency_shift else 0
            cumulative += share
            lines.append(
                f"{ts},vllm:e2e_request_latency_seconds_bucket,{step * cumulative},"
                f"le={le};model_name=llama"
            )
        lines.append(
            f"{ts},vllm:e2e_request_latency_seconds_count,{step * cumulative},model_name=llama"
        )
    return "\n".join(lines) + "\n"


def _figures(body: str) -> dict[str, Any]:
    found = re.findall(
        r'<script id="([a-z0-9-]+)-data" type="application/json">(.*?)</script>', body, re.S
    )
    return {chart_id: json.loads(payload) for chart_id, payload in found}


# --------------------------------------------------------------------------
# Backend panel
# --------------------------------------------------------------------------


def test_backend_panel_without_data_says_so_and_links_to_upload(as_user, pm, backend):
    response = as_user(pm).get("/metrics/backends/gpu-a/panel/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert "No metrics have been imported for GPU A yet." in body
    assert 'href="/metrics/imports/new/?backend=gpu-a"' in body
    assert "<html" not in body
    assert "plotly" not in body


def test_backend_panel_without_data_offers_no_upload_to_finance(as_user, finance, backend):
    body = as_user(finance).get("/metrics/backends/gpu-a/panel/").content.decode()

    assert "No metrics have been imported" in body
    assert "/metrics/imports/new/" not in body


def test_backend_panel_charts_the_last_seven_days_with_data(as_user, pm, backend, run_import):
    job = run_import(_csv(), fmt="csv")
    assert job.status == "succeeded", job.error

    response = as_user(pm).get("/metrics/backends/gpu-a/panel/")

    body = response.content.decode()
    assert response.status_code == 200
    # The window ends with the hour of the latest sample (11:00), not "now".
    assert "2026-02-22 12:00 \u2013 2026-03-01 12:00 UTC" in body
    figures = _figures(body)
    assert set(figures) == {
        "chart-latency",
        "chart-ttft",
        "chart-tokens",
        "chart-errors",
        "chart-utilization",
        "chart-power",
        "chart-temperature",
        "chart-throttle",
    }
    latency = figures["chart-latency"]["data"]
    assert [trace["name"] for trace in latency] == ["p50", "p95", "p99", "p99.9"]
    assert any(value is not None for value in latency[2]["y"])
    power = [v for v in figures["chart-power"]["data"][0]["y"] if v is not None]
    assert power and all(299 < v < 304 for v in power)
    # plotly.js comes from the portal, never from a CDN.
    assert "/static/plotly/plotly.min.js" in body
    assert "cdn" not in body.lower()


def test_backend_panel_custom_window(as_user, pm, backend, run_import):
    run_import(_csv(), fmt="csv")

    body = (
        as_user(pm)
        .get(
            "/metrics/backends/gpu-a/panel/",
            {"window": "custom", "start": "2026-03-01T09:00", "end": "2026-03-01T10:00"},
        )
        .content.decode()
    )

    tokens = _figures(body)["chart-tokens"]["data"][0]
    assert tokens["x"] == ["2026-03-01T09:00:00Z"]
    # 12 steps of 3000 tokens in the hour (plus the step into it): per second.
    assert tokens["y"][0] == pytest.approx(12 * 3000 / 3600)


def test_backend_panel_custom_window_without_data(as_user, pm, backend, run_import):
    run_import(_csv(), fmt="csv")

    body = (
        as_user(pm)
        .get(
            "/metrics/backends/gpu-a/panel/",
            {"window": "custom", "start": "2025-01-01T00:00", "end": "2025-01-02T00:00"},
        )
        .content.decode()
    )

    assert "No metrics in this window." in body


def test_backend_panel_rejects_an_inverted_custom_window(as_user, pm, backend):
    response = as_user(pm).get(
        "/metrics/backends/gpu-a/panel/",
        {"window": "custom", "start": "2026-03-02T00:00", "end": "2026-03-01T00:00"},
    )

    assert response.status_code == 200
    assert "The end must be after the start." in response.content.decode()


def test_backend_panel_query_count(as_user, pm, backend, run_import, django_assert_num_queries):
    run_import(_csv(), fmt="csv")
    client = as_user(pm)
    # 1 session, 2 user, 3 groups (roles), 4 backend, 5 latest sample time,
    # 6 the hourly rollups of the window grouped by hour and series kind.
    with django_assert_num_queries(6):
        assert client.get("/metrics/backends/gpu-a/panel/").status_code == 200


def test_unknown_backend_is_404(as_user, pm):
    assert as_user(pm).get("/metrics/backends/nope/panel/").status_code == 404


# --------------------------------------------------------------------------
# Pilot panel
# --------------------------------------------------------------------------


def test_pilot_panel_without_data(as_user, pm, pilot):
    body = as_user(pm).get(f"/metrics/pilots/{pilot.pk}/panel/").content.decode()

    assert "No metrics have been imported for Llama on wafer yet." in body
    assert 'href="/metrics/imports/new/?backend=wafer-b"' in body


def test_pilot_panel_compares_candidate_and_baseline(
    as_user, pm, pilot, backend, other_backend, run_import
):
    run_import(_csv(latency_shift=0, power=300), fmt="csv", on=backend)  # baseline
    run_import(_csv(latency_shift=2, power=150), fmt="csv", on=other_backend)  # candidate

    body = as_user(pm).get(f"/metrics/pilots/{pilot.pk}/panel/").content.decode()

    assert "Wafer B (candidate)" in body
    assert "GPU A (baseline)" in body
    latency = _figures(body)["compare-latency"]
    p99 = [trace for trace in latency["data"] if trace["name"] == "p99"]
    assert [trace["xaxis"] for trace in p99] == ["x", "x2"]
    titles = [annotation["text"] for annotation in latency["layout"]["annotations"]]
    assert titles == ["Wafer B (candidate)", "GPU A (baseline)"]
    # Independent y axes, each labelled (candidate and baseline differ in scale).
    assert "matches" not in latency["layout"]["yaxis2"]
    assert latency["layout"]["yaxis2"]["title"]["text"] == "baseline (s)"
    # The summary table: power mean 150-ish vs 300-ish, ratio about 0.5.
    row = re.search(r"Power mean.*?</tr>", body, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    assert cells[0].startswith("15") and cells[1].startswith("30")
    assert cells[2] == "0.50\u00d7"  # power: neither better nor worse


def test_pilot_panel_query_count(
    as_user, pm, pilot, backend, other_backend, run_import, django_assert_num_queries
):
    run_import(_csv(), fmt="csv", on=backend)
    run_import(_csv(), fmt="csv", on=other_backend)
    client = as_user(pm)
    # 1 session, 2 user, 3 groups, 4 pilot with both backends, 5 latest
    # sample time, 6 backends holding the pilot's own series, 7-8 timeseries
    # of candidate and baseline, 9-10 summaries.
    with django_assert_num_queries(10):
        assert client.get(f"/metrics/pilots/{pilot.pk}/panel/").status_code == 200


def test_unknown_pilot_is_404(as_user, pm):
    assert as_user(pm).get("/metrics/pilots/999999/panel/").status_code == 404


# --------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["finance", "approver", "pilot_team", "admin_user"])
def test_every_role_sees_the_panels(request, as_user, persona, pilot):
    client = as_user(request.getfixturevalue(persona))

    assert client.get("/metrics/backends/gpu-a/panel/").status_code == 200
    assert client.get(f"/metrics/pilots/{pilot.pk}/panel/").status_code == 200


def test_outsider_and_anonymous_get_403_from_the_panels(client, as_user, outsider, pilot):
    for url in ("/metrics/backends/gpu-a/panel/", f"/metrics/pilots/{pilot.pk}/panel/"):
        assert client.get(url).status_code == 403
        assert as_user(outsider).get(url).status_code == 403


def test_pilot_panel_shows_the_error_rate_as_a_percentage(
    as_user, pm, pilot, backend, other_backend, run_import
):
    """error_rate is a fraction (0.004); the table's unit is %, so 0.400."""
    lines = ["timestamp,metric,value,labels"]
    for step, ts in enumerate((START, START + dt.timedelta(hours=1))):
        stamp = ts.isoformat()
        lines.append(f"{stamp},vllm:request_success_total,{step * 996},finished_reason=stop")
        lines.append(f"{stamp},vllm:request_success_total,{step * 4},finished_reason=error")
    run_import("\n".join(lines) + "\n", fmt="csv", on=other_backend)  # candidate
    run_import(_csv(), fmt="csv", on=backend)

    body = as_user(pm).get(f"/metrics/pilots/{pilot.pk}/panel/").content.decode()

    row = re.search(r"<td>Error rate.*?</tr>", body, re.S)
    assert row is not None
    assert '<span class="muted">(%)</span>' in row.group(0)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    assert cells[0] == "0.400"
