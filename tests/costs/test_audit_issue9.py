"""Audit of issue 9 (showback) against the implementation: each test pins
one rule the code does not follow yet (strict xfail: it starts failing
loudly, as XPASS, the day the rule holds and the mark must go).

§6: "Finance and admins see every cost center; other roles see only cost
centers they own or are members of (lines of others are summed into one
`other` figure per backend, so totals still reconcile)"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from costs.models import CostCenter, UsageMapping
from pilots.models import Backend
from tests.costs.conftest import cloud, refresh

pytestmark = pytest.mark.django_db


@pytest.mark.xfail(
    strict=True,
    reason="audit: a member sees only the cost centers they own or belong to; the "
    "platform's idle line is shown to everyone under its code (selectors.showback "
    "exempts kind idle from the 'other' fold)",
)
def test_a_member_sees_the_platforms_idle_line_only_inside_other(
    gpu: Backend,
    usage: Any,
    team_a: CostCenter,
    team_b: CostCenter,
    platform: CostCenter,
    pilot_team: Any,
) -> None:
    # March 10, C = 4 devices × $2 × 24 = 192; capacity 0.01 token/s, so
    # K = 864 tokens and rho = 400 / 864; platform policy: CC-4100 carries
    # 192 × 300/864 = 66.67, CC-4200 192 × 100/864 = 22.22, and the idle
    # 192 × 464/864 = 103.11 is one line of the platform's CC-9000.
    cloud(gpu, capacity_tokens_per_second=Decimal("0.01"), idle_policy="platform")
    UsageMapping.objects.create(label="team", value="search", cost_center=team_a, order=10)
    UsageMapping.objects.create(label="team", value="ads", cost_center=team_b, order=10)
    usage(gpu, prompt=300, labels={"team": "search"})
    usage(gpu, prompt=100, labels={"team": "ads"})
    refresh(gpu)
    team_a.members.add(pilot_team)  # not a member of the platform's CC-9000

    client = APIClient()
    client.force_authenticate(pilot_team)
    body = client.get("/api/v1/showback/", {"period": "2026-03"}).json()

    assert body["backends"][0]["cost"] == "192.00"
    assert body["backends"][0]["idle"] == "103.11"
    assert [(line["cost_center"], line["kind"], line["amount"]) for line in body["lines"]] == [
        ("CC-4100", "usage", "66.67"),
        (None, "other", "125.33"),  # CC-4200's 22.22 + the platform's idle 103.11
    ]
