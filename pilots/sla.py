"""SLA compliance and service credits of one contract, month by month.

Pure and typed: callers pass the contract's terms and its incidents as plain
values (no ORM) and get back the figures of
``GET /api/v1/contracts/{id}/compliance/``.

Rules (issue 12, §2):

- A term measures one incident kind and gives it a due time: ``rma`` is due
  ``replacement_hours`` after it opened, ``support_request`` ``response_hours``
  after, ``security_patch`` ``patch_window_days`` days after release. A kind
  whose term is not set is not measured; outages are never measured this way.
- A measured incident is ``met`` when resolved at or before its due time,
  ``breached`` when resolved after it or still unresolved at ``now`` past it,
  else ``open``. Hours late = ceil((resolved or now - due) / 1 h) when
  breached, 0 otherwise: exactly on time is met, one second late is one hour.
  ``resolved_at`` is trusted as recorded; ``now`` only bounds what is open.
- An incident belongs to the UTC calendar month of its due time.
- Outages (all of the contract's, whichever backend) are merged into one
  downtime timeline; each is clipped to the month, an open one runs to
  ``now``. Availability = 1 - downtime / hours of the whole month, also for
  the current month (downtime only grows, so a breach seen early stands).
  With no outages it is 100 %.
- A month whose availability is strictly below ``uptime_percent`` counts one
  more breach for credits (not in ``breached``, which counts incidents
  only); under ``per_hour_late`` it counts the started hours of downtime
  beyond the allowance ``(1 - uptime / 100) × hours of the month``.
- ``measured`` counts the month's measured incidents, open ones included;
  compliance % = met / (met + breached) × 100, None when nothing is decided.
- Credits per month: ``credit_percent`` % of the monthly fee per breach
  (``per_breach``) or per started hour late (``per_hour_late``), capped at
  ``credit_cap_percent`` % of the monthly fee, rounded half-even to cents at
  the end of the month. No fee, no credit percent, or a one-off fee: no
  credits (a one-off fee has no monthly share to credit against).
- Totals over the range: summed counts, compliance from the summed met and
  breached, availability from the summed downtime over the summed hours,
  credits the sum of the capped, rounded monthly credits.

Arithmetic is exact (integer microseconds, fractions) until the last step, so
a month exactly at its uptime term or a credit exactly on a half cent does
not fall the wrong way through float error. Percentages come out as
unrounded floats (rounding is for display); credits as Decimal cents, which
DRF renders as strings.

Enum fields are typed as the enums; callers convert model strings with
``IncidentKind(row.kind)`` and the like (plain strings are converted too, at
run time, so a bad value fails when the input is built).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypedDict

__all__ = [
    "ComplianceReport",
    "ComplianceReportDict",
    "ComplianceTotal",
    "ComplianceTotalDict",
    "CreditBasis",
    "FeePeriod",
    "Incident",
    "IncidentAssessment",
    "IncidentKind",
    "IncidentStatus",
    "Month",
    "MonthCompliance",
    "MonthComplianceDict",
    "SlaTerms",
    "assess",
    "compliance",
    "compliance_percent",
    "due_at",
    "month_label",
    "month_range",
    "monthly_fee",
    "notice_date",
]

Month = tuple[int, int]
"""A calendar month as ``(year, month)``, month 1-12."""

Amount = Decimal | int
"""Hours, days and percents: exact numbers only (DecimalField or IntegerField)."""

_MICROSECOND = dt.timedelta(microseconds=1)
_HOUR_US = 3_600_000_000
_CENT = Fraction(1, 100)


class IncidentKind(StrEnum):
    """What an incident records; values as in the API."""

    RMA = "rma"
    SUPPORT_REQUEST = "support_request"
    SECURITY_PATCH = "security_patch"
    OUTAGE = "outage"


class IncidentStatus(StrEnum):
    MET = "met"
    BREACHED = "breached"
    OPEN = "open"


class CreditBasis(StrEnum):
    PER_BREACH = "per_breach"
    PER_HOUR_LATE = "per_hour_late"


class FeePeriod(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"
    ONE_OFF = "one_off"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaTerms:
    """A contract's SLA terms and fee; every term is optional.

    Plain strings are accepted for the enum fields (model choices hold
    strings) and converted, so an unknown value fails here, loudly.
    """

    replacement_hours: Amount | None = None
    response_hours: Amount | None = None
    patch_window_days: Amount | None = None
    uptime_percent: Amount | None = None
    credit_percent: Amount | None = None
    credit_basis: CreditBasis = CreditBasis.PER_BREACH
    credit_cap_percent: Amount | None = None
    fee: Decimal | None = None
    fee_period: FeePeriod = FeePeriod.MONTHLY

    def __post_init__(self) -> None:
        object.__setattr__(self, "credit_basis", CreditBasis(self.credit_basis))
        object.__setattr__(self, "fee_period", FeePeriod(self.fee_period))
        for name in (
            "replacement_hours",
            "response_hours",
            "patch_window_days",
            "credit_percent",
            "credit_cap_percent",
            "fee",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.uptime_percent is not None and not 0 <= self.uptime_percent <= 100:
            raise ValueError(f"uptime_percent must be within 0-100, got {self.uptime_percent}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """One incident of the contract. Datetimes must be timezone-aware; months
    are taken in UTC."""

    kind: IncidentKind
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", IncidentKind(self.kind))
        _require_aware("opened_at", self.opened_at)
        if self.resolved_at is not None:
            _require_aware("resolved_at", self.resolved_at)
            if self.resolved_at < self.opened_at:
                raise ValueError(
                    f"resolved_at {self.resolved_at.isoformat()} is before "
                    f"opened_at {self.opened_at.isoformat()}"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentAssessment:
    """A measured incident's due time, status and hours late as of ``now``."""

    incident: Incident
    due_at: dt.datetime
    status: IncidentStatus
    hours_late: int

    @property
    def month(self) -> Month:
        due = self.due_at.astimezone(dt.UTC)
        return (due.year, due.month)


class MonthComplianceDict(TypedDict):
    month: str
    measured: int
    met: int
    breached: int
    compliance_percent: float | None
    availability_percent: float
    credits: Decimal


class ComplianceTotalDict(TypedDict):
    measured: int
    met: int
    breached: int
    compliance_percent: float | None
    availability_percent: float
    credits: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthCompliance:
    """One month of the report. ``to_dict()`` gives exactly the API fields;
    ``uptime_breached`` and ``hours_late`` are extra, for red flags and pages."""

    month: str
    measured: int
    met: int
    breached: int
    compliance_percent: float | None
    availability_percent: float
    credits: Decimal
    uptime_breached: bool
    hours_late: int

    def to_dict(self) -> MonthComplianceDict:
        return {
            "month": self.month,
            "measured": self.measured,
            "met": self.met,
            "breached": self.breached,
            "compliance_percent": self.compliance_percent,
            "availability_percent": self.availability_percent,
            "credits": self.credits,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceTotal:
    """The same figures over the whole range (no ``month``)."""

    measured: int
    met: int
    breached: int
    compliance_percent: float | None
    availability_percent: float
    credits: Decimal
    uptime_breaches: int

    def to_dict(self) -> ComplianceTotalDict:
        return {
            "measured": self.measured,
            "met": self.met,
            "breached": self.breached,
            "compliance_percent": self.compliance_percent,
            "availability_percent": self.availability_percent,
            "credits": self.credits,
        }


class ComplianceReportDict(TypedDict):
    months: list[MonthComplianceDict]
    total: ComplianceTotalDict


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceReport:
    months: list[MonthCompliance]
    total: ComplianceTotal

    def to_dict(self) -> ComplianceReportDict:
        return {"months": [m.to_dict() for m in self.months], "total": self.total.to_dict()}


def monthly_fee(fee: Decimal, fee_period: FeePeriod | str) -> Decimal:
    """The fee's monthly share: monthly as is, yearly / 12, one-off 0 (it has
    no month to credit against). Yearly shares are not rounded here; credits
    use the exact share."""
    exact = _monthly_fee_exact(fee, FeePeriod(fee_period))
    return Decimal(exact.numerator) / Decimal(exact.denominator)


def compliance_percent(met: int, breached: int) -> float | None:
    """met / (met + breached) × 100, exact until the float; None when
    nothing is decided. Sums over several contracts use it too, so that a
    vendor's figures are its contracts' to the last digit."""
    return _percent(met, met + breached)


def notice_date(end: dt.date, notice_days: int) -> dt.date:
    """The last day notice can be given: ``notice_days`` before the end."""
    return end - dt.timedelta(days=notice_days)


def month_label(month: Month) -> str:
    """``(2026, 3)`` → ``"2026-03"``, the API's month."""
    year, number = _check_month(month)
    return f"{year:04d}-{number:02d}"


def month_range(first: Month, last: Month) -> list[Month]:
    """Every month from ``first`` to ``last``, both included."""
    year, number = _check_month(first)
    end = _check_month(last)
    if end < (year, number):
        raise ValueError(f"{month_label(last)} is before {month_label(first)}")
    months: list[Month] = []
    while (year, number) <= end:
        months.append((year, number))
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def due_at(terms: SlaTerms, incident: Incident) -> dt.datetime | None:
    """When the incident is due under the terms; None when no term measures
    its kind (always for outages)."""
    kind = incident.kind
    if kind is IncidentKind.RMA and terms.replacement_hours is not None:
        return incident.opened_at + _duration(terms.replacement_hours, 3600)
    if kind is IncidentKind.SUPPORT_REQUEST and terms.response_hours is not None:
        return incident.opened_at + _duration(terms.response_hours, 3600)
    if kind is IncidentKind.SECURITY_PATCH and terms.patch_window_days is not None:
        return incident.opened_at + _duration(terms.patch_window_days, 86400)
    return None


def assess(terms: SlaTerms, incident: Incident, *, now: dt.datetime) -> IncidentAssessment | None:
    """Due time, status and hours late of one incident as of ``now``; None
    when the incident is not measured."""
    _require_aware("now", now)
    due = due_at(terms, incident)
    if due is None:
        return None
    resolved = incident.resolved_at
    if resolved is not None:
        late_until = resolved if resolved > due else None
    else:
        late_until = now if now > due else None
    if late_until is None:
        status = IncidentStatus.MET if resolved is not None else IncidentStatus.OPEN
        return IncidentAssessment(incident=incident, due_at=due, status=status, hours_late=0)
    return IncidentAssessment(
        incident=incident,
        due_at=due,
        status=IncidentStatus.BREACHED,
        hours_late=_ceil_div((late_until - due) // _MICROSECOND, _HOUR_US),
    )


def compliance(
    terms: SlaTerms,
    incidents: Iterable[Incident],
    *,
    months: Sequence[Month],
    now: dt.datetime,
) -> ComplianceReport:
    """Compliance, availability and credits for each of ``months`` (in the
    order given, no repeats) and over all of them."""
    _require_aware("now", now)
    if not months:
        raise ValueError("months must not be empty")
    checked = [_check_month(m) for m in months]
    if len(set(checked)) != len(checked):
        raise ValueError("months must not repeat")

    by_month: dict[Month, list[IncidentAssessment]] = {m: [] for m in checked}
    outages: list[Incident] = []
    for incident in incidents:
        if incident.kind is IncidentKind.OUTAGE:
            outages.append(incident)
            continue
        assessment = assess(terms, incident, now=now)
        if assessment is not None and assessment.month in by_month:
            by_month[assessment.month].append(assessment)

    rows: list[MonthCompliance] = []
    downtime_total = 0
    hours_total = 0
    for month in checked:
        start, end = _month_bounds(month)
        month_us = (end - start) // _MICROSECOND
        downtime_us = _downtime_us(outages, start=start, end=end, now=now)
        downtime_total += downtime_us
        hours_total += month_us
        rows.append(_month_row(terms, month, by_month[month], downtime_us, month_us))

    met = sum(r.met for r in rows)
    breached = sum(r.breached for r in rows)
    total = ComplianceTotal(
        measured=sum(r.measured for r in rows),
        met=met,
        breached=breached,
        compliance_percent=_percent(met, met + breached),
        availability_percent=_availability_percent(downtime_total, hours_total),
        credits=sum((r.credits for r in rows), start=Decimal("0.00")),
        uptime_breaches=sum(r.uptime_breached for r in rows),
    )
    return ComplianceReport(months=rows, total=total)


def _month_row(
    terms: SlaTerms,
    month: Month,
    assessments: list[IncidentAssessment],
    downtime_us: int,
    month_us: int,
) -> MonthCompliance:
    met = sum(a.status is IncidentStatus.MET for a in assessments)
    breached = sum(a.status is IncidentStatus.BREACHED for a in assessments)
    hours_late = sum(a.hours_late for a in assessments)

    uptime_breached = False
    uptime_hours_beyond = 0
    if terms.uptime_percent is not None:
        allowed_us = (1 - Fraction(terms.uptime_percent) / 100) * month_us
        if downtime_us > allowed_us:
            uptime_breached = True
            uptime_hours_beyond = math.ceil((downtime_us - allowed_us) / _HOUR_US)

    if terms.credit_basis is CreditBasis.PER_BREACH:
        units = breached + int(uptime_breached)
    else:
        units = hours_late + uptime_hours_beyond

    return MonthCompliance(
        month=month_label(month),
        measured=len(assessments),
        met=met,
        breached=breached,
        compliance_percent=_percent(met, met + breached),
        availability_percent=_availability_percent(downtime_us, month_us),
        credits=_credits(terms, units),
        uptime_breached=uptime_breached,
        hours_late=hours_late,
    )


def _credits(terms: SlaTerms, units: int) -> Decimal:
    if terms.fee is None or terms.credit_percent is None:
        return Decimal("0.00")
    fee = _monthly_fee_exact(terms.fee, terms.fee_period)
    owed = Fraction(terms.credit_percent) / 100 * fee * units
    if terms.credit_cap_percent is not None:
        owed = min(owed, Fraction(terms.credit_cap_percent) / 100 * fee)
    # round() on a Fraction rounds half to even.
    return Decimal(round(owed / _CENT)).scaleb(-2)


def _monthly_fee_exact(fee: Decimal, fee_period: FeePeriod) -> Fraction:
    if fee_period is FeePeriod.MONTHLY:
        return Fraction(fee)
    if fee_period is FeePeriod.YEARLY:
        return Fraction(fee) / 12
    return Fraction(0)


def _downtime_us(
    outages: Iterable[Incident], *, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> int:
    """Microseconds within [start, end) covered by at least one outage."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for outage in outages:
        stop = outage.resolved_at if outage.resolved_at is not None else now
        lo, hi = max(outage.opened_at, start), min(stop, end)
        if lo < hi:
            spans.append((lo, hi))
    spans.sort()
    covered = 0
    current: tuple[dt.datetime, dt.datetime] | None = None
    for lo, hi in spans:
        if current is not None and lo <= current[1]:
            current = (current[0], max(current[1], hi))
            continue
        if current is not None:
            covered += (current[1] - current[0]) // _MICROSECOND
        current = (lo, hi)
    if current is not None:
        covered += (current[1] - current[0]) // _MICROSECOND
    return covered


def _availability_percent(downtime_us: int, total_us: int) -> float:
    return float((1 - Fraction(downtime_us, total_us)) * 100)


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else float(Fraction(part, whole) * 100)


def _month_bounds(month: Month) -> tuple[dt.datetime, dt.datetime]:
    year, number = month
    start = dt.datetime(year, number, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def _check_month(month: Month) -> Month:
    year, number = month
    if not 1 <= number <= 12 or not dt.MINYEAR <= year < dt.MAXYEAR:
        raise ValueError(f"not a month: {month!r}")
    return (year, number)


def _duration(amount: Amount, unit_seconds: int) -> dt.timedelta:
    return dt.timedelta(microseconds=round(Fraction(amount) * unit_seconds * 1_000_000))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
