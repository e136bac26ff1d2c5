"""The shared factories build valid rows (and the personas exist)."""

from __future__ import annotations

import pytest

from portal.roles import Role, user_roles
from tests.factories import (
    HourlyRollupFactory,
    ImportJobFactory,
    MetricSourceFactory,
    SeriesFactory,
)

pytestmark = pytest.mark.django_db


def test_metrics_factories_build_rows_that_pass_model_validation() -> None:
    rollup = HourlyRollupFactory.create()
    rollup.full_clean()
    series = rollup.series
    series.full_clean()
    assert SeriesFactory.create(backend=series.backend).key_hash != series.key_hash
    ImportJobFactory.create().full_clean()
    MetricSourceFactory.create().full_clean()


def test_every_persona_holds_its_role(pm, finance, approver, pilot_team, procurement, outsider):
    assert user_roles(procurement) == {Role.PROCUREMENT}
    assert user_roles(finance) == {Role.FINANCE}
    assert user_roles(outsider) == frozenset()
