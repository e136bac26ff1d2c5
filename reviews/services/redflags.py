"""Raising and clearing red flags from data (issue 12, §4).

``red_flags_evaluate`` works out, for each pilot, what the data shows now
(``findings``), raises a flag for each finding without an open one, and
clears the open flags no finding supports any more. It is idempotent: a
second run over unchanged data writes nothing. The daily beat job runs it
over every pilot; the pilots app's ``vendor_data_changed`` signal runs it
over the pilots on the backends a write touched.

Two runs racing cannot open the same flag twice: the partial unique
constraint (one open flag per kind, pilot and source) refuses the second
insert, which is then taken as "already open".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from metrics.selectors import metrics_summary, throttle_devices
from pilots import sla
from pilots.models import (
    CLOSED_PILOT_STATUSES,
    Backend,
    Contract,
    Incident,
    Part,
    Pilot,
    StockLevel,
    Unit,
)
from pilots.selectors_vendors import backend_spares, stock_list
from portal.audit import record_change
from portal.models import ChangeRecord
from portal.notifications import notify
from portal.roles import Role
from reviews.models import RedFlag

__all__ = [
    "THERMAL_WINDOW",
    "EvaluationResult",
    "Finding",
    "findings",
    "red_flags_evaluate",
]

THERMAL_WINDOW = dt.timedelta(days=7)
THROTTLE_SHARE = 0.01
TEMPERATURE_RISE_C = Decimal(5)


@dataclass(frozen=True)
class Finding:
    """One condition the data shows for a pilot."""

    kind: str
    severity: str
    source: models.Model
    detail: str

    @property
    def key(self) -> tuple[str, int, str]:
        ct = ContentType.objects.get_for_model(type(self.source))
        return (self.kind, ct.pk, str(self.source.pk))


@dataclass
class EvaluationResult:
    raised: int = 0
    cleared: int = 0
    updated: int = 0


def _window(pilot: Pilot) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(pilot.target_start, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(pilot.target_end, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)
    return start, end


def _sla_breaches(pilot: Pilot, backend: Backend, now: dt.datetime) -> list[Finding]:
    start, end = _window(pilot)
    found: list[Finding] = []
    contracts = {c.pk: c for c in Contract.objects.filter(vendor_id=backend.vendor_id)}
    incidents = Incident.objects.filter(contract_id__in=contracts).exclude(kind="outage")
    for incident in incidents.filter(opened_at__lt=min(now, end)):
        contract = contracts[incident.contract_id]
        assessment = sla.assess(contract.sla_terms(), incident.as_sla_incident(), now=now)
        if assessment is None or assessment.status is not sla.IncidentStatus.BREACHED:
            continue
        if not start <= assessment.due_at < min(now, end):
            continue
        found.append(
            Finding(
                kind=RedFlag.Kind.SLA_BREACH,
                severity=RedFlag.Severity.HIGH,
                source=incident,
                detail=(
                    f"{incident.get_kind_display().split(' (')[0]} opened "
                    f"{incident.opened_at:%Y-%m-%d %H:%M} UTC under {contract} was due "
                    f"{assessment.due_at:%Y-%m-%d %H:%M} UTC and is {assessment.hours_late} h late"
                    f"{'' if incident.resolved_at else ' (still open)'}."
                ),
            )
        )
    return found


def _uptime_breaches(pilot: Pilot, backend: Backend, now: dt.datetime) -> list[Finding]:
    """A month whose availability fell below a vendor contract's uptime term
    is an SLA breach (issue 12, §2: it counts one more breach for credits).
    Months that overlap the pilot, up to now (the current month counts as
    soon as its downtime passes the allowance: downtime only grows). One
    finding per contract, naming every such month, so one open flag per
    contract follows them (its detail grows with a new month)."""
    start, end = _window(pilot)
    until = min(now, end)
    if until <= start:
        return []
    contracts = list(
        Contract.objects.filter(
            vendor_id=backend.vendor_id,
            uptime_percent__isnull=False,
            start__lte=until.date(),
            end__gte=start.date(),
        )
    )
    if not contracts:
        return []
    outages: dict[int, list[sla.Incident]] = {c.pk: [] for c in contracts}
    for incident in Incident.objects.filter(
        contract_id__in=list(outages), kind=Incident.Kind.OUTAGE, opened_at__lt=until
    ):
        outages[incident.contract_id].append(incident.as_sla_incident())
    last = until - dt.timedelta(microseconds=1)
    months = sla.month_range((start.year, start.month), (last.year, last.month))
    found: list[Finding] = []
    for contract in contracts:
        if not outages[contract.pk]:
            continue
        report = sla.compliance(contract.sla_terms(), outages[contract.pk], months=months, now=now)
        below = [m for m in report.months if m.uptime_breached]
        if not below:
            continue
        assert contract.uptime_percent is not None  # filtered above
        found.append(
            Finding(
                kind=RedFlag.Kind.SLA_BREACH,
                severity=RedFlag.Severity.HIGH,
                source=contract,
                detail=f"{contract}: availability below the "
                f"{contract.uptime_percent.normalize():f} % uptime term in "
                + ", ".join(f"{m.month} ({m.availability_percent:.3f} %)" for m in below)
                + ".",
            )
        )
    return found


def _contracts_ending(pilot: Pilot, backend: Backend) -> list[Finding]:
    found: list[Finding] = []
    for contract in Contract.objects.filter(backends=backend, end__gte=pilot.target_start):
        if contract.end < pilot.target_end:
            severity = RedFlag.Severity.HIGH
            what = f"ends {contract.end:%Y-%m-%d}"
        elif contract.notice_date < pilot.target_end:
            severity = RedFlag.Severity.MEDIUM
            what = f"passes its notice date {contract.notice_date:%Y-%m-%d}"
        else:
            continue
        found.append(
            Finding(
                kind=RedFlag.Kind.CONTRACT_ENDING,
                severity=severity,
                source=contract,
                detail=f"{contract} {what}, before the pilot's target end "
                f"{pilot.target_end:%Y-%m-%d}.",
            )
        )
    return found


_SHORTFALL_SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}


def _spares(backend: Backend) -> list[Finding]:
    found: list[Finding] = []
    shelves: Iterable[StockLevel] = stock_list().filter(
        site_id=backend.site_id, part__criticality=Part.Criticality.CRITICAL
    )
    for shelf in shelves:
        on_hand = shelf.on_hand  # type: ignore[attr-defined]
        if on_hand < shelf.reorder_point:
            found.append(
                Finding(
                    kind=RedFlag.Kind.SPARES_BELOW_REORDER,
                    severity=RedFlag.Severity.HIGH,
                    source=shelf,
                    detail=f"Critical part {shelf.part.part_number} at {shelf.site.name}: "
                    f"{on_hand} on hand, reorder point {shelf.reorder_point}.",
                )
            )
    for row in backend_spares(backend).rows:
        if row.row.shortfall > 0:
            found.append(
                Finding(
                    kind=RedFlag.Kind.STANDBY_SHORTFALL,
                    severity=_SHORTFALL_SEVERITY[row.part.criticality],
                    source=row.part,
                    detail=f"{row.part.part_number} on {backend.name}: {row.row.on_hand} cold "
                    f"standby at the site, {row.row.recommended} recommended "
                    f"(λ = {row.row.lambda_:.3g} over {row.row.replenishment_days:g} days).",
                )
            )
    return found


def _firmware(backend: Backend) -> list[Finding]:
    versions: dict[int, set[str]] = {}
    parts: dict[int, Part] = {}
    units = Unit.objects.filter(backend=backend, status=Unit.Status.IN_SERVICE).select_related(
        "part"
    )
    for unit in units.exclude(firmware_version=""):
        versions.setdefault(unit.part_id, set()).add(unit.firmware_version)
        parts[unit.part_id] = unit.part
    return [
        Finding(
            kind=RedFlag.Kind.FIRMWARE_DRIFT,
            severity=RedFlag.Severity.MEDIUM,
            source=parts[part_id],
            detail=f"Units of {parts[part_id].part_number} on {backend.name} run different "
            f"firmware: {', '.join(sorted(found))}.",
        )
        for part_id, found in sorted(versions.items())
        if len(found) > 1
    ]


def _thermal_weeks(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """Start of last week, start of this week, end of this week: 168 whole
    hours each, ending with the current hour's rollup (rollups are hourly,
    so an unaligned window would count its first hour in both weeks)."""
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    end = hour if hour == now else hour + dt.timedelta(hours=1)
    return end - 2 * THERMAL_WINDOW, end - THERMAL_WINDOW, end


def _thermal(backend: Backend, now: dt.datetime) -> list[Finding]:
    """Thermal instability over the last 7 days (issue 12, §4).

    "Throttle time over 1 % of the time" is the throttle time of the week
    against 1 % of the time of the devices that report it: the throttle
    series with data this week, one device per label set (power and
    thermal reasons of one GPU are one device). Eight GPUs each throttled
    0.5 % of the week are throttled 0.5 % of the time, not 4 %; a single
    backend-wide throttle counter is measured against the week itself.
    (Power and thermal throttling of one device at once count twice: the
    counters cannot tell, so the share errs towards raising.)
    The max temperature is this week's highest sample against last week's,
    compared exactly (5.0 °C more is not "more than 5 °C").
    """
    last_start, this_start, end = _thermal_weeks(now)
    this_week = metrics_summary(backend=backend, start=this_start, end=end)
    reasons: list[str] = []
    throttled = this_week.throttle_seconds
    throttling = False
    if throttled:
        devices = throttle_devices(backend=backend, start=this_start, end=end)
        device_seconds = THERMAL_WINDOW.total_seconds() * max(devices, 1)
        throttling = throttled > THROTTLE_SHARE * device_seconds
        if throttling:
            reasons.append(
                f"throttled {throttled / device_seconds:.2%} of the last 7 days' "
                f"device-time (over 1 %, {max(devices, 1)} reporting)"
            )
    if this_week.temperature_max is not None:
        last_week = metrics_summary(backend=backend, start=last_start, end=this_start)
        if last_week.temperature_max is not None:
            rise = Decimal(repr(this_week.temperature_max)) - Decimal(
                repr(last_week.temperature_max)
            )
            if rise > TEMPERATURE_RISE_C:
                reasons.append(
                    f"max temperature rose {rise:f} °C week over week "
                    f"({last_week.temperature_max:g} → {this_week.temperature_max:g} °C)"
                )
    if not reasons:
        return []
    return [
        Finding(
            kind=RedFlag.Kind.THERMAL_INSTABILITY,
            severity=RedFlag.Severity.HIGH if throttling else RedFlag.Severity.MEDIUM,
            source=backend,
            detail=f"{backend.name}: {'; '.join(reasons)}.",
        )
    ]


def findings(pilot: Pilot, *, now: dt.datetime) -> list[Finding]:
    """What the data shows for the pilot now. A closed pilot shows nothing
    (its open flags clear)."""
    if pilot.status in CLOSED_PILOT_STATUSES:
        return []
    backend = Backend.objects.select_related("site", "vendor").get(pk=pilot.candidate_backend_id)
    return [
        *_sla_breaches(pilot, backend, now),
        *_uptime_breaches(pilot, backend, now),
        *_contracts_ending(pilot, backend),
        *_spares(backend),
        *_firmware(backend),
        *_thermal(backend, now),
    ]


def _pm_recipients(pilot: Pilot) -> list[User]:
    if pilot.created_by is not None and pilot.created_by.is_active:
        return [pilot.created_by]
    return list(User.objects.filter(groups__name=Role.PROGRAM_MANAGER, is_active=True))


def _raise(pilot: Pilot, finding: Finding, now: dt.datetime) -> RedFlag | None:
    kind, type_id, source_id = finding.key
    try:
        with transaction.atomic():
            flag = RedFlag.objects.create(
                kind=kind,
                severity=finding.severity,
                pilot=pilot,
                source_type_id=type_id,
                source_id=source_id,
                source_label=str(finding.source)[:200],
                detail=finding.detail,
                raised_at=now,
            )
    except IntegrityError:
        return None  # a concurrent run opened it first
    record_change(
        actor=None,
        instance=flag,
        action=ChangeRecord.Action.CREATE,
        scope=pilot.scope,
        message="red flag raised",
    )
    notify(
        key=f"red-flag:{flag.pk}",
        kind="red_flag",
        recipients=_pm_recipients(pilot),
        template="red_flag_raised",
        context={"flag": flag},
    )
    return flag


@transaction.atomic
def _evaluate_pilot(pilot: Pilot, now: dt.datetime, result: EvaluationResult) -> None:
    current = {f.key: f for f in findings(pilot, now=now)}
    open_flags = {
        (f.kind, f.source_type_id, f.source_id): f
        for f in RedFlag.objects.filter(pilot=pilot, cleared_at__isnull=True)
    }
    for key, flag in open_flags.items():
        finding = current.get(key)
        if finding is None:
            # Guarded: a concurrent run that cleared it first wins.
            if RedFlag.objects.filter(pk=flag.pk, cleared_at__isnull=True).update(cleared_at=now):
                record_change(
                    actor=None,
                    instance=flag,
                    action=ChangeRecord.Action.UPDATE,
                    before={"cleared_at": None},
                    after={"cleared_at": now.isoformat()},
                    scope=pilot.scope,
                    message="red flag cleared",
                )
                result.cleared += 1
        elif (flag.severity, flag.detail) != (finding.severity, finding.detail):
            RedFlag.objects.filter(pk=flag.pk).update(
                severity=finding.severity, detail=finding.detail
            )
            result.updated += 1
    for key, finding in current.items():
        if key not in open_flags and _raise(pilot, finding, now) is not None:
            result.raised += 1


def red_flags_evaluate(
    *, backend_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> EvaluationResult:
    """Raise and clear the red flags of the pilots whose candidate backend
    is in ``backend_ids`` (every pilot when None): open pilots, and closed
    ones that still have open flags."""
    now = now or timezone.now()
    pilots = Pilot.objects.select_related("created_by").filter(
        ~Q(status__in=CLOSED_PILOT_STATUSES) | Q(red_flags__cleared_at__isnull=True)
    )
    if backend_ids is not None:
        pilots = pilots.filter(candidate_backend_id__in=list(backend_ids))
    result = EvaluationResult()
    for pilot in pilots.distinct().order_by("pk"):
        _evaluate_pilot(pilot, now, result)
    return result
