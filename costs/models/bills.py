"""FOCUS bills (issue 10 §2): the import job of one bill file, its rows,
and the mapping rules that assign rows to backends.

Rows are facts from the provider and never edited by hand; only their
``backend`` changes, when the mapping rules do (``costs.services.bills``).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from costs.focus import CHARGE_CATEGORIES, MAPPABLE_COLUMNS
from metrics.models import ImportStatus

__all__ = ["BillImport", "BillMapping", "BillRow"]

# Bill money (``max_digits=28, decimal_places=15``): 13 integer digits and
# the 15 decimals real FOCUS files carry (costs.focus.MONEY_PLACES).


class BillImport(models.Model):
    """One FOCUS CSV file (upload, API or command) imported by one Celery
    task, as the metrics ``ImportJob``: claimed by a guarded update (so
    running the task twice is harmless), imported in one transaction (a
    failed job leaves no rows), with counts and line-numbered rejects.

    ``rejected`` counts every refused row, ``currency_refused`` those of
    them refused for a billing currency other than the reporting one;
    ``duplicates`` the rows already stored by an earlier import (same row
    hash). The cost totals are those of the rows the file holds (accepted,
    stored or duplicate), in the reporting currency."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        API = "api", "API"
        CLI = "cli", "Command line"

    Status = ImportStatus

    MAX_REJECTS = 1000

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    file_path = models.CharField(max_length=500, help_text="Relative to MEDIA_ROOT.")
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, help_text="The reporting currency of the import.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    focus_version = models.CharField(max_length=5, blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_stored = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    currency_refused = models.BigIntegerField(default=0)
    unmatched_count = models.BigIntegerField(
        default=0, help_text="Stored rows no bill mapping assigned to a backend."
    )
    # [{"line": n, "reason": "..."}], the first MAX_REJECTS; ``rejected`` is the total.
    rejects = models.JSONField(default=list, blank=True)
    # Mandatory FOCUS columns the file lacks (read as null).
    missing_columns = models.JSONField(default=list, blank=True)
    billed_cost = models.DecimalField(max_digits=28, decimal_places=15, default=0)
    effective_cost = models.DecimalField(max_digits=28, decimal_places=15, default=0)
    list_cost = models.DecimalField(max_digits=28, decimal_places=15, default=0)
    error = models.TextField(blank=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "claimed_at"], name="costs_bill_status_claim_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values),
                name="costs_billimport_status_valid",
                violation_error_message="Unknown bill import status.",
            ),
            models.CheckConstraint(
                condition=Q(period_end__isnull=True) | Q(period_end__gte=models.F("period_start")),
                name="costs_billimport_period_ordered",
                violation_error_message="The charge periods cannot end before they start.",
            ),
        ]

    def __str__(self) -> str:
        return f"Bill import #{self.pk} ({self.original_filename or self.source}, {self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED)


class BillRow(models.Model):
    """One FOCUS row, as the provider billed it, in the reporting currency.

    EffectiveCost is what the row costs after discounts and amortization
    (the ``billed`` cost-model kind spreads it, ``costs.billing``); a
    commitment purchase has EffectiveCost 0, because the provider amortizes
    it into the usage rows. BilledCost (invoiced) and ListCost (public
    price) are kept beside it. ``row_hash`` (``costs.focus``) makes
    re-importing a file store nothing new: the database refuses a second
    row with the same hash. ``backend`` is assigned by the bill mappings
    (null: no rule matches) and re-assigned when they change."""

    job = models.ForeignKey(BillImport, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="Line of the row in its file.")
    row_hash = models.CharField(max_length=64)
    backend = models.ForeignKey(
        "pilots.Backend",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bill_rows",
    )
    billed_cost = models.DecimalField(max_digits=28, decimal_places=15)
    effective_cost = models.DecimalField(max_digits=28, decimal_places=15)
    list_cost = models.DecimalField(max_digits=28, decimal_places=15, null=True, blank=True)
    contracted_cost = models.DecimalField(max_digits=28, decimal_places=15, null=True, blank=True)
    currency = models.CharField(max_length=3)
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    billing_period_start = models.DateTimeField()
    billing_period_end = models.DateTimeField()
    charge_category = models.CharField(
        max_length=20, choices=[(value, value) for value in CHARGE_CATEGORIES]
    )
    charge_frequency = models.CharField(max_length=20, blank=True)
    charge_description = models.TextField(blank=True)
    billing_account_id = models.CharField(max_length=200, blank=True)
    resource_id = models.TextField(blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    service_category = models.CharField(max_length=100, blank=True)
    sku_id = models.CharField(max_length=200, blank=True)
    provider_name = models.CharField(max_length=200, blank=True)
    pricing_quantity = models.DecimalField(max_digits=28, decimal_places=15, null=True, blank=True)
    pricing_unit = models.CharField(max_length=100, blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["charge_period_start", "id"]
        indexes = [
            models.Index(
                fields=["backend", "charge_period_start"], name="costs_billrow_backend_idx"
            ),
            models.Index(fields=["billing_period_start"], name="costs_billrow_period_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["row_hash"],
                name="costs_billrow_hash_unique",
                violation_error_message="This bill row has already been imported.",
            ),
            models.CheckConstraint(
                condition=Q(charge_period_end__gte=models.F("charge_period_start")),
                name="costs_billrow_charge_period_ordered",
                violation_error_message="A charge period cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(charge_category__in=CHARGE_CATEGORIES),
                name="costs_billrow_charge_category_valid",
                violation_error_message="Unknown FOCUS ChargeCategory.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_name or 'bill'} {self.service_name} line {self.line}"


class BillMapping(models.Model):
    """A rule assigning bill rows to a backend: the row's ``column`` (a tag
    of ``Tags`` when column is Tags) must match ``pattern`` in full (a
    regular expression). Rules are tried by ``order``, lowest first; the
    first that matches wins. A row no rule matches stays unassigned and is
    listed as unmatched, never dropped."""

    class Column(models.TextChoices):
        RESOURCE_ID = "ResourceId", "ResourceId"
        SERVICE_NAME = "ServiceName", "ServiceName"
        SKU_ID = "SkuId", "SkuId"
        PROVIDER_NAME = "ProviderName", "ProviderName"
        TAGS = "Tags", "Tags (one key)"

    backend = models.ForeignKey(
        "pilots.Backend", on_delete=models.PROTECT, related_name="bill_mappings"
    )
    column = models.CharField(max_length=20, choices=Column.choices)
    tag_key = models.CharField(
        max_length=200, blank=True, help_text="The tag to match when column is Tags."
    )
    pattern = models.CharField(
        max_length=500, help_text="A regular expression the whole value must match."
    )
    order = models.PositiveIntegerField(help_text="Lower orders are tried first.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                name="costs_billmapping_order_unique",
                violation_error_message="Another bill mapping has this order; orders decide "
                "which rule wins, so each is used once.",
            ),
            models.CheckConstraint(
                condition=Q(column__in=MAPPABLE_COLUMNS),
                name="costs_billmapping_column_valid",
                violation_error_message="Unknown bill column.",
            ),
            models.CheckConstraint(
                condition=(Q(column="Tags") & ~Q(tag_key="")) | (~Q(column="Tags") & Q(tag_key="")),
                name="costs_billmapping_tag_key_iff_tags",
                violation_error_message="A tag key is given with column Tags, and only then.",
            ),
        ]

    def __str__(self) -> str:
        target = f"Tags[{self.tag_key}]" if self.column == self.Column.TAGS else self.column
        return f"#{self.order}: {target} ~ {self.pattern} → {self.backend_id}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.column == self.Column.TAGS and not self.tag_key.strip():
            errors["tag_key"] = "Give the tag key to match when the column is Tags."
        if self.column != self.Column.TAGS and self.tag_key:
            errors["tag_key"] = "A tag key is only used with the column Tags."
        try:
            re.compile(self.pattern)
        except re.error as exc:
            errors["pattern"] = f"Not a valid regular expression: {exc}."
        if errors:
            raise ValidationError(errors)
