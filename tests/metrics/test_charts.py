"""Plotly figures built from the selectors' rows (no database)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import plotly.graph_objects as go

from metrics import charts
from metrics.selectors import TIMESERIES_FIELDS
from tests.metrics.conftest import ISSUE_SUMMARY_FIELDS

T0 = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _rows(hours: int = 3, **overrides: float | None) -> list[dict[str, Any]]:
    rows = []
    for i in range(hours):
        row: dict[str, Any] = {"t": T0 + dt.timedelta(hours=i)}
        row.update(dict.fromkeys(TIMESERIES_FIELDS))
        row.update(
            e2e_p50=0.2 + i,
            e2e_p95=0.5 + i,
            e2e_p99=0.9 + i,
            e2e_p999=1.5 + i,
            tokens_per_second=1000.0 + i,
            utilization_mean=60.0,
            utilization_max=90.0,
            power_mean=300.0,
            temperature_max=70.0,
            throttle_seconds=0.0,
        )
        row.update(overrides)
        rows.append(row)
    return rows


def _by_key(figures: list[dict[str, Any]]) -> dict[str, Any]:
    return {entry["id"].rsplit("-", 1)[1]: entry["figure"] for entry in figures}


def test_every_chart_reads_a_field_the_selector_returns():
    fields = {field for spec in charts.CHARTS for field, _ in spec.traces}

    assert fields <= set(TIMESERIES_FIELDS)


def test_backend_figures_have_the_quantile_and_resource_traces():
    figures = _by_key(charts.backend_figures(_rows()))

    assert set(figures) == {
        "latency",
        "ttft",
        "tokens",
        "errors",
        "utilization",
        "power",
        "temperature",
        "throttle",
    }
    latency = figures["latency"]["data"]
    assert [trace["name"] for trace in latency] == ["p50", "p95", "p99", "p99.9"]
    assert latency[2]["y"] == [0.9, 1.9, 2.9]
    assert latency[0]["x"][0] == "2026-03-01T10:00:00Z"
    assert figures["tokens"]["data"][0]["y"] == [1000.0, 1001.0, 1002.0]
    assert [t["name"] for t in figures["utilization"]["data"]] == ["mean", "max"]
    assert figures["power"]["layout"]["yaxis"]["title"]["text"] == "W"
    assert figures["utilization"]["layout"]["yaxis"]["range"] == [0.0, 100.0]
    assert "annotations" not in figures["power"]["layout"]


def _notes(figure: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["xref"], a["text"]) for a in figure["layout"].get("annotations", [])]


def test_an_empty_chart_says_there_is_no_data():
    figures = _by_key(charts.backend_figures(_rows(throttle_seconds=None, e2e_p99=None)))

    assert _notes(figures["throttle"]) == [("x domain", "No data in this window")]
    # One quantile missing is not "no data".
    assert _notes(figures["latency"]) == []


def test_comparison_marks_only_the_empty_side():
    figures = _by_key(
        charts.comparison_figures(
            _rows(ttft_p50=None, ttft_p95=None, ttft_p99=None, ttft_p999=None),
            _rows(ttft_p50=0.1),
            candidate_name="Wafer",
            baseline_name="GPU",
        )
    )

    assert _notes(figures["ttft"]) == [
        ("paper", "Wafer"),  # the subplot titles
        ("paper", "GPU"),
        ("x domain", "No data in this window"),
    ]


def test_figures_round_trip_through_plotly():
    for entry in charts.backend_figures(_rows()):
        # Plotly validates the dict: a typo in a property would raise here.
        go.Figure(entry["figure"])
        json.dumps(entry["figure"])


def test_gaps_and_non_finite_values_are_drawn_as_gaps():
    rows = _rows(power_mean=None)
    rows[1]["e2e_p99"] = math.nan
    rows[2]["e2e_p99"] = math.inf

    figures = _by_key(charts.backend_figures(rows))

    assert figures["power"]["data"][0]["y"] == [None, None, None]
    assert figures["latency"]["data"][2]["y"] == [0.9, None, None]
    # Valid JSON (no NaN/Infinity tokens), as the page's JSON.parse needs.
    json.loads(json.dumps(figures, allow_nan=False))


def test_has_data_is_false_for_an_empty_window():
    empty = [{"t": T0, **dict.fromkeys(TIMESERIES_FIELDS)}]

    assert not charts.has_data(empty)
    assert not charts.has_data([])
    assert charts.has_data(_rows())


def test_comparison_puts_candidate_and_baseline_side_by_side_on_independent_axes():
    candidate = _rows(e2e_p99=2.0)
    baseline = _rows(e2e_p99=1.0)

    figures = _by_key(
        charts.comparison_figures(
            candidate, baseline, candidate_name="Wafer (candidate)", baseline_name="GPU (baseline)"
        )
    )

    latency = figures["latency"]
    p99 = [trace for trace in latency["data"] if trace["name"] == "p99"]
    assert [trace["xaxis"] for trace in p99] == ["x", "x2"]
    assert p99[0]["y"] == [2.0, 2.0, 2.0]  # candidate, left
    assert p99[1]["y"] == [1.0, 1.0, 1.0]  # baseline, right
    assert "Wafer (candidate)" in p99[0]["hovertemplate"]
    # One legend entry per quantile, toggling both sides together.
    assert [t.get("showlegend", True) for t in p99] == [True, False]
    assert p99[0]["legendgroup"] == p99[1]["legendgroup"]
    # Independent, labelled y axes: a 15 kW wafer does not flatten a 440 W GPU.
    assert "matches" not in latency["layout"]["yaxis2"]
    assert latency["layout"]["yaxis"]["title"]["text"] == "candidate (s)"
    assert latency["layout"]["yaxis2"]["title"]["text"] == "baseline (s)"
    titles = [a["text"] for a in latency["layout"]["annotations"]]
    assert titles == ["Wafer (candidate)", "GPU (baseline)"]


def test_summary_rows_give_the_candidate_to_baseline_ratio():
    candidate = {"e2e_p99": 0.5, "tokens_per_second": 3000.0, "error_rate": 0.002, "requests": 10.0}
    baseline = {"e2e_p99": 1.0, "tokens_per_second": 1000.0, "error_rate": 0.001, "requests": 0.0}

    rows = {row["field"]: row for row in charts.summary_rows(candidate, baseline)}

    assert rows["e2e_p99"]["ratio"] == "0.50"
    assert rows["e2e_p99"]["candidate"] == "0.500"
    assert rows["tokens_per_second"]["ratio"] == "3.00"
    assert rows["error_rate"]["candidate"] == "0.200"  # 0.002 shown as 0.200 %
    assert rows["error_rate"]["baseline"] == "0.100"
    assert rows["error_rate"]["unit"] == "%"
    assert rows["error_rate"]["ratio"] == "2.00"
    assert rows["requests"]["ratio"] is None  # baseline 0: no ratio
    assert rows["power_mean"]["candidate"] is None
    assert rows["power_mean"]["ratio"] is None


def test_summary_rows_cover_every_figure_the_issue_lists():
    listed = set(ISSUE_SUMMARY_FIELDS)

    assert listed <= {row.field for row in charts.SUMMARY_ROWS}
