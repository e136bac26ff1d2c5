"""Plotly figures of the showback pages, as plain dicts the templates embed
with ``json_script`` and draw with the portal's own plotly.js. Nothing here
queries the database; money enters as Decimal and leaves as float only
for drawing."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from costs.selectors import BackendEconomics, Period
from costs.services.budgets import BudgetStatus

__all__ = [
    "break_even_figure",
    "budget_figure",
    "stacked_cost_figure",
    "unit_cost_trend_figure",
]

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
    "height": 360,
    "legend": {"orientation": "h", "y": -0.2},
}


def _plain(fig: go.Figure) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fig.to_json())
    return data


def _text(value: str) -> str:
    """``value`` as Plotly text: Plotly reads a little HTML in names, axis
    labels and hover text, so ``<`` and ``&`` are escaped (issue 8: chart
    names escaped; Plotly shows the entities as the characters)."""
    return html.escape(value, quote=False)


def stacked_cost_figure(
    by_cost_center: Mapping[str, Mapping[str, Decimal]], backend_names: Mapping[str, str]
) -> dict[str, Any]:
    """Cost per cost center (x), stacked by backend."""
    centers = list(by_cost_center)
    fig = go.Figure()
    for slug, name in backend_names.items():
        fig.add_bar(
            name=_text(name),
            x=[_text(c) for c in centers],
            y=[float(by_cost_center[c].get(slug, Decimal(0))) for c in centers],
        )
    fig.update_layout(title="Cost by cost center, stacked by backend", barmode="stack", **_LAYOUT)
    fig.update_yaxes(title_text="cost")
    return _plain(fig)


def unit_cost_trend_figure(
    trend: Mapping[str, Sequence[tuple[Period, Decimal | None]]], backend_names: Mapping[str, str]
) -> dict[str, Any]:
    """$/1M tokens per backend per month (gaps where a month has none)."""
    fig = go.Figure()
    for slug, points in trend.items():
        fig.add_scatter(
            name=_text(backend_names.get(slug, slug)),
            x=[str(p) for p, _ in points],
            y=[None if v is None else float(v) for _, v in points],
            mode="lines+markers",
            connectgaps=False,
        )
    fig.update_layout(title="$/1M tokens, last 12 months", **_LAYOUT)
    fig.update_yaxes(title_text="per 1M tokens", rangemode="tozero")
    return _plain(fig)


def break_even_figure(figures: Sequence[BackendEconomics]) -> dict[str, Any]:
    """Each backend's $/1M tokens against utilization (its break-even
    curve, log scale) with its measured operating point, and a dashed line
    at each backend's measured $/1M tokens: where a curve crosses another
    backend's line, the first becomes cheaper than the second as run today."""
    fig = go.Figure()
    for f in figures:
        if not f.break_even:
            continue
        fig.add_scatter(
            name=f"{_text(f.name)} (capacity curve)",
            legendgroup=f.backend,
            x=[float(p.utilization) * 100 for p in f.break_even],
            y=[float(p.cost_per_1m_tokens) for p in f.break_even],
            mode="lines",
        )
        if f.operating_point is not None:
            fig.add_scatter(
                name=f"{_text(f.name)} measured",
                legendgroup=f.backend,
                x=[float(f.operating_point.utilization) * 100],
                y=[float(f.operating_point.cost_per_1m_tokens)],
                mode="markers",
                marker={"size": 12, "symbol": "diamond"},
            )
    for f in figures:
        if f.cost_per_1m_tokens is None:
            continue
        fig.add_scatter(
            name=f"{_text(f.name)} as run ({float(f.cost_per_1m_tokens):.4g}/1M)",
            legendgroup=f.backend,
            x=[5, 100],
            y=[float(f.cost_per_1m_tokens)] * 2,
            mode="lines",
            line={"dash": "dot"},
        )
    fig.update_layout(title="Break-even: $/1M tokens by utilization", **{**_LAYOUT, "height": 440})
    fig.update_xaxes(title_text="utilization of rated capacity (%)", range=[0, 102])
    fig.update_yaxes(title_text="per 1M tokens (log)", type="log")
    return _plain(fig)


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _percent(amount: Decimal, budget: Decimal) -> float:
    return float((amount * 100 / budget).quantize(Decimal("0.01")))


def budget_figure(statuses: Sequence[BudgetStatus]) -> dict[str, Any]:
    """Each budgeted cost center's month-to-date spend and straight-line
    forecast (bars) against its budget (the line at 100 %) and its soft
    and hard thresholds (a short line across its bars), in percent of its
    own budget: cost centers of very different sizes stay readable side
    by side. The amounts are in each point's hover (``customdata``).
    Cost centers without a budget have nothing to be drawn against and
    are left out (the pages' tables list them)."""
    rows: list[tuple[BudgetStatus, Decimal]] = [(s, s.budget) for s in statuses if s.budget]
    centers = [_text(s.cost_center) for s, _ in rows]
    fig = go.Figure()
    for name, amounts, opacity in (
        ("Month to date", [s.spend for s, _ in rows], 1.0),
        ("Forecast to month end", [s.forecast for s, _ in rows], 0.55),
    ):
        fig.add_bar(
            name=name,
            x=centers,
            y=[_percent(a, budget) for a, (_, budget) in zip(amounts, rows, strict=True)],
            customdata=[
                [float(a), _text(s.cost_center_name)]
                for a, (s, _) in zip(amounts, rows, strict=True)
            ],
            opacity=opacity,
            hovertemplate=(
                f"%{{x}} %{{customdata[1]}}<br>{name.lower()} %{{customdata[0]:,.2f}}"
                " (%{y:.1f} % of budget)<extra></extra>"
            ),
        )
    for name, percents, at, color, width in (
        ("Budget", [100] * len(rows), [budget for _, budget in rows], "#2d3748", 4),
        (
            "Soft threshold",
            [s.soft_percent for s, _ in rows],
            [s.soft_amount for s, _ in rows],
            "#b7791f",
            3,
        ),
        (
            "Hard threshold",
            [s.hard_percent for s, _ in rows],
            [s.hard_amount for s, _ in rows],
            "#c53030",
            3,
        ),
    ):
        # A wide east-west line marker is a line across the cost center's bars.
        fig.add_scatter(
            name=name,
            x=centers,
            y=percents,
            customdata=[_money(a) for a in at],
            mode="markers",
            marker={
                "symbol": "line-ew-open",
                "size": 46,
                "color": color,
                "line": {"width": width, "color": color},
            },
            hovertemplate=(f"%{{x}} {name.lower()} %{{customdata:,.2f}} (%{{y}} %)<extra></extra>"),
        )
    first = statuses[0] if statuses else None
    title = "Month to date and forecast against each budget"
    if first is not None:
        title += f", {first.period} (day {first.days_elapsed} of {first.days_in_month})"
    fig.update_layout(title=title, barmode="group", **_LAYOUT)
    fig.update_yaxes(title_text="% of budget", rangemode="tozero", ticksuffix=" %")
    fig.update_xaxes(type="category")
    return _plain(fig)
