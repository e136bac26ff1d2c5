"""Budgets (issue 10, §4): a cost center's monthly budget, its
month-to-date spend and straight-line forecast, and the alerts.

Spend is what the cost center would be charged if the month closed now:
the showback month (``costs.selectors.showback``) split into statements by
``costs.services.chargeback.draft_statements``, so a budget reads the
same figures a close would book; a closed month reads its frozen
statements. The forecast is spend × days in the month / days elapsed.

Alerts: when spend or forecast reaches a threshold, the owner and finance
get one email per cost center, month and threshold. The once-only rule is
``portal.notifications.notify``'s guarded insert keyed by
``budget:<cost center id>:<YYYY-MM>:<soft|hard>``: two workers checking at
once (the beat job and a refresh) insert one row between them, never two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from costs.models import Budget, ChargebackPeriod, CostCenter, Statement
from costs.selectors import CENT, Period, ShowbackReport
from costs.services.allocation import utc_today
from costs.services.chargeback import month_drafts
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
    soft_amount: Decimal | None
    hard_amount: Decimal | None
    spend: Decimal
    forecast: Decimal
    days_elapsed: int
    days_in_month: int
    closed: bool

    @property
    def state(self) -> str:
        """``ok``, ``soft`` or ``hard``: the highest threshold reached by spend or forecast."""
        worst = max(self.spend, self.forecast)
        if self.hard_amount is not None and worst >= self.hard_amount:
            return "hard"
        if self.soft_amount is not None and worst >= self.soft_amount:
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


def _month_spend(period: Period, report: ShowbackReport | None) -> tuple[dict[str, Decimal], bool]:
    """{cost center code: charged total} of the month, and whether it is closed."""
    row = ChargebackPeriod.objects.filter(
        period=str(period), status=ChargebackPeriod.Status.CLOSED
    ).first()
    if row is not None:
        frozen = Statement.objects.filter(period=row, version=row.version)
        return dict(frozen.values_list("cost_center_code", "total")), True
    _, drafts = month_drafts(period, report=report)
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
    queries (four with ``report``) whatever the number of cost centers."""
    today = today or utc_today()
    if period.end < today:
        elapsed = period.end.day
    elif period.start > today:
        elapsed = 0
    else:
        elapsed = today.day
    days = period.end.day
    try:
        spend, closed = _month_spend(period, report)
    except ValidationError:
        # No platform cost center yet: budgets read what is mapped.
        spend, closed = {}, False
    budgets = {b.cost_center_id: b for b in Budget.objects.filter(cost_center__in=cost_centers)}
    out = []
    for center in cost_centers:
        budget = budgets.get(center.pk)
        spent = spend.get(center.code, _ZERO)
        forecast = _cent(spent * days / elapsed) if elapsed else _ZERO
        out.append(
            BudgetStatus(
                cost_center=center.code,
                cost_center_name=center.name,
                period=str(period),
                budget=None if budget is None else budget.monthly_amount,
                soft_percent=None if budget is None else budget.soft_percent,
                hard_percent=None if budget is None else budget.hard_percent,
                soft_amount=None
                if budget is None
                else _cent(budget.monthly_amount * budget.soft_percent / _HUNDRED),
                hard_amount=None
                if budget is None
                else _cent(budget.monthly_amount * budget.hard_percent / _HUNDRED),
                spend=spent,
                forecast=max(forecast, spent),
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
        for name, amount in (("soft", status.soft_amount), ("hard", status.hard_amount)):
            if amount is None:
                continue
            by = "spend" if status.spend >= amount else "forecast"
            if max(status.spend, status.forecast) < amount:
                continue
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
