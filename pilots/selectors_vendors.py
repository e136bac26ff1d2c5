"""Reads of vendors, contracts, compliance and spares that pages and the API
share. Figures come from the calculators (``pilots.sla``,
``pilots.spares_model``); these functions only load what they need, in a
fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from pilots import sla, spares_model
from pilots.models import (
    CRITICALITY_RANK,
    Backend,
    Contract,
    Incident,
    Part,
    Site,
    StockLevel,
    StockMovement,
    Unit,
    Vendor,
)

__all__ = [
    "NOTICE_HORIZON_DAYS",
    "MonthParseError",
    "SufficiencyRow",
    "backend_spares",
    "contract_compliance",
    "contracts_list",
    "contracts_near_notice",
    "default_months",
    "incidents_list",
    "months_between",
    "parse_month",
    "stock_below_reorder",
    "stock_list",
    "vendor_compliance",
]

NOTICE_HORIZON_DAYS = 90
MAX_MONTHS = 120
_MONTH_RE = re.compile(r"^(?!0000)(\d{4})-(\d{2})$")


class MonthParseError(ValueError):
    """A ``from``/``to`` month that is not ``YYYY-MM`` (or a range the wrong
    way round or too long); ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_month(value: str, *, field: str) -> sla.Month:
    match = _MONTH_RE.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise MonthParseError(field, f"{field} must be a month as YYYY-MM, e.g. 2026-03.")
    return (int(match.group(1)), int(match.group(2)))


def months_between(first: sla.Month, last: sla.Month) -> list[sla.Month]:
    if last < first:
        raise MonthParseError("to", "to must not be before from.")
    months = sla.month_range(first, last)
    if len(months) > MAX_MONTHS:
        raise MonthParseError("to", f"A range has at most {MAX_MONTHS} months.")
    return months


def default_months(*, today: dt.date, count: int = 12) -> list[sla.Month]:
    """The last ``count`` months up to this one."""
    year, month = today.year, today.month
    first_index = year * 12 + month - 1 - (count - 1)
    return sla.month_range((first_index // 12, first_index % 12 + 1), (year, month))


# --- contracts and compliance -------------------------------------------------------


def contracts_list() -> QuerySet[Contract]:
    """Contracts with their vendor and backends (two queries for any number)."""
    return Contract.objects.select_related("vendor").prefetch_related(
        Prefetch("backends", queryset=Backend.objects.only("id", "slug", "name"))
    )


def incidents_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("contract__vendor", "part").prefetch_related(
        Prefetch("backends", queryset=Backend.objects.only("id", "slug", "name"))
    )


def contract_compliance(
    contract: Contract, *, months: Sequence[sla.Month], now: dt.datetime
) -> sla.ComplianceReport:
    """The contract's compliance month by month (one query)."""
    incidents = [i.as_sla_incident() for i in contract.incidents.all().order_by()]
    return sla.compliance(contract.sla_terms(), incidents, months=months, now=now)


def vendor_compliance(
    vendor: Vendor, *, months: Sequence[sla.Month], now: dt.datetime
) -> sla.ComplianceReport:
    """The same figures over all the vendor's contracts: counts and credits
    summed, availability from all their outages merged into one timeline
    (two queries)."""
    contracts = list(Contract.objects.filter(vendor=vendor))
    by_contract: dict[int, list[sla.Incident]] = defaultdict(list)
    for incident in Incident.objects.filter(contract__vendor=vendor).order_by():
        by_contract[incident.contract_id].append(incident.as_sla_incident())
    reports = [
        sla.compliance(c.sla_terms(), by_contract[c.pk], months=months, now=now) for c in contracts
    ]
    outages = [
        i for rows in by_contract.values() for i in rows if i.kind is sla.IncidentKind.OUTAGE
    ]
    # No terms: nothing measured, only the merged availability.
    timeline = sla.compliance(sla.SlaTerms(), outages, months=months, now=now)
    rows: list[sla.MonthCompliance] = []
    for index, base in enumerate(timeline.months):
        parts = [r.months[index] for r in reports]
        met = sum(p.met for p in parts)
        breached = sum(p.breached for p in parts)
        rows.append(
            sla.MonthCompliance(
                month=base.month,
                measured=sum(p.measured for p in parts),
                met=met,
                breached=breached,
                compliance_percent=sla.compliance_percent(met, breached),
                availability_percent=base.availability_percent,
                credits=sum((p.credits for p in parts), start=Decimal("0.00")),
                uptime_breached=any(p.uptime_breached for p in parts),
                hours_late=sum(p.hours_late for p in parts),
            )
        )
    met = sum(r.met for r in rows)
    breached = sum(r.breached for r in rows)
    total = sla.ComplianceTotal(
        measured=sum(r.measured for r in rows),
        met=met,
        breached=breached,
        compliance_percent=sla.compliance_percent(met, breached),
        availability_percent=timeline.total.availability_percent,
        credits=sum((r.credits for r in rows), start=Decimal("0.00")),
        uptime_breaches=sum(r.uptime_breached for r in rows),
    )
    return sla.ComplianceReport(months=rows, total=total)


def contracts_near_notice(
    *, today: dt.date, days: int = NOTICE_HORIZON_DAYS, contracts: Iterable[Contract] | None = None
) -> list[Contract]:
    """Contracts whose notice date falls within the next ``days`` days
    (today included), soonest first. One query."""
    if contracts is None:
        # The notice date is at most the end: a contract ended before today
        # cannot have one ahead.
        contracts = Contract.objects.select_related("vendor").filter(end__gte=today)
    horizon = today + dt.timedelta(days=days)
    found = [c for c in contracts if today <= c.notice_date <= horizon]
    return sorted(found, key=lambda c: (c.notice_date, c.pk))


# --- stock and sufficiency ----------------------------------------------------------


def stock_list() -> QuerySet[StockLevel]:
    """Stock rows with their part, site and on-hand (the ledger's sum), in
    one query."""
    return (
        StockLevel.objects.select_related("part__vendor", "site")
        .annotate(on_hand=Coalesce(Sum("movements__delta"), 0))
        .order_by("site__name", "part__part_number")
    )


def stock_below_reorder(*, site: Site | None = None) -> list[StockLevel]:
    rows = stock_list()
    if site is not None:
        rows = rows.filter(site=site)
    return [row for row in rows if row.on_hand < row.reorder_point]  # type: ignore[attr-defined]


def movements_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related(
        "stock__part", "stock__site", "counterpart_site", "created_by"
    )


@dataclass(frozen=True)
class SufficiencyRow:
    """One part's sufficiency on one backend: the calculator's row plus what
    the page shows beside it."""

    part: Part
    row: spares_model.SparesRow

    @property
    def criticality(self) -> str:
        return self.part.criticality


@dataclass(frozen=True)
class BackendSpares:
    """A backend's sufficiency rows, and the parts in service on it that
    cannot be sized (no lead time at its site and no covering contract's
    replacement time)."""

    rows: list[SufficiencyRow]
    unsized: list[Part]


def backend_spares(
    backend: Backend, *, service_level: float = spares_model.DEFAULT_SERVICE_LEVEL
) -> BackendSpares:
    """Cold-standby sufficiency for every part with units in service on the
    backend, most critical first. Four queries, whatever the part count."""
    fleet = {
        row["part"]: row["n"]
        for row in Unit.objects.filter(backend=backend, status=Unit.Status.IN_SERVICE)
        .values("part")
        .annotate(n=Count("id"))
        .order_by()
    }
    parts = list(Part.objects.filter(pk__in=fleet))
    shelves = {
        s.part_id: s for s in stock_list().filter(site_id=backend.site_id, part_id__in=fleet)
    }
    replacement = list(
        Contract.objects.filter(backends=backend).values_list("replacement_hours", flat=True)
    )
    rows: list[SufficiencyRow] = []
    unsized: list[Part] = []
    for part in sorted(parts, key=lambda p: (CRITICALITY_RANK[p.criticality], p.part_number)):
        shelf = shelves.get(part.pk)
        lead = shelf.lead_time_days if shelf is not None else None
        try:
            row = spares_model.sufficiency(
                part=part.part_number,
                fleet=fleet[part.pk],
                annual_failure_rate=part.annual_failure_rate,
                lead_time_days=lead,
                replacement_hours=replacement,
                on_hand=max(0, shelf.on_hand) if shelf is not None else 0,  # type: ignore[attr-defined]
                service_level=service_level,
            )
        except ValueError:
            unsized.append(part)
            continue
        rows.append(SufficiencyRow(part=part, row=row))
    return BackendSpares(rows=rows, unsized=unsized)


def site_backends(site: Site) -> QuerySet[Backend]:
    return Backend.objects.filter(site=site, is_active=True).select_related("vendor")


def vendors_list() -> QuerySet[Vendor]:
    """Vendors with their contract and backend counts (one query)."""
    return Vendor.objects.annotate(
        contract_count=Count("contracts", distinct=True),
        backend_count=Count("backends", distinct=True),
        open_incidents=Count(
            "contracts__incidents",
            filter=Q(contracts__incidents__resolved_at__isnull=True),
            distinct=True,
        ),
    )
