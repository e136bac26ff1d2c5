"""Pilots of AI inference hardware: backends, vendors, pilots, phases, exit
criteria, RACI and the readiness checklist (DESIGN.md, "Domain")."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Vendor(models.Model):
    """A hardware or cloud vendor. Contracts and SLAs attach here later."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    website = models.URLField(blank=True)
    contact_email = models.EmailField(blank=True)
    risk_notes = models.TextField(
        blank=True, help_text="Roadmap, business health, escrowed source, multi-vendor fallback."
    )
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
    site = models.CharField(max_length=100)
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
        TTFT_P99 = "ttft_p99", "Time to first token p99"
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
