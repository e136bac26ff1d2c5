"""Plotly figures for pilot pages, built in Python and drawn by the locally
served plotly.js (Plotly.newPlot with the figure's JSON)."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

import plotly.graph_objects as go

from pilots.models import Phase

_DAY_MS = 86_400_000
_STATUS_COLOURS: dict[str, str] = {
    Phase.Status.PLANNED: "#9aa7b6",
    Phase.Status.ACTIVE: "#2d6aa3",
    Phase.Status.PASSED: "#2e7d32",
    Phase.Status.FAILED: "#c62828",
    Phase.Status.SKIPPED: "#b26a00",
}


def _text(value: str) -> str:
    """``value`` as Plotly text: ``<`` and ``&`` escaped (Plotly decodes the
    entities back for display; quotes need no escaping outside a tag)."""
    return html.escape(value, quote=False)


def _ms(delta: dt.timedelta) -> float:
    return delta.total_seconds() * 1000


def pilot_timeline(phases: list[Phase], *, now: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
    """Planned vs actual bars per phase and a vertical line for today.

    Returns the figure as a JSON-ready dict (for ``json_script``)."""
    # Plotly reads text as its own small HTML (links included): a name is
    # shown as text, never markup, so it is escaped.
    labels = [_text(f"{p.order}. {p.label}") for p in phases]
    planned_base: list[str] = []
    planned_len: list[float] = []
    actual_base: list[str | None] = []
    actual_len: list[float | None] = []
    actual_colour: list[str] = []
    planned_text: list[str] = []
    actual_text: list[str] = []
    for phase in phases:
        start = dt.datetime.combine(phase.planned_start, dt.time.min)
        # A planned end is a whole day: the bar runs to its end.
        end = dt.datetime.combine(phase.planned_end, dt.time.min) + dt.timedelta(days=1)
        planned_base.append(start.isoformat())
        planned_len.append(_ms(end - start))
        if phase.actual_start is not None:
            a_start = phase.actual_start.astimezone(tz).replace(tzinfo=None)
            a_end = (phase.actual_end or now).astimezone(tz).replace(tzinfo=None)
            actual_base.append(a_start.isoformat())
            actual_len.append(max(_ms(a_end - a_start), _DAY_MS / 24))
        else:
            actual_base.append(None)
            actual_len.append(None)
        actual_colour.append(_STATUS_COLOURS.get(phase.status, "#2d6aa3"))
        planned_text.append(
            f"Planned {phase.planned_start:%Y-%m-%d} to {phase.planned_end:%Y-%m-%d}"
            f" · {phase.traffic_percent.normalize():f} % traffic"
        )
        if phase.actual_start is not None:
            started = phase.actual_start.astimezone(tz)
            ended = phase.actual_end.astimezone(tz) if phase.actual_end else None
            actual_text.append(
                f"{phase.get_status_display()} · started {started:%Y-%m-%d %H:%M}"
                + (f", ended {ended:%Y-%m-%d %H:%M}" if ended else "")
            )
        else:
            actual_text.append(phase.get_status_display())

    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            name="Planned",
            y=labels,
            x=planned_len,
            base=planned_base,
            orientation="h",
            marker={"color": "rgba(45,106,163,0.18)", "line": {"color": "#2d6aa3", "width": 1}},
            offsetgroup="planned",
            customdata=planned_text,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            name="Actual",
            y=labels,
            x=actual_len,
            base=actual_base,
            orientation="h",
            marker={"color": actual_colour},
            offsetgroup="actual",
            customdata=actual_text,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    today = now.astimezone(tz).replace(tzinfo=None).isoformat()
    fig.update_layout(
        barmode="group",
        height=max(220, 60 + 48 * len(phases)),
        margin={"l": 10, "r": 10, "t": 30, "b": 30},
        xaxis={"type": "date"},
        yaxis={"autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": 1.12},
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": today,
                "x1": today,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#c62828", "width": 2, "dash": "dot"},
            }
        ],
        annotations=[
            {
                "x": today,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": "today",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"color": "#c62828"},
            }
        ],
        plot_bgcolor="#fff",
        paper_bgcolor="#fff",
    )
    result: dict[str, Any] = json.loads(fig.to_json())
    return result
