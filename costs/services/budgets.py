"""Budgets (issue 10, §4): a cost center's monthly budget, its
month-to-date spend and straight-line forecast, and the alerts.

Spend is what the cost center would be charged if the month closed now:
the showback month (``costs.selectors.showback``) split into statements by
``costs.services.chargeback.draft_statements``, so a budget reads the
same figures a close would book; a closed month reads its frozen
statements. Until a cost center is marked as the platform's, a close
would refuse the month (idle, unmapped and shadow cost have nobody to
go to): budgets then read each cost center's own lines of that showback
(its usage, and idle it carries), which is what it would be charged.
The forecast is spend × days in the month / days elapsed.

Thresholds are percents of the budget: spend and forecast are compared
with the exact amounts (80 % of 100.03 is 80.024, which 80.02 has not
reached); the cent figures are for display.

Alerts: when spend or forecast reaches a threshold, the owner and finance
get one email per cost center, month and threshold. The once-only rule is
``portal.notifications.notify``'s guarded insert keyed by
``budget:<cost center id>:<YYYY-MM>:<soft|hard>``: two workers checking at
once (the beat job and a refresh) insert one row between them, never two.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from costs.models import AllocationKind, Budget, ChargebackPeriod, CostCenter, Statement
from costs.selectors import CENT, Period, ShowbackReport, showback
from costs.services.allocation import utc_today
from costs.services.chargeback import _READER as EVERY_COST_CENTER
from costs.services.chargeback import ChargebackError, month_drafts
from portal.audit import Actor, record_change
from portal.notifications import notify
from portal.roles import Role

__all__ = [
    "BudgetStatus",
    "budget_delete",
    "budget_set",
    "budget_statuses",
    "budgets_check",
    "budgets_check_after_refresh",
]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class BudgetStatus:
    """One cost center's month against its budget (None without a budget)."""

    cost_center: str
    cost_center_name: str
    period: str
    budget: Decimal | None
    soft_percent: int | None
    hard_percent: int | None
    # Exact (budget × percent / 100, not rounded): what spend and the
    # forecast are compared with.
    soft_threshold: Decimal | None
    hard_threshold: Decimal | None
    spend: Decimal
    # Exact too; ``forecast`` is its cent figure.
    projected: Decimal
    days_elapsed: int
    days_in_month: int
    closed: bool

    @property
    def soft_amount(self) -> Decimal | None:
        """The soft threshold to the cent (display only)."""
        return None if self.soft_threshold is None else _cent(self.soft_threshold)

    @property
    def hard_amount(self) -> Decimal | None:
        """The hard threshold to the cent (display only)."""
        return None if self.hard_threshold is None else _cent(self.hard_threshold)

    @property
    def forecast(self) -> Decimal:
        """The straight-line forecast to the cent (never below spend)."""
        return _cent(self.projected)

    def reached(self, threshold: Decimal | None) -> bool:
        """Whether spend or the exact forecast has reached ``threshold``."""
        return threshold is not None and max(self.spend, self.projected) >= threshold

    @property
    def state(self) -> str:
        """``ok``, ``soft`` or ``hard``: the highest threshold reached by spend or forecast."""
        if self.reached(self.hard_threshold):
            return "hard"
        if self.reached(self.soft_threshold):
            return "soft"
        return "ok"

    @property
    def used_percent(self) -> Decimal | None:
        if not self.budget:
            return None
        return (self.spend * _HUNDRED / self.budget).quantize(Decimal("0.1"))


def _snapshot(budget: Budget) -> dict[str, Any]:
    return {
        "monthly_amount": format(budget.monthly_amount, "f"),
        "soft_percent": budget.soft_percent,
        "hard_percent": budget.hard_percent,
    }


def budget_set(
    *,
    cost_center: CostCenter,
    monthly_amount: Decimal,
    soft_percent: int,
    hard_percent: int,
    actor: Actor,
) -> Budget:
    """Create or change the cost center's budget (errors name the field)."""
    with transaction.atomic():
        budget = Budget.objects.select_for_update().filter(cost_center=cost_center).first()
        created = budget is None
        if budget is None:
            budget = Budget(cost_center=cost_center)
            before: dict[str, Any] = {}
        else:
            before = _snapshot(budget)
        budget.monthly_amount = monthly_amount
        budget.soft_percent = soft_percent
        budget.hard_percent = hard_percent
        if soft_percent is not None and hard_percent is not None and soft_percent > hard_percent:
            raise ValidationError(
                {"soft_percent": ["The soft threshold cannot exceed the hard one."]}
            )
        budget.full_clean()
        budget.save()
        record_change(
            actor=actor,
            instance=budget,
            action="create" if created else "update",
            before=before,
            after=_snapshot(budget),
            scope=budget.audit_scope(),
        )
    return budget


def budget_delete(*, cost_center: CostCenter, actor: Actor) -> None:
    with transaction.atomic():
        budget = Budget.objects.select_for_update().filter(cost_center=cost_center).first()
        if budget is None:
            return
        record_change(
            actor=actor,
            instance=budget,
            action="delete",
            before=_snapshot(budget),
            scope=budget.audit_scope(),
        )
        budget.delete()


def _cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _own_lines(report: ShowbackReport) -> dict[str, Decimal]:
    """{cost center code: its own lines} of a month nobody can close yet
    (no platform cost center): the lines ``draft_statements`` gives to the
    cost center they name, usage and idle; the idle, unmapped and shadow
    cost that would be the platform's is nobody's yet."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for line in report.lines:
        if line.cost_center and line.kind in (AllocationKind.USAGE, AllocationKind.IDLE):
            out[line.cost_center] += line.amount
    return dict(out)


def _month_spend(period: Period, report: ShowbackReport | None) -> tuple[dict[str, Decimal], bool]:
    """{cost center code: charged total} of the month, and whether it is closed."""
    row = ChargebackPeriod.objects.filter(
        period=str(period), status=ChargebackPeriod.Status.CLOSED
    ).first()
    if row is not None:
        frozen = Statement.objects.filter(period=row, version=row.version)
        return dict(frozen.values_list("cost_center_code", "total")), True
    if report is None:
        report = showback(period=period, user=EVERY_COST_CENTER)
    try:
        _, drafts = month_drafts(period, report=report)
    except ChargebackError:
        return _own_lines(report), False
    return {
        code: sum((d.amount for d in lines if d.charged), _ZERO) for code, lines in drafts.items()
    }, False


def budget_statuses(
    *,
    period: Period,
    cost_centers: list[CostCenter],
    today: dt.date | None = None,
    report: ShowbackReport | None = None,
) -> list[BudgetStatus]:
    """Spend, forecast and thresholds of ``cost_centers`` for ``period``.
    ``report``: the month's showback as someone who sees every cost center
    reads it, when the caller has it (saves reading it twice). Seven
    queries (four with ``report``, three for a closed month) whatever the
    number of cost centers."""
    today = today or utc_today()
    if period.end < today:
        elapsed = period.end.day
    elif period.start > today:
        elapsed = 0
    else:
        elapsed = today.day
    days = period.end.day
    spend, closed = _month_spend(period, report)
    budgets = {b.cost_center_id: b for b in Budget.objects.filter(cost_center__in=cost_centers)}
    out = []
    for center in cost_centers:
        budget = budgets.get(center.pk)
        spent = spend.get(center.code, _ZERO)
        projected = spent * days / elapsed if elapsed else _ZERO
        out.append(
            BudgetStatus(
                cost_center=center.code,
                cost_center_name=center.name,
                period=str(period),
                budget=None if budget is None else budget.monthly_amount,
                soft_percent=None if budget is None else budget.soft_percent,
                hard_percent=None if budget is None else budget.hard_percent,
                soft_threshold=None
                if budget is None
                else budget.monthly_amount * budget.soft_percent / _HUNDRED,
                hard_threshold=None
                if budget is None
                else budget.monthly_amount * budget.hard_percent / _HUNDRED,
                spend=spent,
                projected=max(projected, spent),
                days_elapsed=elapsed,
                days_in_month=days,
                closed=closed,
            )
        )
    return out


def budgets_check(*, period: Period | None = None, today: dt.date | None = None) -> int:
    """Notify each budgeted cost center's owner and finance of every
    threshold its spend or forecast has reached this month. Returns the
    number of notifications newly owed (0 when all were sent before)."""
    today = today or utc_today()
    period = period or Period(today.year, today.month)
    centers = list(
        CostCenter.objects.filter(budget__isnull=False).select_related("owner", "budget")
    )
    if not centers:
        return 0
    finance = list(User.objects.filter(groups__name=Role.FINANCE, is_active=True))
    sent = 0
    for status in budget_statuses(period=period, cost_centers=centers, today=today):
        center = next(c for c in centers if c.code == status.cost_center)
        for name, threshold, amount in (
            ("soft", status.soft_threshold, status.soft_amount),
            ("hard", status.hard_threshold, status.hard_amount),
        ):
            if threshold is None or not status.reached(threshold):
                continue
            by = "spend" if status.spend >= threshold else "forecast"
            with transaction.atomic():
                created = notify(
                    key=f"budget:{center.pk}:{period}:{name}",
                    kind="budget",
                    recipients=[center.owner, *finance],
                    template="budget_threshold",
                    context={
                        "status": status,
                        "threshold": name,
                        "threshold_amount": amount,
                        "by": by,
                        "currency": settings.PILOTGATE_CURRENCY,
                    },
                )
            sent += created is not None
    return sent


def budgets_check_after_refresh(*, start: dt.date, end: dt.date) -> int:
    """Called by each allocation refresh: check the budgets when the
    refreshed days touch the current month (a past month's spend is
    final; its alerts went out while it ran)."""
    today = utc_today()
    if end < today.replace(day=1) or start > today:
        return 0
    return budgets_check(today=today)
