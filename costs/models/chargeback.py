"""Chargeback models (issue 10, §1 and §4): closed months, their frozen
statements, late data seen since the close, and budgets.

A statement is written once, by ``costs.services.chargeback``, and never
edited: a restatement writes version n+1 of every statement of the month,
each pointing at the one it replaces. Lines keep the backend's slug and
kind as text, so renaming a backend later changes no closed statement.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from costs.models.showback import CostCenter

__all__ = [
    "Budget",
    "ChargebackPeriod",
    "LateArrival",
    "Statement",
    "StatementLine",
    "StatementLineKind",
]


class ChargebackPeriod(models.Model):
    """One calendar month that has been closed (an open month has no row
    until its first close). ``version`` is the version of its latest
    statements; ``late`` holds what a restatement would change today
    (computed, never booked), refreshed by ``period_check_late``."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    period = models.CharField(max_length=7, unique=True, help_text="YYYY-MM")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    version = models.PositiveIntegerField(default=0)
    showback_total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal(0))
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    late_arrivals = models.PositiveIntegerField(
        default=0, help_text="Imports of data for this month since it was closed."
    )
    late_effect = models.JSONField(
        default=dict, blank=True, help_text="{cost center code: change of its total} if restated."
    )
    late_total = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal(0))
    late_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period__regex=r"^\d{4}-(0[1-9]|1[0-2])$"),
                name="costs_chargebackperiod_period_format",
                violation_error_message="A period is a month: YYYY-MM.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "closed"]),
                name="costs_chargebackperiod_status_valid",
                violation_error_message="A period is open or closed.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} ({self.status}, v{self.version})"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class Statement(models.Model):
    """One cost center's frozen bill for one month and version. ``total``
    is the sum of its charged lines (memo lines are shown, not charged);
    ``content_hash`` is a SHA-256 of its canonical content (cost center,
    period, version, currency, lines, total), so any later change to a row
    would show."""

    period = models.ForeignKey(
        ChargebackPeriod, on_delete=models.PROTECT, related_name="statements"
    )
    cost_center = models.ForeignKey(CostCenter, on_delete=models.PROTECT, related_name="+")
    # Frozen text: the code and name as they were at the close.
    cost_center_code = models.CharField(max_length=40)
    cost_center_name = models.CharField(max_length=120)
    number = models.CharField(max_length=80, unique=True)
    version = models.PositiveIntegerField()
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=20, decimal_places=2)
    content_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=500, blank=True, help_text="Why it was restated.")
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["period__period", "cost_center_code", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "cost_center", "version"],
                name="costs_statement_unique_version",
                violation_error_message="This cost center already has this version for the month.",
            ),
        ]
        indexes = [models.Index(fields=["period", "version"], name="costs_statement_version_idx")]

    def __str__(self) -> str:
        return self.number


class StatementLineKind(models.TextChoices):
    USAGE = "usage", "Usage"
    IDLE = "idle", "Idle"
    UNMAPPED = "unmapped", "Unmapped (charged to the platform)"
    SHADOW = "shadow", "Shadow traffic (charged to the platform)"
    SHADOW_MEMO = "shadow_memo", "Shadow traffic, charged to the platform (not in this total)"


class StatementLine(models.Model):
    """One line of a statement: a backend, a kind, the allocation basis and
    its quantity, the unit cost (amount / quantity) and the amount.
    ``other_cost_center`` names the team of a platform shadow line, or the
    platform on a team's memo line."""

    Kind = StatementLineKind

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    backend = models.CharField(max_length=100)
    backend_kind = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    basis = models.CharField(max_length=20, blank=True)
    quantity = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    unit_cost = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=2)
    other_cost_center = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["statement_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "position"],
                name="costs_statementline_unique_position",
                violation_error_message="This statement already has a line at this position.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=StatementLineKind.values),
                name="costs_statementline_kind_valid",
                violation_error_message="Unknown statement line kind.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id} #{self.position} {self.backend} {self.kind}"

    @property
    def charged(self) -> bool:
        return self.kind != StatementLineKind.SHADOW_MEMO


class LateArrival(models.Model):
    """Data for a closed month that arrived after its close (an import whose
    window touched the month): counted on the period, never booked."""

    period = models.ForeignKey(
        ChargebackPeriod, on_delete=models.CASCADE, related_name="late_arrival_rows"
    )
    source = models.CharField(max_length=40, help_text="What arrived, e.g. metrics import.")
    reference = models.CharField(max_length=100, blank=True)
    backend_id = models.IntegerField(null=True, blank=True)
    arrived_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period_id", "arrived_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "source", "reference"],
                name="costs_latearrival_unique_reference",
                violation_error_message="This arrival is already counted.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.reference} for period {self.period_id}"


class Budget(models.Model):
    """A cost center's monthly budget and its soft and hard thresholds (in
    percent of the budget). Alerts go out once per threshold per month
    (``portal.notifications.notify`` with a key per cost center, month and
    threshold)."""

    cost_center = models.OneToOneField(CostCenter, on_delete=models.CASCADE, related_name="budget")
    monthly_amount = models.DecimalField(
        max_digits=20, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    soft_percent = models.PositiveIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    hard_percent = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cost_center__code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_amount__gt=0),
                name="costs_budget_amount_positive",
                violation_error_message="The monthly budget must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(soft_percent__lte=models.F("hard_percent")),
                name="costs_budget_soft_not_above_hard",
                violation_error_message="The soft threshold cannot exceed the hard one.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cost_center_id}: {self.monthly_amount}/month"

    def audit_scope(self) -> str:
        return f"cost_center:{self.cost_center_id}"
