"""Chargeback (issue 10, §1): closing a month, restating it, and what data
arriving after the close would change.

A closed month is the showback allocation, frozen: closing runs the
allocation service once more for the month (``allocation_refresh``), reads
the month with the showback selector (``costs.selectors.showback``: the
largest-remainder cent rounding lives there), and writes one statement per
cost center from that report's lines. Nothing here computes an allocation.

Who carries what on the statements:

- ``usage`` lines go to their cost center;
- ``idle``, ``unmapped`` and ``shadow`` lines are charged to the platform's
  cost center (a shadow line names the team whose pilot ran it); the team's
  statement shows its shadow traffic as a ``shadow_memo`` line, which is not
  in its total.

So every cent of the showback total is charged exactly once, and the
statements of a month add up to its showback total exactly (checked before
anything is written).

Once a month is closed, ``closed_periods`` (the allocation service's hook)
names it: later imports, mapping or cost-model edits no longer touch its
stored daily rows, so its showback shows the frozen figures. A refresh
reads the month's status under the backends' allocation locks, which a
close holds from before it reads until it commits, so a refresh that
started while the month was open cannot rewrite it after the close.
Closing and restating re-open the month for their own refresh only (a
context variable, so a concurrent refresh elsewhere is unaffected).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import TruncMonth
from django.utils import timezone

from costs.models import (
    BackendDay,
    ChargebackPeriod,
    CostCenter,
    LateArrival,
    Statement,
    StatementLine,
    StatementLineKind,
)
from costs.selectors import Period, ShowbackLine, ShowbackReport, showback
from costs.services.allocation import allocation_lock, allocation_refresh, utc_today
from pilots.models import Backend
from portal.audit import Actor, acting_user, record_change
from portal.roles import Role

__all__ = [
    "ChargebackError",
    "DiffRow",
    "DraftLine",
    "PeriodConflict",
    "closed_periods",
    "day_is_closed",
    "draft_statements",
    "month_drafts",
    "months_with_data",
    "period_check_late",
    "period_close",
    "period_record_late_arrival",
    "period_restate",
    "period_status",
    "statement_diff",
    "statement_hash",
]

_ZERO = Decimal(0)
_UNIT = Decimal(1).scaleb(-12)
_reopened: ContextVar[bool] = ContextVar("costs_chargeback_reopened", default=False)


class ChargebackError(ValidationError):
    """A chargeback rule refused the request (a 400 on the API)."""


class PeriodConflict(ChargebackError):
    """The month's state forbids it now: already closed, being closed, not
    closed yet (a 409 on the API)."""


# --- the allocation hook ---------------------------------------------------------


def day_is_closed(day: dt.date) -> bool:
    """Whether ``day`` lies in a closed month (the allocation service skips
    it), unless this context is the close or restatement of that month."""
    if _reopened.get():
        return False
    return ChargebackPeriod.objects.filter(
        period=f"{day:%Y-%m}", status=ChargebackPeriod.Status.CLOSED
    ).exists()


def closed_periods(start: dt.date, end: dt.date) -> frozenset[str]:
    """The closed months (``YYYY-MM``) among days ``start``..``end`` (the
    allocation service skips their days), none in the close or restatement
    of a month. One query."""
    if _reopened.get():
        return frozenset()
    months = []
    month = Period(start.year, start.month)
    while month.start <= end:
        months.append(str(month))
        month = month.shift(1)
    return frozenset(
        ChargebackPeriod.objects.filter(
            period__in=months, status=ChargebackPeriod.Status.CLOSED
        ).values_list("period", flat=True)
    )


@contextlib.contextmanager
def _reopen() -> Iterator[None]:
    token = _reopened.set(True)
    try:
        yield
    finally:
        _reopened.reset(token)


class _EveryCostCenter:
    """The showback selector's reader for a close: sees every cost center
    (as finance does), so no line is folded into ``other``."""

    is_authenticated = True
    is_superuser = False
    _pilotgate_roles = frozenset({Role.FINANCE})


_READER = _EveryCostCenter()


# --- statements from a showback report --------------------------------------------


@dataclass(frozen=True)
class DraftLine:
    backend: str
    backend_kind: str
    kind: str
    basis: str
    quantity: Decimal | None
    amount: Decimal
    other_cost_center: str = ""

    @property
    def unit_cost(self) -> Decimal | None:
        """Amount per basis unit (per token or request), None without a quantity."""
        if not self.quantity:
            return None
        return (self.amount / self.quantity).quantize(_UNIT, rounding=ROUND_HALF_EVEN)

    @property
    def charged(self) -> bool:
        return self.kind != StatementLineKind.SHADOW_MEMO

    def key(self) -> tuple[str, str, str]:
        return (self.backend, self.kind, self.other_cost_center)


_KIND_ORDER = {kind: index for index, kind in enumerate(StatementLineKind.values)}


def draft_statements(
    report: ShowbackReport, *, platform_code: str | None, backend_kinds: dict[str, str]
) -> dict[str, list[DraftLine]]:
    """{cost center code: its lines} for a month's showback report read
    with every cost center visible. Raises ChargebackError when lines must
    go to the platform's cost center and there is none."""
    out: dict[str, list[DraftLine]] = defaultdict(list)

    def platform() -> str:
        if platform_code is None:
            raise ChargebackError(
                "Idle, unmapped or shadow cost must be charged to the platform's cost "
                "center, and no cost center is marked as the platform's: mark one first."
            )
        return platform_code

    for line in report.lines:
        kind = backend_kinds.get(line.backend, "")

        def draft(
            kind_: str, other: str = "", line: ShowbackLine = line, kind: str = kind
        ) -> DraftLine:
            return DraftLine(
                backend=line.backend,
                backend_kind=kind,
                kind=kind_,
                basis=line.basis,
                quantity=line.quantity,
                amount=line.amount,
                other_cost_center=other,
            )

        if line.kind == "usage" and line.cost_center:
            out[line.cost_center].append(draft("usage"))
        elif line.kind == "idle":
            out[line.cost_center or platform()].append(draft("idle"))
        elif line.kind == "unmapped":
            out[platform()].append(draft("unmapped"))
        elif line.kind == "shadow" and line.cost_center:
            team = line.cost_center
            out[platform()].append(draft("shadow", team))
            out[team].append(draft("shadow_memo", platform()))
        else:  # "other" cannot happen for a reader who sees everything
            raise ChargebackError(f"Unexpected showback line {line.kind!r} on {line.backend}.")
    charged = sum((d.amount for lines in out.values() for d in lines if d.charged), _ZERO)
    if charged != report.total:
        # The whole point of a close; refuse rather than book a wrong month.
        raise ChargebackError(
            f"Statements would add up to {charged}, not the showback total {report.total}."
        )
    for lines in out.values():
        lines.sort(key=lambda d: (d.backend, _KIND_ORDER[d.kind], d.other_cost_center))
    return dict(out)


def _amount(value: Decimal | None) -> str | None:
    # Without trailing zeros: the computed 30000 and the stored 30000.000000
    # are one value and hash alike.
    return None if value is None else format(value.normalize(), "f")


def statement_hash(
    *,
    cost_center: str,
    period: str,
    version: int,
    currency: str,
    total: Decimal,
    lines: list[DraftLine] | list[StatementLine],
) -> str:
    """SHA-256 of a statement's canonical content (hex)."""
    content = {
        "cost_center": cost_center,
        "period": period,
        "version": version,
        "currency": currency,
        "total": _amount(total),
        "lines": [
            [
                line.backend,
                line.backend_kind,
                line.kind,
                line.basis,
                _amount(line.quantity),
                _amount(line.unit_cost),
                _amount(line.amount),
                line.other_cost_center,
            ]
            for line in lines
        ],
    }
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _freeze(
    *,
    row: ChargebackPeriod,
    drafts: dict[str, list[DraftLine]],
    version: int,
    replaces: dict[int, Statement],
    actor: Actor,
    reason: str,
) -> list[Statement]:
    """Write version ``version`` of the month's statements: one per cost
    center with lines, per active cost center, and per statement replaced."""
    centers = {c.code: c for c in CostCenter.objects.all()}
    codes = {c.pk: code for code, c in centers.items()}
    wanted = set(drafts) | {c.code for c in centers.values() if c.is_active}
    wanted |= {codes[s.cost_center_id] for s in replaces.values()}
    replaced = {codes[s.cost_center_id]: s for s in replaces.values()}
    now = timezone.now()
    user = acting_user(actor)
    currency = settings.PILOTGATE_CURRENCY
    statements: list[Statement] = []
    lines_out: list[StatementLine] = []
    for code in sorted(wanted):
        center = centers[code]
        lines = drafts.get(code, [])
        total = sum((d.amount for d in lines if d.charged), _ZERO)
        statement = Statement(
            period=row,
            cost_center=center,
            cost_center_code=center.code,
            cost_center_name=center.name,
            number=f"{row.period}-{center.code}-v{version}",
            version=version,
            replaces=replaced.get(code),
            currency=currency,
            total=total,
            content_hash=statement_hash(
                cost_center=center.code,
                period=row.period,
                version=version,
                currency=currency,
                total=total,
                lines=lines,
            ),
            reason=reason,
            closed_at=now,
            closed_by=user,
            closed_by_name=user.get_username() if user else "system",
        )
        statements.append(statement)
    Statement.objects.bulk_create(statements)
    for statement in statements:
        for position, d in enumerate(drafts.get(statement.cost_center_code, []), start=1):
            lines_out.append(
                StatementLine(
                    statement=statement,
                    position=position,
                    backend=d.backend,
                    backend_kind=d.backend_kind,
                    kind=d.kind,
                    basis=d.basis,
                    quantity=d.quantity,
                    unit_cost=d.unit_cost,
                    amount=d.amount,
                    other_cost_center=d.other_cost_center,
                )
            )
    StatementLine.objects.bulk_create(lines_out, batch_size=5000)
    return statements


def month_drafts(
    period: Period, *, report: ShowbackReport | None = None
) -> tuple[ShowbackReport, dict[str, list[DraftLine]]]:
    """The month's showback read by someone who sees every cost center,
    and its statements' lines. ``report``: that showback when the caller
    has it already (a finance or admin page), to read it once."""
    if report is None:
        report = showback(period=period, user=_READER)
    platform_code = (
        CostCenter.objects.filter(is_platform=True).values_list("code", flat=True).first()
    )
    kinds = dict(Backend.objects.values_list("slug", "kind"))
    return report, draft_statements(report, platform_code=platform_code, backend_kinds=kinds)


def _hold_allocation() -> None:
    """Take every backend's allocation lock until the close (or
    restatement) commits: a refresh running now finishes first, and one
    starting meanwhile waits, then sees the month closed and leaves its
    days alone (it re-reads the month's status under the same lock)."""
    allocation_lock(list(Backend.objects.values_list("pk", flat=True)))


def _refresh_month(period: Period) -> None:
    with _reopen():
        allocation_refresh(backend_ids=None, start=period.start, end=period.end)


# --- months ------------------------------------------------------------------------


def months_with_data() -> list[Period]:
    """Every month with stored daily rows or a chargeback period, oldest first."""
    months = {
        Period(row.year, row.month)
        for row in BackendDay.objects.annotate(month=TruncMonth("day"))
        .order_by()
        .values_list("month", flat=True)
        .distinct()
    }
    months |= {Period.parse(p) for p in ChargebackPeriod.objects.values_list("period", flat=True)}
    return sorted(months)


def period_status(period: Period) -> str:
    """``closed`` or ``open`` (for showback's ``status``: a closed month's
    showback shows the frozen figures and says so). One query."""
    closed = ChargebackPeriod.objects.filter(
        period=str(period), status=ChargebackPeriod.Status.CLOSED
    ).exists()
    return "closed" if closed else "open"


def _snapshot(row: ChargebackPeriod) -> dict[str, Any]:
    return {
        "status": row.status,
        "version": row.version,
        "showback_total": format(row.showback_total, "f"),
        "closed_at": None if row.closed_at is None else row.closed_at.isoformat(),
    }


def _locked_period(period: Period) -> ChargebackPeriod:
    """The month's row, created if need be, locked until the transaction
    ends. Two closes (or a close and a restatement) of one month at once:
    the second waits here for the first to commit, then sees its result."""
    row, _ = ChargebackPeriod.objects.get_or_create(period=str(period))
    return ChargebackPeriod.objects.select_for_update().get(pk=row.pk)


def period_close(*, period: Period, actor: Actor, refresh: bool = True) -> ChargebackPeriod:
    """Close ``period``: run the allocation for the month once more
    (``refresh``; the benchmark freezes stored rows as they are), then
    freeze version 1 of one statement per cost center. Refused (409) when
    the month is closed already or being closed; refused when it has not
    ended or an earlier month with data is still open."""
    if period.end >= utc_today():
        raise ChargebackError(f"{period} has not ended yet: a month closes from the 1st after it.")
    with transaction.atomic():
        row = _locked_period(period)
        if row.is_closed:
            raise PeriodConflict(f"{period} is already closed (version {row.version}).")
        closed = set(
            ChargebackPeriod.objects.filter(status=ChargebackPeriod.Status.CLOSED).values_list(
                "period", flat=True
            )
        )
        earlier = [p for p in months_with_data() if p < period and str(p) not in closed]
        if earlier:
            raise ChargebackError(f"Months close in order: close {earlier[0]} before {period}.")
        before = _snapshot(row)
        _hold_allocation()
        if refresh:
            _refresh_month(period)
        report, drafts = month_drafts(period)
        if not report.backends:
            raise ChargebackError(f"{period} has no cost to close.")
        _freeze(row=row, drafts=drafts, version=1, replaces={}, actor=actor, reason="")
        row.status = ChargebackPeriod.Status.CLOSED
        row.version = 1
        row.showback_total = report.total
        row.closed_at = timezone.now()
        row.closed_by = acting_user(actor)
        row.late_arrivals = 0
        row.late_effect = {}
        row.late_total = _ZERO
        row.late_checked_at = None
        row.full_clean()
        row.save()
        record_change(
            actor=actor,
            instance=row,
            action="update",
            before=before,
            after=_snapshot(row),
            scope="chargeback",
            message=f"closed {period}",
        )
    return row


def period_restate(*, period: Period, actor: Actor, reason: str) -> ChargebackPeriod:
    """Recompute a closed month with today's data and models and write
    version n+1 of every statement, each replacing version n (which stays
    readable)."""
    reason = (reason or "").strip()
    if not reason:
        raise ChargebackError({"reason": ["Say why the month is restated."]})
    with transaction.atomic():
        row = _locked_period(period)
        if not row.is_closed:
            raise PeriodConflict(f"{period} is not closed: close it before restating it.")
        before = _snapshot(row)
        _hold_allocation()
        _refresh_month(period)
        report, drafts = month_drafts(period)
        latest = {s.pk: s for s in Statement.objects.filter(period=row, version=row.version)}
        version = row.version + 1
        _freeze(
            row=row, drafts=drafts, version=version, replaces=latest, actor=actor, reason=reason
        )
        row.version = version
        row.showback_total = report.total
        row.late_arrivals = 0
        row.late_effect = {}
        row.late_total = _ZERO
        row.late_checked_at = None
        row.save()
        LateArrival.objects.filter(period=row).delete()
        record_change(
            actor=actor,
            instance=row,
            action="update",
            before=before,
            after=_snapshot(row),
            scope="chargeback",
            message=f"restated {period} as version {version}: {reason}"[:500],
        )
    return row


# --- late data ---------------------------------------------------------------------


class _Discard(Exception):
    """Rolls the what-if refresh back (computed, not booked)."""

    def __init__(self, drafts: dict[str, list[DraftLine]]) -> None:
        self.drafts = drafts


def period_check_late(*, period: Period) -> ChargebackPeriod | None:
    """What a restatement would change today, per cost center total:
    computed by running the allocation for the month in a transaction
    that is rolled back, so nothing is booked. Stored on the period."""
    row = ChargebackPeriod.objects.filter(
        period=str(period), status=ChargebackPeriod.Status.CLOSED
    ).first()
    if row is None:
        return None
    try:
        with transaction.atomic():
            _refresh_month(period)
            _, drafts = month_drafts(period)
            raise _Discard(drafts)
    except _Discard as discarded:
        drafts = discarded.drafts
    frozen = dict(
        Statement.objects.filter(period=row, version=row.version).values_list(
            "cost_center_code", "total"
        )
    )
    effect: dict[str, str] = {}
    for code in sorted(set(frozen) | set(drafts)):
        new = sum((d.amount for d in drafts.get(code, []) if d.charged), _ZERO)
        change = new - frozen.get(code, _ZERO)
        if change:
            effect[code] = format(change, "f")
    total = sum((Decimal(v) for v in effect.values()), _ZERO)
    ChargebackPeriod.objects.filter(pk=row.pk).update(
        late_effect=effect, late_total=total, late_checked_at=timezone.now()
    )
    row.refresh_from_db()
    return row


def period_record_late_arrival(
    *, day_from: dt.date, day_to: dt.date, source: str, reference: str, backend_id: int | None
) -> list[ChargebackPeriod]:
    """Count data for days ``day_from``..``day_to`` arriving after their
    month closed (once per reference). Returns the closed periods touched."""
    periods = []
    month = Period(day_from.year, day_from.month)
    while month.start <= day_to:
        periods.append(str(month))
        month = month.shift(1)
    touched = list(
        ChargebackPeriod.objects.filter(period__in=periods, status=ChargebackPeriod.Status.CLOSED)
    )
    for row in touched:
        _, created = LateArrival.objects.get_or_create(
            period=row, source=source, reference=reference, defaults={"backend_id": backend_id}
        )
        if created:
            ChargebackPeriod.objects.filter(pk=row.pk).update(
                late_arrivals=LateArrival.objects.filter(period=row).count()
            )
    return touched


@dataclass(frozen=True)
class DiffRow:
    """One line of a restatement diff: matched by backend, kind and the other
    cost center; an amount is None where the line is absent on that side."""

    backend: str
    kind: str
    other_cost_center: str
    old_amount: Decimal | None
    new_amount: Decimal | None
    old_quantity: Decimal | None
    new_quantity: Decimal | None

    @property
    def change(self) -> Decimal:
        return (self.new_amount or _ZERO) - (self.old_amount or _ZERO)

    @property
    def status(self) -> str:
        if self.old_amount is None:
            return "added"
        if self.new_amount is None:
            return "removed"
        if self.change or self.old_quantity != self.new_quantity:
            return "changed"
        return "same"


def statement_diff(old: list[StatementLine], new: list[StatementLine]) -> list[DiffRow]:
    """Line-by-line difference between two versions of a statement."""
    before = {(line.backend, line.kind, line.other_cost_center): line for line in old}
    after = {(line.backend, line.kind, line.other_cost_center): line for line in new}
    rows = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], _KIND_ORDER[k[1]], k[2])):
        a, b = before.get(key), after.get(key)
        rows.append(
            DiffRow(
                backend=key[0],
                kind=key[1],
                other_cost_center=key[2],
                old_amount=None if a is None else a.amount,
                new_amount=None if b is None else b.amount,
                old_quantity=None if a is None else a.quantity,
                new_quantity=None if b is None else b.quantity,
            )
        )
    return rows
