"""Showback models (issue 9): cost centers, effective-dated cost models per
backend, usage mappings, and the stored daily allocation.

Daily rows (``BackendDay``, ``DailyAllocation``) are written only by the
allocation service (``costs.services.allocation``), never edited: pages and
the API read them, so nothing recomputes an allocation on a page view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q

from costs.pricing import CostModelFigures

__all__ = [
    "BackendDay",
    "CostCenter",
    "CostModel",
    "DailyAllocation",
    "DayOpexSource",
    "OpexSource",
    "UsageMapping",
]

# Stored money: 12 decimal places (the issue asks for at least 10);
# quantities (counter increases): 6.


class CostCenter(models.Model):
    """Who pays: a code such as ``CC-4100``, its owner and the members who may
    see its figures. Exactly one cost center is the platform's own: it
    receives idle cost under the ``platform`` policy (and, in chargeback,
    shadow traffic). The database holds "at most one"; the services refuse
    to leave none once one exists."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_cost_centers",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="cost_centers"
    )
    is_active = models.BooleanField(default=True)
    is_platform = models.BooleanField(
        default=False, help_text="The platform's own cost center (receives idle cost)."
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_platform"],
                condition=Q(is_platform=True),
                name="costs_costcenter_one_platform",
                violation_error_message="Another cost center is already the platform's own.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class CostModelKind(models.TextChoices):
    """``CostModel.Kind``. ``billed`` (issue 10 §2): a day costs the
    EffectiveCost of the backend's mapped FOCUS bill rows (``costs.billing``),
    so it takes no price figures."""

    CLOUD_RATE = "cloud_rate", "Cloud rate (per device-hour)"
    OWNED = "owned", "Owned (capex, opex, power)"
    BILLED = "billed", "Billed (FOCUS bill rows)"


class OpexSource(models.TextChoices):
    """``CostModel.OpexSource``: where an owned model's monthly opex comes
    from (issue 12, §1). ``contract``: the fees of the contracts covering the
    backend on each day (``costs.pricing.contract_opex_monthly``); the typed
    ``opex_monthly`` then stays 0."""

    TYPED = "typed", "Typed (opex per month)"
    CONTRACT = "contract", "From contract (the covering contracts' fees)"


class DayOpexSource(models.TextChoices):
    """``BackendDay.opex_source``: what the day's opex was priced from.
    ``no_contract``: the model takes its opex from contracts and none with a
    monthly or yearly fee covered the day, so the opex is 0 and showback
    says so."""

    TYPED = "typed", "Typed opex"
    CONTRACT = "contract", "Contract fees"
    NO_CONTRACT = "no_contract", "No covering contract (opex 0)"


class IdlePolicy(models.TextChoices):
    SHARE = "share", "Shared in proportion to usage"
    PLATFORM = "platform", "Charged to the platform cost center"


class AllocationBasis(models.TextChoices):
    TOKENS = "tokens", "Prompt + generated tokens"
    GENERATED_TOKENS = "generated_tokens", "Generated tokens"
    REQUESTS = "requests", "Requests"


def _nonnegative(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0}),
        name=f"costs_costmodel_{field}_nonnegative",
        violation_error_message=f"{field.replace('_', ' ').capitalize()} cannot be negative.",
    )


# The price figures a billed model refuses (its cost comes from the bill
# rows), with the value that means "not given".
_PRICE_FIELDS: tuple[tuple[str, Decimal | None], ...] = (
    ("device_hour_rate", None),
    ("capex", None),
    ("amortization_months", None),
    ("amortization_start", None),
    ("opex_monthly", Decimal(0)),
    ("pue", Decimal(1)),
    ("energy_price_kwh", Decimal(0)),
    ("nameplate_kw_per_device", Decimal(0)),
)

# Field rules the check constraints hold too, checked in clean() so the
# error names the field (a constraint's error names none).
_FIELD_RULES: tuple[tuple[str, Callable[[Decimal], bool], str], ...] = (
    ("device_hour_rate", lambda v: v >= 0, "Must not be negative."),
    ("capex", lambda v: v >= 0, "Must not be negative."),
    ("opex_monthly", lambda v: v >= 0, "Must not be negative."),
    ("energy_price_kwh", lambda v: v >= 0, "Must not be negative."),
    ("nameplate_kw_per_device", lambda v: v >= 0, "Must not be negative."),
    ("pue", lambda v: v >= 1, "PUE is at least 1."),
    ("capacity_tokens_per_second", lambda v: v > 0, "Capacity must be positive."),
    ("output_token_weight", lambda v: v > 0, "The output token weight must be positive."),
    ("latency_objective_seconds", lambda v: v > 0, "The latency objective must be positive."),
)


class CostModel(models.Model):
    """What a backend costs from ``effective_from`` (a UTC date) until the
    next cost model of the same backend (issue 9, §2). The price arithmetic
    is ``costs.pricing``; ``clean()`` checks the figures with it, so a bad
    figure is refused naming its field."""

    Kind = CostModelKind
    IdlePolicy = IdlePolicy
    Basis = AllocationBasis
    OpexSource = OpexSource

    backend = models.ForeignKey(
        "pilots.Backend", on_delete=models.CASCADE, related_name="cost_models"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    effective_from = models.DateField(help_text="UTC date this model applies from.")
    currency = models.CharField(max_length=3, default="USD")
    # cloud_rate
    device_hour_rate = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    # owned
    capex = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    amortization_months = models.PositiveIntegerField(null=True, blank=True)
    amortization_start = models.DateField(null=True, blank=True)
    opex_monthly = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal(0))
    opex_source = models.CharField(
        max_length=10,
        choices=OpexSource.choices,
        default=OpexSource.TYPED,
        help_text="Owned models: typed opex per month, or the covering contracts' fees.",
    )
    pue = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal(1))
    energy_price_kwh = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    nameplate_kw_per_device = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal(0)
    )
    # both kinds
    capacity_tokens_per_second = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True
    )
    output_token_weight = models.DecimalField(
        max_digits=8, decimal_places=3, default=Decimal("2.5")
    )
    latency_objective_seconds = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True
    )
    idle_policy = models.CharField(
        max_length=10, choices=IdlePolicy.choices, default=IdlePolicy.SHARE
    )
    basis = models.CharField(
        max_length=20, choices=Basis.choices, default=Basis.TOKENS, help_text="Allocation basis."
    )
    notes = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["backend_id", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "effective_from"],
                name="costs_costmodel_unique_backend_effective_from",
                violation_error_message="This backend already has a cost model from this date.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CostModelKind.values),
                name="costs_costmodel_kind_valid",
                violation_error_message="Unknown cost model kind.",
            ),
            models.CheckConstraint(
                condition=Q(idle_policy__in=IdlePolicy.values),
                name="costs_costmodel_idle_policy_valid",
                violation_error_message="Idle policy must be share or platform.",
            ),
            models.CheckConstraint(
                condition=Q(opex_source__in=OpexSource.values),
                name="costs_costmodel_opex_source_valid",
                violation_error_message="Opex comes from typed figures or from contract.",
            ),
            models.CheckConstraint(
                condition=Q(basis__in=AllocationBasis.values),
                name="costs_costmodel_basis_valid",
                violation_error_message="Unknown allocation basis.",
            ),
            models.CheckConstraint(
                condition=Q(capacity_tokens_per_second__isnull=True)
                | Q(capacity_tokens_per_second__gt=0),
                name="costs_costmodel_capacity_positive",
                violation_error_message="Capacity must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(output_token_weight__gt=0),
                name="costs_costmodel_output_weight_positive",
                violation_error_message="The output token weight must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(pue__gte=1),
                name="costs_costmodel_pue_at_least_one",
                violation_error_message="PUE is at least 1.",
            ),
            *(
                _nonnegative(name)
                for name in (
                    "device_hour_rate",
                    "capex",
                    "opex_monthly",
                    "energy_price_kwh",
                    "nameplate_kw_per_device",
                )
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.effective_from:%Y-%m-%d}"

    def figures(self) -> CostModelFigures:
        """The pricing calculator's view of this model (raises ValueError
        naming the field on a bad figure; a billed model has no figures)."""
        kind = self.kind
        if kind == CostModelKind.BILLED:
            raise ValueError("kind: a billed cost model is priced by its bill rows")
        if kind == CostModelKind.CLOUD_RATE:
            return CostModelFigures(kind="cloud_rate", device_hour_rate=self.device_hour_rate)
        return CostModelFigures(
            kind="owned",
            capex=self.capex,
            amortization_months=self.amortization_months,
            amortization_start=self.amortization_start,
            opex_monthly=self.opex_monthly,
            pue=self.pue,
            energy_price_kwh=self.energy_price_kwh,
            nameplate_kw_per_device=self.nameplate_kw_per_device,
        )

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        currency = getattr(settings, "PILOTGATE_CURRENCY", "USD")
        if self.currency != currency:
            errors["currency"] = (
                f"The portal reports in {currency}; a cost model in "
                f"{self.currency or 'no currency'} cannot be added (convert it first)."
            )
        if self.kind == CostModelKind.OWNED:
            for name in ("capex", "amortization_months", "amortization_start"):
                if getattr(self, name) is None:
                    errors[name] = "Required for an owned cost model."
            if self.opex_source == OpexSource.CONTRACT and self.opex_monthly:
                errors["opex_monthly"] = (
                    "The opex comes from the covering contracts' fees; leave the typed "
                    "opex at 0 (or choose typed opex)."
                )
        elif self.kind == CostModelKind.CLOUD_RATE and self.device_hour_rate is None:
            errors["device_hour_rate"] = "Required for a cloud_rate cost model."
        elif self.kind == CostModelKind.BILLED:
            for name, unset in _PRICE_FIELDS:
                if getattr(self, name) != unset:
                    errors[name] = (
                        "Not used by a billed cost model (its cost is the EffectiveCost "
                        "of the backend's bill rows); leave it empty."
                    )
        if self.kind != CostModelKind.OWNED and self.opex_source == OpexSource.CONTRACT:
            errors["opex_source"] = "Only an owned cost model takes its opex from a contract."
        for name, rule, message in _FIELD_RULES:
            value = getattr(self, name)
            if value is not None and not rule(value) and name not in errors:
                errors[name] = message
        if not errors and self.kind in (CostModelKind.CLOUD_RATE, CostModelKind.OWNED):
            try:
                self.figures()
            except (ValueError, TypeError) as exc:
                field, _, message = str(exc).partition(": ")
                errors[field if hasattr(self, field) else "__all__"] = message or str(exc)
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # The one constraint across fields is about the date: name it.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            messages = error.message_dict
            if NON_FIELD_ERRORS in messages:
                messages.setdefault("effective_from", []).extend(messages.pop(NON_FIELD_ERRORS))
            raise ValidationError(messages) from None

    def audit_scope(self) -> str:
        return f"backend:{self.backend_id}"


class UsageMapping(models.Model):
    """A series label value that names who used it: ``team=search`` →
    ``CC-4100``. A series matched by several mappings goes to the one with
    the lowest ``order`` (then the lowest id); usage no mapping claims is
    ``unmapped``."""

    label = models.CharField(max_length=100)
    value = models.CharField(max_length=200)
    cost_center = models.ForeignKey(
        CostCenter, on_delete=models.PROTECT, related_name="usage_mappings"
    )
    order = models.IntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["label", "value"],
                name="costs_usagemapping_unique_label_value",
                violation_error_message="This label value is already mapped.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}={self.value} → {self.cost_center_id}"


class AllocationKind(models.TextChoices):
    USAGE = "usage", "Usage"
    IDLE = "idle", "Idle"
    UNMAPPED = "unmapped", "Unmapped"
    SHADOW = "shadow", "Shadow"


class PowerSource(models.TextChoices):
    MEASURED = "measured", "Measured energy"
    NAMEPLATE = "nameplate", "Nameplate power"


class BackendDay(models.Model):
    """One backend's cost and usage totals for one UTC day, as the
    allocation service computed them from the cost model in effect and the
    metrics rollups. Unit economics read these rows, never the rollups.

    Quantities are the reset-aware counter increases of the day;
    ``latency_buckets`` is the day's merged end-to-end latency histogram
    (``{"le": increase}``, "+Inf" included) for goodput.
    """

    day = models.DateField()
    backend = models.ForeignKey("pilots.Backend", on_delete=models.CASCADE, related_name="+")
    cost_model = models.ForeignKey(
        CostModel, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    cost = models.DecimalField(max_digits=30, decimal_places=12)
    rental = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    amortization = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    opex = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    power = models.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    power_source = models.CharField(max_length=10, choices=PowerSource.choices, blank=True)
    opex_source = models.CharField(
        max_length=12,
        choices=DayOpexSource.choices,
        blank=True,
        help_text="Owned models only; empty for cloud rate and billed days.",
    )
    energy_joules = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    energy_kwh = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    utilization = models.DecimalField(max_digits=20, decimal_places=12)
    idle_policy = models.CharField(max_length=10, choices=IdlePolicy.choices)
    basis = models.CharField(max_length=20, choices=AllocationBasis.choices)
    basis_total = models.DecimalField(
        max_digits=30, decimal_places=6, help_text="U: the basis summed over every line."
    )
    capacity_tokens = models.DecimalField(
        max_digits=30, decimal_places=6, null=True, blank=True, help_text="K: capacity × 86,400."
    )
    capacity_tokens_per_second = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True
    )
    output_token_weight = models.DecimalField(max_digits=8, decimal_places=3)
    latency_objective_seconds = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True
    )
    prompt_tokens = models.DecimalField(max_digits=30, decimal_places=6, default=Decimal(0))
    generated_tokens = models.DecimalField(max_digits=30, decimal_places=6, default=Decimal(0))
    requests = models.DecimalField(max_digits=30, decimal_places=6, default=Decimal(0))
    prefill_seconds = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    decode_seconds = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    latency_buckets = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "backend_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "day"],
                name="costs_backendday_unique_backend_day",
                violation_error_message="This backend already has a cost for this day.",
            ),
        ]
        indexes = [models.Index(fields=["day"], name="costs_backendday_day_idx")]

    def __str__(self) -> str:
        return f"backend {self.backend_id} on {self.day:%Y-%m-%d}: {self.cost}"


class DailyAllocation(models.Model):
    """One line of a backend-day: the amount a cost center (or nobody, for
    ``unmapped``) carries, of one kind, and its basis quantity. The lines of
    a backend-day add up exactly to its ``BackendDay.cost``."""

    Kind = AllocationKind

    day = models.DateField()
    backend = models.ForeignKey("pilots.Backend", on_delete=models.CASCADE, related_name="+")
    cost_center = models.ForeignKey(
        CostCenter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quantity = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    amount = models.DecimalField(max_digits=30, decimal_places=12)

    class Meta:
        ordering = ["day", "backend_id", "cost_center_id", "kind"]
        constraints = [
            # Two partial constraints, not nulls_distinct=False: SQLite has no such option.
            models.UniqueConstraint(
                fields=["day", "backend", "cost_center", "kind"],
                condition=Q(cost_center__isnull=False),
                name="costs_dailyallocation_unique_line",
                violation_error_message="This backend-day already has this line.",
            ),
            models.UniqueConstraint(
                fields=["day", "backend", "kind"],
                condition=Q(cost_center__isnull=True),
                name="costs_dailyallocation_unique_line_without_cost_center",
                violation_error_message="This backend-day already has this line.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AllocationKind.values),
                name="costs_dailyallocation_kind_valid",
                violation_error_message="Unknown allocation kind.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="unmapped") | Q(cost_center__isnull=True),
                name="costs_dailyallocation_unmapped_has_no_cost_center",
                violation_error_message="Unmapped usage has no cost center.",
            ),
        ]
        indexes = [
            models.Index(fields=["day", "backend"], name="costs_alloc_day_backend_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} backend {self.backend_id} {self.cost_center_id} {self.kind}"
