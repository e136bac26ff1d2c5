"""The pilot timeline figure: planned and actual bars, a line for today."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pilots.charts import pilot_timeline
from pilots.models import Phase
from tests.factories import PhaseFactory, PilotFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)


def test_timeline_has_planned_and_actual_bars_and_today():
    pilot = PilotFactory.create()
    lab = PhaseFactory.create(
        pilot=pilot,
        order=1,
        status=Phase.Status.PASSED,
        planned_start=dt.date(2026, 1, 5),
        planned_end=dt.date(2026, 2, 1),
        actual_start=dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC),
        actual_end=dt.datetime(2026, 2, 3, 17, tzinfo=dt.UTC),
    )
    shadow = PhaseFactory.create(
        pilot=pilot,
        order=2,
        kind=Phase.Kind.SHADOW,
        planned_start=dt.date(2026, 2, 2),
        planned_end=dt.date(2026, 3, 15),
    )
    fig = pilot_timeline([lab, shadow], now=NOW, tz=ZoneInfo("UTC"))
    planned, actual = fig["data"]
    assert (planned["name"], actual["name"]) == ("Planned", "Actual")
    assert planned["y"] == ["1. Lab validation", "2. Shadow"]
    assert planned["base"][0] == "2026-01-05T00:00:00"
    # The planned bar covers whole days: 28 days from Jan 5 to the end of Feb 1.
    assert planned["x"][0] == 28 * 86_400_000
    assert actual["base"] == ["2026-01-06T09:00:00", None]
    assert actual["x"][1] is None
    today = fig["layout"]["shapes"][0]
    assert today["x0"] == today["x1"] == "2026-02-10T12:00:00"


def test_timeline_converts_to_the_display_time_zone():
    phase = PhaseFactory.create(
        status=Phase.Status.ACTIVE, actual_start=dt.datetime(2026, 2, 1, 23, tzinfo=dt.UTC)
    )
    fig = pilot_timeline([phase], now=NOW, tz=ZoneInfo("Europe/Amsterdam"))
    assert fig["data"][1]["base"] == ["2026-02-02T00:00:00"]
    assert fig["layout"]["shapes"][0]["x0"] == "2026-02-10T13:00:00"
