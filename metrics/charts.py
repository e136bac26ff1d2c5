"""Plotly figures for the metrics panels, built from
``selectors.metrics_timeseries`` and ``selectors.metrics_summary``.

Figures leave here as plain dicts (``fig.to_json()`` decoded), which the
templates embed with ``json_script`` and draw with the portal's own copy of
plotly.js. Nothing here queries the database.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "CHARTS",
    "SUMMARY_ROWS",
    "ChartSpec",
    "backend_figures",
    "comparison_figures",
    "has_data",
    "summary_rows",
]

# One row per time bucket: {"t": aware datetime, "<field>": float | None, ...}.
Rows = Sequence[Mapping[str, Any]]

QUANTILE_COLORS = ("#2e7d32", "#2d6aa3", "#b26a00", "#c62828")
# Small markers: an hour with data between two empty ones is a point, which
# a line alone would not show.
_MODE = "lines+markers"
_MARKER = {"size": 4}


@dataclass(frozen=True)
class ChartSpec:
    """One chart: its title, y-axis unit, the fields it draws and, when the
    unit has natural bounds (utilization in %), a fixed y range."""

    key: str
    title: str
    unit: str
    traces: tuple[tuple[str, str], ...]  # (row field, legend label)
    y_range: tuple[float, float] | None = None
    factor: float = 1.0  # display factor (error rate: a fraction, drawn in %)


_QUANTILE_TRACES = (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("p999", "p99.9"))

CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "latency",
        "End-to-end latency",
        "s",
        tuple((f"e2e_{suffix}", label) for suffix, label in _QUANTILE_TRACES),
    ),
    ChartSpec(
        "ttft",
        "Time to first token",
        "s",
        tuple((f"ttft_{suffix}", label) for suffix, label in _QUANTILE_TRACES),
    ),
    ChartSpec(
        "tokens", "Generated tokens per second", "tokens/s", (("tokens_per_second", "tokens/s"),)
    ),
    ChartSpec(
        "utilization",
        "Device utilization",
        "%",
        (("utilization_mean", "mean"), ("utilization_max", "max")),
        y_range=(0.0, 100.0),
    ),
    ChartSpec("errors", "Error rate", "%", (("error_rate", "error rate"),), factor=100.0),
    ChartSpec("power", "Power draw per device (mean)", "W", (("power_mean", "mean"),)),
    ChartSpec("temperature", "Temperature (max)", "°C", (("temperature_max", "max"),)),
    ChartSpec("throttle", "Throttle time", "s", (("throttle_seconds", "throttled"),)),
)

NO_DATA = "No data in this window"


def _clean(value: Any) -> float | None:
    """JSON has no NaN or infinity: a gap is drawn as a gap."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _columns(rows: Rows, field: str, factor: float = 1.0) -> tuple[list[str], list[float | None]]:
    xs = [_iso(row["t"]) for row in rows]
    ys = [_clean(row.get(field)) for row in rows]
    if factor != 1.0:
        ys = [None if y is None else y * factor for y in ys]
    return xs, ys


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_has_data(rows: Rows, spec: ChartSpec) -> bool:
    return any(_clean(row.get(field)) is not None for row in rows for field, _ in spec.traces)


def has_data(rows: Rows) -> bool:
    """True when any chart has at least one value to draw."""
    return any(_spec_has_data(rows, spec) for spec in CHARTS)


def _trace(
    rows: Rows, field: str, label: str, position: int, factor: float = 1.0, **extra: Any
) -> go.Scatter:
    xs, ys = _columns(rows, field, factor)
    return go.Scatter(
        x=xs,
        y=ys,
        name=label,
        mode=_MODE,
        marker=_MARKER,
        line={"color": QUANTILE_COLORS[position % len(QUANTILE_COLORS)]},
        connectgaps=False,
        **extra,
    )


def _no_data_note(fig: go.Figure, axis: str = "x") -> None:
    """Say so on an empty (sub)plot, rather than leave blank axes to puzzle over."""
    fig.add_annotation(
        text=NO_DATA,
        xref=f"{axis} domain",
        yref=f"{axis.replace('x', 'y')} domain",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"color": "#6b7280", "size": 13},
    )


def _layout(fig: go.Figure, spec: ChartSpec, *, title: str) -> None:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=320,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    fig.update_yaxes(title_text=spec.unit, rangemode="tozero")
    if spec.y_range is not None:
        fig.update_yaxes(range=list(spec.y_range))


PARTIAL_HOUR_NOTE = "current hour (partial)"


def _mark_partial_hour(
    fig: go.Figure, rows: Rows, partial_hour: dt.datetime | None, **where: Any
) -> None:
    """Shade the hour still in progress: its figures grow as data arrives."""
    if partial_hour is None or not any(row["t"] == partial_hour for row in rows):
        return
    fig.add_vrect(
        x0=_iso(partial_hour),
        x1=_iso(partial_hour + dt.timedelta(hours=1)),
        fillcolor="#f59e0b",
        opacity=0.12,
        line_width=0,
        annotation_text=PARTIAL_HOUR_NOTE,
        annotation_position="top left",
        annotation_font={"size": 10, "color": "#92400e"},
        **where,
    )


def _as_dict(fig: go.Figure) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(fig.to_json())
    return decoded


def _entry(spec: ChartSpec, prefix: str, fig: go.Figure, title: str) -> dict[str, Any]:
    chart_id = f"{prefix}-{spec.key}"
    return {
        "id": chart_id,
        "data_id": f"{chart_id}-data",
        "title": title,
        "figure": _as_dict(fig),
    }


def backend_figures(
    rows: Rows, *, prefix: str = "chart", partial_hour: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One figure per chart for one backend (the page names the backend).
    ``partial_hour``: the hour in progress, shaded and labelled."""
    figures = []
    for spec in CHARTS:
        fig = go.Figure()
        for position, (field, label) in enumerate(spec.traces):
            fig.add_trace(
                _trace(
                    rows,
                    field,
                    label,
                    position,
                    spec.factor,
                    hovertemplate=f"%{{y:.4g}} {spec.unit}<extra>{label}</extra>",
                )
            )
        if not _spec_has_data(rows, spec):
            _no_data_note(fig)
        _mark_partial_hour(fig, rows, partial_hour)
        _layout(fig, spec, title=spec.title)
        figures.append(_entry(spec, prefix, fig, spec.title))
    return figures


def comparison_figures(
    candidate: Rows,
    baseline: Rows,
    *,
    candidate_name: str,
    baseline_name: str,
    prefix: str = "compare",
    partial_hour: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Per chart, candidate and baseline side by side over the same x
    window, each on its own labelled y axis: a wafer drawing 15 kW would
    flatten a GPU's 440 W on a shared one. Bounded units (utilization in %)
    keep their fixed range on both sides, so those still compare at a glance."""
    # Backend names are shown as text, never as Plotly's markup (links).
    candidate_name = html.escape(candidate_name, quote=False)
    baseline_name = html.escape(baseline_name, quote=False)
    figures = []
    for spec in CHARTS:
        fig = make_subplots(
            rows=1,
            cols=2,
            shared_yaxes=False,
            shared_xaxes=True,
            subplot_titles=(candidate_name, baseline_name),
            horizontal_spacing=0.04,
        )
        for column, (rows, name) in enumerate(
            ((candidate, candidate_name), (baseline, baseline_name)), start=1
        ):
            for position, (field, label) in enumerate(spec.traces):
                # One legend entry per quantile/series, toggling both sides;
                # the subplot titles say which backend is which.
                fig.add_trace(
                    _trace(
                        rows,
                        field,
                        label,
                        position,
                        spec.factor,
                        legendgroup=label,
                        showlegend=column == 1,
                        hovertemplate=f"{name}: %{{y:.4g}} {spec.unit}<extra>{label}</extra>",
                    ),
                    row=1,
                    col=column,
                )
            if not _spec_has_data(rows, spec):
                _no_data_note(fig, "x" if column == 1 else f"x{column}")
            _mark_partial_hour(fig, rows, partial_hour, row=1, col=column)
        _layout(fig, spec, title=spec.title)
        fig.update_yaxes(title_text=f"candidate ({spec.unit})", row=1, col=1)
        fig.update_yaxes(title_text=f"baseline ({spec.unit})", row=1, col=2)
        fig.update_layout(height=340, margin={"l": 60, "r": 20, "t": 50, "b": 40})
        figures.append(_entry(spec, prefix, fig, spec.title))
    return figures


@dataclass(frozen=True)
class SummaryRow:
    """A line of the pilot panel's summary table: the MetricsSummary field,
    its label and unit, the digits shown and a display factor (error_rate
    is a fraction; the table shows %)."""

    field: str
    label: str
    unit: str
    digits: int
    factor: float = 1.0
    # Which way is better for the candidate: "lower", "higher" or "" (neither:
    # volumes such as requests depend on the traffic sent, not the hardware).
    better: str = ""


SUMMARY_ROWS: tuple[SummaryRow, ...] = (
    SummaryRow("requests", "Requests", "", 0),
    SummaryRow("tokens_generated", "Tokens generated", "", 0),
    SummaryRow("tokens_per_second", "Tokens per second", "tokens/s", 1, better="higher"),
    SummaryRow("e2e_p50", "Latency p50", "s", 3, better="lower"),
    SummaryRow("e2e_p95", "Latency p95", "s", 3, better="lower"),
    SummaryRow("e2e_p99", "Latency p99", "s", 3, better="lower"),
    SummaryRow("e2e_p999", "Latency p99.9", "s", 3, better="lower"),
    SummaryRow("ttft_p50", "Time to first token p50", "s", 3, better="lower"),
    SummaryRow("ttft_p95", "Time to first token p95", "s", 3, better="lower"),
    SummaryRow("ttft_p99", "Time to first token p99", "s", 3, better="lower"),
    SummaryRow("ttft_p999", "Time to first token p99.9", "s", 3, better="lower"),
    SummaryRow("error_rate", "Error rate", "%", 3, factor=100.0, better="lower"),
    SummaryRow("utilization_mean", "Utilization mean", "%", 1),
    SummaryRow("utilization_max", "Utilization max", "%", 1),
    SummaryRow("power_mean", "Power mean per device", "W", 0),
    SummaryRow("energy_joules", "Energy", "kWh", 3, factor=1 / 3_600_000),
    SummaryRow("joules_per_token", "Energy per token", "J", 3, better="lower"),
    SummaryRow("temperature_max", "Temperature max", "°C", 1, better="lower"),
    SummaryRow("throttle_seconds", "Throttle time", "s", 0, better="lower"),
)


def _verdict(row: SummaryRow, ratio: float) -> str:
    """ "better", "worse" or "same" for the candidate, by the row's direction."""
    if not row.better or math.isclose(ratio, 1.0, rel_tol=0.005):
        return "same" if row.better else ""
    lower_is_better = row.better == "lower"
    return "better" if (ratio < 1.0) == lower_is_better else "worse"


def _number(value: float | None, digits: int) -> str | None:
    if value is None:
        return None
    return f"{value:,.{digits}f}"


def summary_rows(candidate: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Candidate, baseline and candidate/baseline for each summary figure.
    The ratio is left out when the baseline is zero or missing."""
    out = []
    for row in SUMMARY_ROWS:
        cand = _clean(candidate.get(row.field))
        base = _clean(baseline.get(row.field))
        ratio = None
        verdict = ""
        if cand is not None and base is not None and base != 0.0:
            ratio = f"{cand / base:.2f}"
            verdict = _verdict(row, cand / base)
        cand = None if cand is None else cand * row.factor
        base = None if base is None else base * row.factor
        out.append(
            {
                "field": row.field,
                "label": row.label,
                "unit": row.unit,
                "candidate": _number(cand, row.digits),
                "baseline": _number(base, row.digits),
                "ratio": ratio,
                "verdict": verdict,
                "better": row.better,
            }
        )
    return out
