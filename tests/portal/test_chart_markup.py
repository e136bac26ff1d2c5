"""Names in Plotly charts are text: Plotly reads text as a small HTML, so a
phase or backend named like a link must not become one."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.charts import comparison_figures
from pilots.charts import pilot_timeline
from tests.factories import PhaseFactory, PilotFactory

LINK = '<a href="https://evil.example/">click</a>'
NOW = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.django_db
def test_phase_named_like_a_link_is_text_in_the_timeline():
    phase = PhaseFactory.create(pilot=PilotFactory.create(), order=1, name=LINK)

    figure = pilot_timeline([phase], now=NOW, tz=dt.UTC)

    labels = figure["data"][0]["y"]
    assert labels == ['1. &lt;a href="https://evil.example/"&gt;click&lt;/a&gt;']
    assert not any("<a" in text for text in _strings(figure))


def test_backend_named_like_a_link_is_text_in_the_comparison():
    figures = comparison_figures([], [], candidate_name=LINK, baseline_name="<b>bold</b> & co")

    for entry in figures:
        texts = list(_strings(entry["figure"]))
        assert not any("<a" in text or "<b>" in text for text in texts)
        titles = [note["text"] for note in entry["figure"]["layout"]["annotations"]]
        assert '&lt;a href="https://evil.example/"&gt;click&lt;/a&gt;' in titles
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in titles


def test_cost_centers_and_backends_named_like_links_are_text_in_the_cost_charts():
    from decimal import Decimal

    from costs.charts import budget_figure, stacked_cost_figure, unit_cost_trend_figure
    from costs.selectors import Period
    from costs.services.budgets import BudgetStatus

    status = BudgetStatus(
        cost_center="<b>CC</b>",
        cost_center_name=LINK,
        period="2026-02",
        budget=Decimal(100),
        soft_percent=80,
        hard_percent=100,
        soft_threshold=Decimal(80),
        hard_threshold=Decimal(100),
        spend=Decimal(10),
        projected=Decimal(20),
        days_elapsed=14,
        days_in_month=28,
        closed=False,
    )
    figures = [
        stacked_cost_figure({"<b>CC</b>": {"gpu": Decimal(1)}}, {"gpu": LINK}),
        unit_cost_trend_figure({"gpu": [(Period(2026, 2), Decimal(1))]}, {"gpu": LINK}),
        budget_figure([status]),
    ]
    for figure in figures:
        texts = list(_strings(figure))
        assert not any("<a" in text or "<b>" in text for text in texts), texts
    assert "&lt;b&gt;CC&lt;/b&gt;" in figures[2]["data"][0]["x"]
