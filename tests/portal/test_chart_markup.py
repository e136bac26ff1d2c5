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
