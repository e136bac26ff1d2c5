"""Cold-standby sufficiency of one part on one backend (issue 12, §3).

Pure and typed: callers pass the fleet, the part's failure rate and the
replenishment times as plain values (no ORM) and get back one row of
``GET /api/v1/backends/{slug}/spares/``.

- Replenishment time L (days) is the shorter of the part's lead time at the
  backend's site and the replacement time of any contract covering the
  backend (hours / 24).
- Failures during L are Poisson with mean λ = n × f × L / 365 (n units of the
  part in service on the backend, f failures per unit and year).
- The recommended cold-standby count is the smallest s ≥ 0 with
  P(X ≤ s) ≥ the service level (default 95 %); λ = 0 needs none.
- Shortfall = max(0, recommended - on hand).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypedDict

from scipy.stats import poisson

__all__ = [
    "DEFAULT_SERVICE_LEVEL",
    "SparesRow",
    "SparesRowDict",
    "poisson_mean",
    "replenishment_days",
    "standby_count",
    "sufficiency",
]

DEFAULT_SERVICE_LEVEL = 0.95

SparesRowDict = TypedDict(
    "SparesRowDict",
    {
        "part": str,
        "fleet": int,
        "annual_failure_rate": Decimal | float,
        "replenishment_days": float,
        "lambda": float,
        "recommended": int,
        "on_hand": int,
        "shortfall": int,
    },
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SparesRow:
    """One part's sufficiency; ``to_dict()`` gives the API's fields (``lambda_``
    becomes ``"lambda"``)."""

    part: str
    fleet: int
    annual_failure_rate: Decimal | float
    replenishment_days: float
    lambda_: float
    recommended: int
    on_hand: int
    shortfall: int

    def to_dict(self) -> SparesRowDict:
        return {
            "part": self.part,
            "fleet": self.fleet,
            "annual_failure_rate": self.annual_failure_rate,
            "replenishment_days": self.replenishment_days,
            "lambda": self.lambda_,
            "recommended": self.recommended,
            "on_hand": self.on_hand,
            "shortfall": self.shortfall,
        }


def replenishment_days(
    lead_time_days: Decimal | int | None,
    replacement_hours: Iterable[Decimal | int | None] = (),
) -> float:
    """The shorter of the lead time and the covering contracts' replacement
    times (None entries are contracts without that term). Raises ValueError
    when neither is known: without L there is no λ to size spares by."""
    candidates = [Fraction(lead_time_days)] if lead_time_days is not None else []
    candidates += [Fraction(h) / 24 for h in replacement_hours if h is not None]
    if not candidates:
        raise ValueError("no lead time and no covering contract's replacement time")
    shortest = min(candidates)
    if shortest < 0:
        raise ValueError(f"replenishment time must not be negative, got {float(shortest)} days")
    return float(shortest)


def poisson_mean(fleet: int, annual_failure_rate: Decimal | float, days: float) -> float:
    """λ = n × f × L / 365: expected failures of the fleet during L days."""
    if fleet < 0 or annual_failure_rate < 0 or days < 0:
        raise ValueError("fleet, failure rate and replenishment time must not be negative")
    return fleet * float(annual_failure_rate) * days / 365


def standby_count(lam: float, service_level: float = DEFAULT_SERVICE_LEVEL) -> int:
    """The smallest s ≥ 0 with P(X ≤ s) ≥ ``service_level`` for X ~ Poisson(λ).

    ``poisson.ppf`` gives the answer up to float error at the boundary, so it
    is only the starting point: the result is then moved until the
    definition holds against ``poisson.cdf`` itself.
    """
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be within (0, 1), got {service_level}")
    if lam < 0:
        raise ValueError(f"λ must not be negative, got {lam}")
    if lam == 0:
        return 0
    s = max(0, int(poisson.ppf(service_level, lam)))
    while s > 0 and poisson.cdf(s - 1, lam) >= service_level:
        s -= 1
    while poisson.cdf(s, lam) < service_level:
        s += 1
    return s


def sufficiency(
    *,
    part: str,
    fleet: int,
    annual_failure_rate: Decimal | float,
    lead_time_days: Decimal | int | None,
    replacement_hours: Iterable[Decimal | int | None] = (),
    on_hand: int,
    service_level: float = DEFAULT_SERVICE_LEVEL,
) -> SparesRow:
    """The sufficiency row of one part on one backend.

    ``lead_time_days`` is the part's lead time at the backend's site;
    ``replacement_hours`` those of the contracts covering the backend.
    """
    if on_hand < 0:
        raise ValueError(f"on hand must not be negative, got {on_hand}")
    days = replenishment_days(lead_time_days, replacement_hours)
    lam = poisson_mean(fleet, annual_failure_rate, days)
    recommended = standby_count(lam, service_level)
    return SparesRow(
        part=part,
        fleet=fleet,
        annual_failure_rate=annual_failure_rate,
        replenishment_days=days,
        lambda_=lam,
        recommended=recommended,
        on_hand=on_hand,
        shortfall=max(0, recommended - on_hand),
    )
