"""Fixtures of the review tests: a pilot in its canary phase with a go/no-go
RACI (team R, approver A, finance C, procurement I) and known metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from pilots.models import Phase, Pilot
from tests.reviews.builders import feed, pilot_in_canary


@dataclass
class Canary:
    pilot: Pilot
    phase: Phase
    following: Phase

    @property
    def url(self) -> str:
        return f"/api/v1/pilots/{self.pilot.pk}/reviews/"


@pytest.fixture
def canary(pilot_team: Any, approver: Any, finance: Any, procurement: Any) -> Canary:
    pilot, phase, following = pilot_in_canary(
        responsible=pilot_team, accountable=approver, consulted=finance, informed=procurement
    )
    feed(pilot.candidate_backend, hours=24)
    feed(pilot.baseline_backend, hours=24)
    return Canary(pilot, phase, following)


@pytest.fixture
def client_for() -> Any:
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
