"""The compliance chart of the vendor page: compliance % and availability %
per month (lines) and credits owed (bars), drawn by the locally served
plotly.js."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from pilots import sla

__all__ = ["compliance_figure"]


def compliance_figure(report: sla.ComplianceReport) -> dict[str, Any]:
    months = [m.month for m in report.months]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=months,
            # Strings: money never becomes a float (plotly.js reads them as numbers).
            y=[str(m.credits) for m in report.months],
            name="Credits owed",
            yaxis="y2",
            marker_color="#b26a00",
            opacity=0.5,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[m.compliance_percent for m in report.months],
            name="Compliance %",
            mode="lines+markers",
            line_color="#2d6aa3",
            connectgaps=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[m.availability_percent for m in report.months],
            name="Availability %",
            mode="lines+markers",
            line_color="#2e7d32",
        )
    )
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 50, "t": 20, "b": 40},
        xaxis={"type": "category", "title": "Month (of due time)"},
        yaxis={"title": "%", "range": [0, 101]},
        yaxis2={"title": "Credits", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
    )
    figure: dict[str, Any] = fig.to_plotly_json()
    return {"data": figure["data"], "layout": figure["layout"]}
