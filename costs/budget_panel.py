"""The budget panel (issue 10, §4) that the budgets page, the showback
dashboard and the cost-center page share: the month-to-date spend and
straight-line forecast of the cost centers the user may see (the showback
visibility rule), with their budget lines drawn by
``costs.charts.budget_figure``.

A page calls ``budget_panel`` and includes ``costs/_budget_panel.html``;
the figures come from ``costs.services.budgets.budget_statuses``, so the
three pages and the alerts read the same numbers. A constant number of
queries whatever the number of cost centers (see ``budget_statuses``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from costs import charts, selectors
from costs.models import CostCenter
from costs.selectors import Period, ShowbackReport
from costs.services.budgets import budget_statuses

__all__ = ["budget_panel"]


def budget_panel(
    *,
    user: Any,
    period: Period,
    report: ShowbackReport | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Template context of the panel for ``period``. ``report``: the
    month's showback the page already read for ``user``; reused when the
    user sees every cost center (then it is the whole month's), so the
    dashboard reads the month once.

    - ``budget_period``: the month;
    - ``budget_statuses``: every active cost center ``user`` may see;
    - ``budget_shown``: those with a budget or any spend (the chart's and
      the dashboard table's rows);
    - ``budget_figure``: the Plotly figure of those with a budget (None
      when none has one).
    """
    centers = CostCenter.objects.filter(is_active=True).order_by("code")
    visible = selectors.visible_cost_center_ids(user)
    if visible is not None:
        centers = centers.filter(pk__in=visible)
    listed = list(centers)
    whole = report if report is not None and visible is None else None
    statuses = (
        budget_statuses(period=period, cost_centers=listed, today=today, report=whole)
        if listed
        else []
    )
    shown = [s for s in statuses if s.budget is not None or s.spend]
    return {
        "budget_period": period,
        "budget_statuses": statuses,
        "budget_shown": shown,
        "budget_figure": charts.budget_figure(shown) if any(s.budget for s in shown) else None,
    }
