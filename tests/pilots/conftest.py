"""Fixtures the pilot page tests share."""

import datetime as dt
from typing import Any

import pytest

from pilots import services
from tests.factories import BackendFactory, CostCenterFactory


@pytest.fixture
def draft_pilot(pm: Any) -> Any:
    """A pilot made the way the create page makes it (default RACI
    activities, unanswered checklist), with no phases yet."""
    CostCenterFactory.create(code="CC-7")
    return services.pilot_create(
        actor=pm,
        name="Wafer chat pilot",
        model_name="llama-3-70b",
        candidate_backend=BackendFactory.create(name="WSE-3 rack", slug="wse-3"),
        baseline_backend=BackendFactory.create(name="H100 pool", slug="h100"),
        team="chat",
        cost_center="CC-7",
        target_start=dt.date(2026, 1, 5),
        target_end=dt.date(2026, 9, 30),
    )
