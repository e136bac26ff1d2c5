"""Pilots of AI inference hardware: backends, vendors, pilots, phases, exit
criteria, RACI and the readiness checklist (DESIGN.md, "Domain")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from pilots import sla


class RiskLevel(models.TextChoices):
    """How a vendor risk answer rates: the roadmap confidence, business health."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Vendor(models.Model):
    """A hardware or cloud vendor, with its support contacts and risk
    assessment. Contracts (with SLA terms) and parts attach to it."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    website = models.URLField(blank=True)
    contact_email = models.EmailField(blank=True)
    risk_notes = models.TextField(
        blank=True, help_text="Roadmap, business health, escrowed source, multi-vendor fallback."
    )
    # Risk assessment (issue 12, §1): each answer says who gave it and when,
    # stamped by the vendor services when the answer changes.
    support_contacts = models.TextField(
        blank=True, help_text="Support desk, escalation contacts and hours, one per line."
    )
    roadmap_confidence = models.CharField(
        max_length=10, choices=RiskLevel.choices, blank=True, help_text="Confidence in the roadmap."
    )
    roadmap_confidence_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    roadmap_confidence_assessed_at = models.DateTimeField(null=True, blank=True)
    business_health = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    business_health_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    business_health_assessed_at = models.DateTimeField(null=True, blank=True)
    escrowed_source = models.BooleanField(null=True, blank=True, help_text="Source in escrow?")
    escrowed_source_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    escrowed_source_assessed_at = models.DateTimeField(null=True, blank=True)
    multi_vendor_fallback = models.BooleanField(
        null=True, blank=True, help_text="Can another vendor take the load?"
    )
    multi_vendor_fallback_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    multi_vendor_fallback_assessed_at = models.DateTimeField(null=True, blank=True)
    risk_notes_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    risk_notes_assessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BackendKind(models.TextChoices):
    """``Backend.Kind``, at module level so its check constraint is built from it."""

    WAFER_SCALE = "wafer_scale", "Wafer-scale"
    GPU_CLUSTER = "gpu_cluster", "GPU cluster"
    TPU_POD = "tpu_pod", "TPU pod"
    FPGA = "fpga", "FPGA"
    CPU = "cpu", "CPU"


class Backend(models.Model):
    """A place inference runs: a wafer-scale system, GPU cluster, TPU pod,
    FPGA farm or CPU pool. Cost models attach to it (costs app)."""

    Kind = BackendKind

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="backends")
    device_model = models.CharField(max_length=100)
    device_count = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    site = models.ForeignKey("Site", on_delete=models.PROTECT, related_name="backends")
    region = models.CharField(max_length=50)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(device_count__gte=1),
                name="pilots_backend_device_count_positive",
                violation_error_message="A backend has at least one device.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=BackendKind.values),
                name="pilots_backend_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PilotStatus(models.TextChoices):
    """``Pilot.Status``, at module level so its check constraint is built from it."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


# Completed or stopped pilots are closed (``Pilot.is_closed``).
CLOSED_PILOT_STATUSES = frozenset({PilotStatus.COMPLETED, PilotStatus.STOPPED})


class Pilot(models.Model):
    """A model tried on a candidate backend against a baseline backend, for a
    team and cost center, over a traffic slice."""

    Status = PilotStatus

    name = models.CharField(max_length=120, unique=True)
    model_name = models.CharField("model under test", max_length=120)
    description = models.TextField(blank=True)
    candidate_backend = models.ForeignKey(
        Backend, on_delete=models.PROTECT, related_name="candidate_pilots"
    )
    baseline_backend = models.ForeignKey(
        Backend, on_delete=models.PROTECT, related_name="baseline_pilots"
    )
    team = models.CharField("owning team", max_length=100)
    # A string reference: pilots sits below costs and never imports it. The
    # column holds the cost center's code (to_field), so forms, filters and
    # the API keep speaking codes.
    cost_center = models.ForeignKey(
        "costs.CostCenter",
        on_delete=models.PROTECT,
        to_field="code",
        related_name="pilots",
        verbose_name="cost center",
    )
    traffic_slice = models.CharField(
        max_length=200, blank=True, help_text="Which traffic the pilot serves, e.g. 'chat, EU'."
    )
    target_start = models.DateField()
    target_end = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(candidate_backend=models.F("baseline_backend")),
                name="pilots_pilot_candidate_differs_from_baseline",
                violation_error_message="The candidate and baseline backends must differ.",
            ),
            models.CheckConstraint(
                condition=Q(target_end__gte=models.F("target_start")),
                name="pilots_pilot_target_end_after_start",
                violation_error_message="The target end cannot be before the target start.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PilotStatus.values),
                name="pilots_pilot_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def runs_on(self, backend: Backend) -> bool:
        """Whether ``backend`` is this pilot's candidate or baseline: metrics
        of other backends cannot be attributed to the pilot."""
        return backend.pk in (self.candidate_backend_id, self.baseline_backend_id)

    @property
    def scope(self) -> str:
        """The change-log scope that gathers this pilot's records."""
        return f"pilot:{self.pk}"

    @property
    def is_closed(self) -> bool:
        """Completed or stopped: nothing about the pilot moves any more."""
        return self.status in CLOSED_PILOT_STATUSES

    def audit_scope(self) -> str:
        return self.scope if self.pk else ""


class PhaseStatus(models.TextChoices):
    """``Phase.Status``, at module level so its check constraint is built from it."""

    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


# Passed or skipped: the pilot may go on past the phase (``Phase.is_cleared``).
CLEARED_PHASE_STATUSES = frozenset({PhaseStatus.PASSED, PhaseStatus.SKIPPED})


class Phase(models.Model):
    """An ordered stage of a pilot. Transitions belong to the phase service."""

    class Kind(models.TextChoices):
        LAB_VALIDATION = "lab_validation", "Lab validation"
        SHADOW = "shadow", "Shadow"
        CANARY = "canary", "Canary"
        PRODUCTION_RAMP = "production_ramp", "Production ramp"

    Status = PhaseStatus

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="phases")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=80, blank=True, help_text="e.g. 'Ramp to 25 %'.")
    order = models.PositiveSmallIntegerField()
    planned_start = models.DateField()
    planned_end = models.DateField()
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    traffic_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    outcome_note = models.TextField(
        blank=True,
        help_text="Why the phase passed, failed or was skipped, as the transition gave it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pilot", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["pilot", "order"],
                name="pilots_phase_unique_order_per_pilot",
                violation_error_message="Another phase of this pilot has this position.",
            ),
            models.UniqueConstraint(
                fields=["pilot"],
                condition=Q(status="active"),
                name="pilots_phase_one_active_per_pilot",
                violation_error_message="A pilot has at most one active phase.",
            ),
            models.CheckConstraint(
                condition=Q(planned_end__gte=models.F("planned_start")),
                name="pilots_phase_planned_end_after_start",
                violation_error_message="The planned end cannot be before the planned start.",
            ),
            models.CheckConstraint(
                condition=Q(traffic_percent__gte=0) & Q(traffic_percent__lte=100),
                name="pilots_phase_traffic_percent_range",
                violation_error_message="Traffic is a percentage between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PhaseStatus.values),
                name="pilots_phase_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pilot} · {self.label}"

    @property
    def label(self) -> str:
        """The phase's own name if it has one ("Ramp to 25 %"), else its kind."""
        return self.name or self.get_kind_display()

    @property
    def is_cleared(self) -> bool:
        """Passed or skipped: the pilot may go on past this phase."""
        return self.status in CLEARED_PHASE_STATUSES

    def audit_scope(self) -> str:
        return self.pilot.audit_scope()

    def change_log_name(self) -> str:
        # Its __str__ names the pilot (a query per phase), and the log is the pilot's.
        return f"{self.order}. {self.label}"


class ExitCriterion(models.Model):
    """A threshold a phase's evidence must meet, e.g. "P99 latency at most
    1.0 × baseline" or "throttle events at most 0"."""

    class Metric(models.TextChoices):
        E2E_LATENCY_P50 = "e2e_latency_p50", "End-to-end latency p50"
        E2E_LATENCY_P95 = "e2e_latency_p95", "End-to-end latency p95"
        E2E_LATENCY_P99 = "e2e_latency_p99", "End-to-end latency p99"
        E2E_LATENCY_P999 = "e2e_latency_p999", "End-to-end latency p99.9"
        TTFT_P50 = "ttft_p50", "Time to first token p50"
        TTFT_P95 = "ttft_p95", "Time to first token p95"
        TTFT_P99 = "ttft_p99", "Time to first token p99"
        TTFT_P999 = "ttft_p999", "Time to first token p99.9"
        ERROR_RATE = "error_rate", "Error rate"
        TOKENS_PER_SECOND = "tokens_per_second", "Generated tokens per second"
        COST_PER_1M_TOKENS = "cost_per_1m_tokens", "$ per 1M tokens"
        COST_PER_INFERENCE = "cost_per_inference", "$ per inference"
        JOULES_PER_TOKEN = "joules_per_token", "Energy per token (J)"
        MAX_TEMPERATURE = "max_temperature", "Max temperature (°C)"
        THROTTLE_SECONDS = "throttle_seconds", "Throttle time (s)"
        THROTTLE_EVENTS = "throttle_events", "Throttle events"

    class Comparison(models.TextChoices):
        ABSOLUTE = "absolute", "Absolute value"
        RELATIVE = "relative", "Ratio to baseline"

    class Direction(models.TextChoices):
        AT_MOST = "at_most", "at most"
        AT_LEAST = "at_least", "at least"

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="exit_criteria")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    comparison = models.CharField(max_length=10, choices=Comparison.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    threshold = models.DecimalField(max_digits=20, decimal_places=6)
    critical = models.BooleanField(
        default=True, help_text="A failed critical criterion fails the phase."
    )
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["phase", "id"]
        verbose_name_plural = "exit criteria"
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "metric", "comparison"],
                name="pilots_exitcriterion_unique_metric_per_phase",
                violation_error_message="This phase already has a criterion on this metric.",
            ),
            models.CheckConstraint(
                condition=~Q(comparison="relative") | Q(threshold__gt=0),
                name="pilots_exitcriterion_relative_threshold_positive",
                violation_error_message="A ratio to baseline must be greater than zero.",
            ),
        ]

    def __str__(self) -> str:
        unit = " × baseline" if self.comparison == self.Comparison.RELATIVE else ""
        return (
            f"{self.get_metric_display()} {self.get_direction_display()} "
            f"{self.threshold.normalize()}{unit}"
        )

    def audit_scope(self) -> str:
        return self.phase.audit_scope()


class RaciActivity(models.Model):
    """An activity of a pilot whose Responsible/Accountable/Consulted/Informed
    people the RACI matrix records. ``key`` marks the built-in activities;
    the go/no-go decision's A is the approver of reviews."""

    class Key(models.TextChoices):
        RUNTIME = "runtime_hardware", "Runtime & hardware management"
        SLO = "slo_incident", "SLOs & incident response"
        VALIDATION = "validation", "Correctness & performance validation"
        VENDOR = "vendor_contracts", "Contracts & vendor relationship"
        GO_NO_GO = "go_no_go", "Go/no-go decision"
        CUSTOM = "", "Custom"

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="raci_activities")
    key = models.CharField(max_length=30, choices=Key.choices, blank=True)
    name = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["pilot", "order", "id"]
        verbose_name_plural = "RACI activities"
        constraints = [
            models.UniqueConstraint(
                fields=["pilot", "name"],
                name="pilots_raciactivity_unique_name_per_pilot",
                violation_error_message="This pilot already has an activity with this name.",
            ),
            models.UniqueConstraint(
                fields=["pilot", "key"],
                condition=~Q(key=""),
                name="pilots_raciactivity_unique_key_per_pilot",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_scope(self) -> str:
        return self.pilot.audit_scope()


class RaciLetter(models.TextChoices):
    """``RaciAssignment.Letter``, at module level so its check constraint is built from it."""

    RESPONSIBLE = "R", "Responsible"
    ACCOUNTABLE = "A", "Accountable"
    CONSULTED = "C", "Consulted"
    INFORMED = "I", "Informed"


class RaciAssignment(models.Model):
    """One person's letter for one activity. The database holds "at most one
    A per activity"; "exactly one A and at least one R" is the service's."""

    Letter = RaciLetter

    activity = models.ForeignKey(RaciActivity, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    letter = models.CharField(max_length=1, choices=Letter.choices)

    class Meta:
        ordering = ["activity", "letter", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "user"],
                name="pilots_raciassignment_one_letter_per_person",
                violation_error_message="A person holds one letter per activity.",
            ),
            models.UniqueConstraint(
                fields=["activity"],
                condition=Q(letter="A"),
                name="pilots_raciassignment_one_accountable",
                violation_error_message="An activity has exactly one Accountable person.",
            ),
            models.CheckConstraint(
                condition=Q(letter__in=RaciLetter.values), name="pilots_raciassignment_letter_valid"
            ),
        ]

    def __str__(self) -> str:
        person = self.user.get_full_name() or self.user.get_username()
        return f"{self.activity}: {self.letter} {person}"

    def audit_scope(self) -> str:
        return self.activity.audit_scope()


class ReadinessAnswer(models.Model):
    """The answer to one of the five readiness questions (seed, section 10.1)."""

    class Question(models.TextChoices):
        STEADY_QPS = "steady_qps", "Do you have steady high QPS?"
        MODEL_FITS = "model_fits", "Does the model fit the die, or a clear partition?"
        POWER_DENSITY = "power_density", "Can the ops team support higher power density?"
        VENDOR_SLAS = "vendor_slas", "Are the vendor's SLAs acceptable?"
        FALLBACK_GPU = "fallback_gpu", "Is there fallback GPU capacity?"

    class Answer(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        UNKNOWN = "unknown", "Unknown"

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="readiness_answers")
    question = models.CharField(max_length=20, choices=Question.choices)
    answer = models.CharField(max_length=10, choices=Answer.choices, default=Answer.UNKNOWN)
    evidence = models.TextField(blank=True, help_text="A note or link that backs the answer.")
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pilot", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pilot", "question"],
                name="pilots_readinessanswer_one_per_question",
                violation_error_message="This question is already answered for this pilot.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pilot}: {self.get_question_display()} {self.get_answer_display()}"

    def audit_scope(self) -> str:
        return self.pilot.audit_scope()


# ---------------------------------------------------------------------------
# Vendors' contracts and SLA incidents, sites and spares (issue 12). The
# calculators are pilots/sla.py and pilots/spares_model.py; these models only
# hold what they read.
# ---------------------------------------------------------------------------


class Site(models.Model):
    """A data center or lab where backends run and spares are shelved."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FeePeriod(models.TextChoices):
    """``Contract.FeePeriod``; values as ``pilots.sla.FeePeriod``."""

    MONTHLY = "monthly", "Monthly"
    YEARLY = "yearly", "Yearly"
    ONE_OFF = "one_off", "One-off"


class CreditBasis(models.TextChoices):
    """``Contract.CreditBasis``; values as ``pilots.sla.CreditBasis``."""

    PER_BREACH = "per_breach", "Per breach"
    PER_HOUR_LATE = "per_hour_late", "Per started hour late"


def _hours_field(label: str) -> models.DecimalField[Decimal | None, Decimal | None]:
    return models.DecimalField(
        label,
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )


def _percent_field(label: str) -> models.DecimalField[Decimal | None, Decimal | None]:
    return models.DecimalField(
        label,
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )


# Day counts a contract's dates are moved by (the notice date, patch and
# firmware due dates): ten years at most, so no date falls off the calendar.
MAX_TERM_DAYS = 3650


class Contract(models.Model):
    """What a vendor promised for some backends, for a fee, between two
    dates. Every SLA term is optional; a term that is not set measures
    nothing (``pilots.sla``). Fees are in the reporting currency."""

    FeePeriod = FeePeriod
    CreditBasis = CreditBasis

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    reference = models.CharField(max_length=100, blank=True, help_text="e.g. the PO number.")
    backends = models.ManyToManyField(Backend, blank=True, related_name="contracts")
    start = models.DateField()
    end = models.DateField()
    notice_days = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_TERM_DAYS)],
        help_text="Notice to give before the end; the notice date is computed.",
    )
    auto_renewal = models.BooleanField(default=False)
    renewal_term_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Length of each automatic renewal."
    )
    fee = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    fee_period = models.CharField(max_length=10, choices=FeePeriod.choices, default="monthly")
    # SLA terms.
    replacement_hours = _hours_field("hardware replacement time (h)")
    response_hours = _hours_field("response time (h)")
    firmware_cadence_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_TERM_DAYS)]
    )
    patch_window_days = models.PositiveIntegerField(
        "security-patch window (days)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_TERM_DAYS)],
    )
    uptime_percent = _percent_field("monthly uptime (%)")
    support_tier = models.CharField(
        max_length=40, blank=True, help_text="e.g. 24x7x4, next business day."
    )
    credit_percent = _percent_field("service credit (% of the monthly fee)")
    credit_basis = models.CharField(
        max_length=15, choices=CreditBasis.choices, default="per_breach"
    )
    credit_cap_percent = _percent_field("credit cap (% of the month's fee)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["end", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")),
                name="pilots_contract_end_after_start",
                violation_error_message="The end cannot be before the start.",
            ),
            models.CheckConstraint(
                condition=Q(fee__gte=0),
                name="pilots_contract_fee_not_negative",
                violation_error_message="The fee cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(fee_period__in=FeePeriod.values),
                name="pilots_contract_fee_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(credit_basis__in=CreditBasis.values),
                name="pilots_contract_credit_basis_valid",
            ),
        ]

    def __str__(self) -> str:
        label = self.reference or f"#{self.pk}"
        return f"{self.vendor.name} contract {label}" if self.vendor_id else label

    @property
    def notice_date(self) -> dt.date:
        """The last day notice can be given (``pilots.sla.notice_date``)."""
        return sla.notice_date(self.end, self.notice_days)

    def sla_terms(self) -> sla.SlaTerms:
        return sla.SlaTerms(
            replacement_hours=self.replacement_hours,
            response_hours=self.response_hours,
            patch_window_days=self.patch_window_days,
            uptime_percent=self.uptime_percent,
            credit_percent=self.credit_percent,
            credit_basis=sla.CreditBasis(self.credit_basis),
            credit_cap_percent=self.credit_cap_percent,
            fee=self.fee,
            fee_period=sla.FeePeriod(self.fee_period),
        )


class IncidentKind(models.TextChoices):
    """``Incident.Kind``; values as ``pilots.sla.IncidentKind``."""

    RMA = "rma", "RMA (resolved = unit replaced)"
    SUPPORT_REQUEST = "support_request", "Support request (resolved = first response)"
    SECURITY_PATCH = "security_patch", "Security patch (opened = released, resolved = applied)"
    OUTAGE = "outage", "Outage (opened = start, resolved = end)"


class UnitStatus(models.TextChoices):
    IN_SERVICE = "in_service", "In service"
    COLD_STANDBY = "cold_standby", "Cold standby"
    RMA = "rma", "Out for RMA"
    RETIRED = "retired", "Retired"


class Criticality(models.TextChoices):
    """How much a part matters; the sufficiency table orders and colours by it."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


CRITICALITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class Part(models.Model):
    """A field-replaceable part (accelerator board, PSU, optic...), known by
    its part number."""

    Criticality = Criticality

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="parts")
    part_number = models.CharField(max_length=80, unique=True)
    description = models.CharField(max_length=200, blank=True)
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default="medium")
    unit_cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    annual_failure_rate = models.DecimalField(
        max_digits=8,
        decimal_places=5,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Failures per unit and year, e.g. 0.05.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["part_number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(criticality__in=Criticality.values),
                name="pilots_part_criticality_valid",
            ),
            models.CheckConstraint(
                condition=Q(annual_failure_rate__gte=0),
                name="pilots_part_failure_rate_not_negative",
                violation_error_message="The failure rate cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.part_number


class Incident(models.Model):
    """Something a contract's SLA measures, entered on a page or pushed by a
    ticketing or DCIM tool. What opened and resolved mean depends on the
    kind (see the choices); outages name the backends they took down."""

    Kind = IncidentKind

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    part = models.ForeignKey(
        Part, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    unit_serial = models.CharField(max_length=100, blank=True)
    backends = models.ManyToManyField(Backend, blank=True, related_name="incidents")
    external_ref = models.CharField(
        max_length=100, blank=True, help_text="The ticket's id in the tool that pushed it."
    )
    summary = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("opened_at")),
                name="pilots_incident_resolved_after_opened",
                violation_error_message="An incident cannot be resolved before it opened.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=IncidentKind.values), name="pilots_incident_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["contract", "external_ref"],
                condition=~Q(external_ref=""),
                name="pilots_incident_unique_external_ref",
                violation_error_message="This contract has an incident with this reference.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display().split(' (')[0]} {self.opened_at:%Y-%m-%d}"

    def as_sla_incident(self) -> sla.Incident:
        return sla.Incident(
            kind=sla.IncidentKind(self.kind), opened_at=self.opened_at, resolved_at=self.resolved_at
        )


class Unit(models.Model):
    """One physical unit of a part. The database holds "in service exactly
    when on a backend"; the unit's site matching its backend's is the
    service's rule."""

    Status = UnitStatus

    serial = models.CharField(max_length=100, unique=True)
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="units")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="units")
    status = models.CharField(max_length=15, choices=UnitStatus.choices, default="cold_standby")
    backend = models.ForeignKey(
        Backend, on_delete=models.PROTECT, null=True, blank=True, related_name="units"
    )
    firmware_version = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["part", "serial"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="in_service") & Q(backend__isnull=False))
                | (~Q(status="in_service") & Q(backend__isnull=True)),
                name="pilots_unit_in_service_on_a_backend",
                violation_error_message="A unit is on a backend exactly when it is in service.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=UnitStatus.values), name="pilots_unit_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class StockLevel(models.Model):
    """The shelf of one part at one site: its reorder point, lead time and
    repair partner. What is on it is the sum of its movements (never a
    stored count); movement services lock this row so that sum cannot go
    negative under concurrent consumption."""

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="stock")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stock")
    reorder_point = models.PositiveIntegerField(default=0)
    lead_time_days = models.PositiveIntegerField(null=True, blank=True)
    repair_partner = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "part"]
        constraints = [
            models.UniqueConstraint(
                fields=["part", "site"],
                name="pilots_stocklevel_one_per_part_and_site",
                violation_error_message="This site already has a stock row for this part.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id} @ {self.site_id}"


class MovementKind(models.TextChoices):
    RECEIVED = "received", "Received"
    CONSUMED = "consumed", "Consumed"
    SENT_TO_REPAIR = "sent_to_repair", "Sent to repair"
    RETURNED = "returned", "Returned from repair"
    WRITTEN_OFF = "written_off", "Written off"
    TRANSFERRED = "transferred", "Transferred"


class StockMovement(models.Model):
    """One line of a shelf's ledger. Never edited: a wrong one is reversed
    by a new movement (``reverses``). ``delta`` is the signed change of the
    shelf (a transfer is two lines, out of one site and into another)."""

    Kind = MovementKind

    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=15, choices=MovementKind.choices)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    delta = models.IntegerField()
    note = models.CharField(max_length=300, blank=True)
    counterpart_site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A transfer's other site.",
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="pilots_stockmovement_quantity_positive",
                violation_error_message="A movement moves at least one unit.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MovementKind.values), name="pilots_stockmovement_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.delta:+d}"
