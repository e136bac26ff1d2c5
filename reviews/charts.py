"""Plotly figures of a review's evidence (plain dicts, drawn by the page
with the portal's own plotly.js): per criterion, the compared figure with
its 95 % CI against the threshold, and the candidate beside the baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["criterion_figure"]

COLORS = {"pass": "#2e7d32", "marginal": "#ef6c00", "fail": "#c62828"}


def criterion_figure(criterion: Mapping[str, Any]) -> dict[str, Any] | None:
    """One small figure, or None for a criterion without figures."""
    relative = criterion.get("comparison") == "relative"
    estimate = criterion.get("ratio") if relative else criterion.get("candidate")
    if estimate is None:
        return None
    low, high = criterion.get("ci_low"), criterion.get("ci_high")
    color = COLORS.get(str(criterion.get("verdict")), "#555")
    point: dict[str, Any] = {
        "type": "scatter",
        "mode": "markers",
        "x": [estimate],
        "y": ["ratio" if relative else "candidate"],
        "marker": {"color": color, "size": 12},
        "name": "candidate / baseline" if relative else "candidate",
    }
    if low is not None and high is not None:
        point["error_x"] = {
            "type": "data",
            "symmetric": False,
            "array": [max(high - estimate, 0.0)],
            "arrayminus": [max(estimate - low, 0.0)],
            "color": color,
        }
    data: list[dict[str, Any]] = [point]
    if not relative and criterion.get("baseline") is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [criterion["baseline"]],
                "y": ["baseline"],
                "marker": {"color": "#607d8b", "size": 10, "symbol": "diamond"},
                "name": "baseline",
            }
        )
    threshold = criterion.get("threshold")
    return {
        "data": data,
        "layout": {
            "height": 150,
            "margin": {"l": 80, "r": 20, "t": 10, "b": 30},
            "showlegend": False,
            "shapes": [
                {
                    "type": "line",
                    "x0": threshold,
                    "x1": threshold,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#333", "dash": "dash"},
                }
            ],
        },
    }
