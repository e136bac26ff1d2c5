"""Metrics: canonical definitions, source-name mappings, series, samples,
hourly rollups, import jobs and scheduled pull sources (DESIGN.md, "Data
flows", 1. Import).

Samples are the only large table. It has no surrogate id: its primary key is
(series, ts), so PostgreSQL ``COPY`` goes into a bare indexed table and a
repeated sample is a conflict, not a second row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class MetricKind(models.TextChoices):
    """``MetricDefinition.Kind``, at module level so its check constraint is built from it."""

    COUNTER = "counter", "Counter"
    GAUGE = "gauge", "Gauge"
    HISTOGRAM = "histogram", "Histogram"


class MetricDefinition(models.Model):
    """A canonical metric that pages, summaries and evidence read.

    Sources name their metrics differently (vLLM, DCGM exporter, vendors'
    exporters); ``MetricMapping`` turns those names into one of these.
    """

    Kind = MetricKind

    name = models.CharField(max_length=100, unique=True)
    unit = models.CharField(max_length=30, blank=True, help_text="SI unit, e.g. 's', 'W', 'J'.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MetricKind.values),
                name="metrics_metricdefinition_kind_valid",
                violation_error_message="Kind must be counter, gauge or histogram.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


class MappingTransform(models.TextChoices):
    """``MetricMapping.Transform``, at module level so its check constraint is built from it."""

    NONE = "none", "Value as is (times scale)"
    NONZERO = "nonzero", "1 when the value is not 0 (e.g. last XID error code)"
    THROTTLE_MASK = "throttle_mask", "1 when a DCGM clock-event bitmask has a throttle bit"


class MetricMapping(models.Model):
    """A source metric name (e.g. ``DCGM_FI_DEV_POWER_USAGE``) mapped to a
    canonical metric. ``scale`` converts units on import (mW→W is 0.001,
    ms→s is 0.001). For histograms the source name is the family name,
    without ``_bucket``/``_sum``/``_count``; bucket bounds are scaled too."""

    Transform = MappingTransform

    source_name = models.CharField(max_length=200, unique=True)
    metric = models.ForeignKey(MetricDefinition, on_delete=models.CASCADE, related_name="mappings")
    scale = models.FloatField(default=1.0, help_text="Multiply source values by this factor.")
    transform = models.CharField(max_length=20, choices=Transform.choices, default=Transform.NONE)
    # Added to every series of this source, so that two sources mapped to one
    # canonical metric stay apart (DCGM power and thermal violation time).
    extra_labels = models.JSONField(default=dict, blank=True)
    is_builtin = models.BooleanField(default=False, editable=False)
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["source_name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(scale=0),
                name="metrics_metricmapping_scale_nonzero",
                violation_error_message="The scale factor cannot be zero.",
            ),
            models.CheckConstraint(
                condition=Q(transform__in=MappingTransform.values),
                name="metrics_metricmapping_transform_valid",
                violation_error_message="Unknown transform.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} → {self.metric.name}"


class SeriesComponent(models.TextChoices):
    """``Series.Component``, at module level so its check constraint is built from it."""

    VALUE = "value", "Value"
    BUCKET = "bucket", "Histogram bucket"
    SUM = "sum", "Histogram sum"
    COUNT = "count", "Histogram count"


class Series(models.Model):
    """One time series: backend, canonical metric, optional pilot, component
    (plain value or one histogram bucket/sum/count) and labels.

    ``key_hash`` is a hash of all identifying fields. Uniqueness is enforced on
    it rather than on the columns because ``pilot`` and ``le`` are nullable and
    NULLs never conflict in a unique index.
    """

    Component = SeriesComponent

    backend = models.ForeignKey("pilots.Backend", on_delete=models.CASCADE, related_name="series")
    metric = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="series")
    pilot = models.ForeignKey(
        "pilots.Pilot", on_delete=models.CASCADE, null=True, blank=True, related_name="series"
    )
    component = models.CharField(max_length=10, choices=Component.choices, default=Component.VALUE)
    le = models.FloatField(null=True, blank=True, help_text="Bucket upper bound (+Inf allowed).")
    # Sorted keys, without "le"; values are strings as in the exposition format.
    labels = models.JSONField(default=dict, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["backend_id", "metric_id", "id"]
        verbose_name_plural = "series"
        indexes = [models.Index(fields=["backend", "metric"], name="metrics_series_backend_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(component__in=SeriesComponent.values),
                name="metrics_series_component_valid",
                violation_error_message="Unknown series component.",
            ),
            models.CheckConstraint(
                condition=Q(component="bucket", le__isnull=False)
                | (~Q(component="bucket") & Q(le__isnull=True)),
                name="metrics_series_le_only_for_buckets",
                violation_error_message="Only histogram buckets (and all of them) have an 'le'.",
            ),
        ]

    def __str__(self) -> str:
        suffix = f"{{le={self.le}}}" if self.component == self.Component.BUCKET else ""
        return f"series {self.pk}: metric {self.metric_id} {self.component}{suffix}"


class Sample(models.Model):
    """One value of a series at one instant (aware UTC). Written in bulk by
    ``metrics.storage``; never read by pages (they read rollups)."""

    pk = models.CompositePrimaryKey("series", "ts")
    # The primary key (series, ts) already indexes series first; a second
    # index on series alone would only slow bulk writes. No database-level
    # foreign key either: checking it costs as much as the COPY itself, and
    # series ids come from the same transaction that writes the samples
    # (metrics.storage). Deleting a series still cascades, in Django.
    series = models.ForeignKey(
        Series,
        on_delete=models.CASCADE,
        related_name="samples",
        db_index=False,
        db_constraint=False,
    )
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        ordering = ["series", "ts"]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts.isoformat()}={self.value}"


class HourlyRollup(models.Model):
    """Per series and UTC hour: count, sum, min, max, first and last values
    and, for counters and buckets, the reset-aware increase.

    ``increase`` includes the step from the last sample before the hour to
    the first sample in it, so increases over consecutive hours add up to
    the increase over the whole window. A drop means the source restarted:
    the step counts as the new value, never as negative usage.
    """

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()
    sum = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    first = models.FloatField()
    last = models.FloatField()
    first_ts = models.DateTimeField()
    last_ts = models.DateTimeField()
    increase = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["series", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "hour"],
                name="metrics_hourlyrollup_unique_series_hour",
                violation_error_message="This series already has a rollup for this hour.",
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="metrics_rollup_hour_idx")]

    def __str__(self) -> str:
        return f"series {self.series_id} @ {self.hour:%Y-%m-%d %H}:00"


class ImportFormat(models.TextChoices):
    """``ImportJob.Format``, at module level so its check constraint is built from it."""

    AUTO = "auto", "Detect from content"
    PROMETHEUS_TEXT = "prometheus_text", "Prometheus text exposition"
    OPENMETRICS = "openmetrics", "OpenMetrics text"
    QUERY_RANGE_JSON = "query_range_json", "Prometheus API query/query_range JSON"
    CSV = "csv", "CSV (timestamp, metric, value, labels)"


class ImportStatus(models.TextChoices):
    """``ImportJob.Status``, at module level so its check constraint is built from it."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One metrics file (upload, API push, CLI or scheduled pull) imported by
    one Celery task. The task claims the job with a guarded update, so
    running it twice is harmless; the job is one transaction, so a failed job
    leaves no rows behind."""

    Format = ImportFormat

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        API = "api", "API"
        CLI = "cli", "Command line"
        PULL = "pull", "Scheduled pull"

    Status = ImportStatus

    MAX_REJECTS = 1000

    backend = models.ForeignKey("pilots.Backend", on_delete=models.CASCADE, related_name="imports")
    pilot = models.ForeignKey(
        "pilots.Pilot", on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.AUTO)
    detected_format = models.CharField(max_length=20, choices=Format.choices, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    file_path = models.CharField(max_length=500, help_text="Relative to MEDIA_ROOT.")
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    scrape_time = models.DateTimeField(
        help_text="Timestamp given to samples that carry none (default: job creation)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Refreshed every few seconds by the worker running the job (through a
    # second connection, outside the job's transaction): a running job
    # whose heartbeat is stale has lost its worker and may be claimed again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The broker was unreachable when the job was created: the sweep sends it.
    enqueue_pending = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    samples_read = models.BigIntegerField(default=0)
    samples_stored = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    unmapped_count = models.BigIntegerField(default=0)
    # [{"line": n, "reason": "..."}], the first MAX_REJECTS; ``rejected`` is the total.
    rejects = models.JSONField(default=list, blank=True)
    # [{"reason", "count", "lines": [first line numbers]}] over every reject,
    # largest first (metrics.pipeline.RejectGroups).
    reject_groups = models.JSONField(default=list, blank=True)
    # {source metric name: samples skipped}
    unmapped = models.JSONField(default=dict, blank=True)
    # Shown to users: our own words only (never exception text, SQL or paths).
    error = models.TextField(blank=True)
    # Something to know about a job that did not fail (a single scrape, a
    # broker that was down at upload).
    note = models.TextField(blank=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "claimed_at"], name="metrics_job_status_claim_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values),
                name="metrics_importjob_status_valid",
                violation_error_message="Unknown import job status.",
            ),
            models.CheckConstraint(
                condition=Q(format__in=ImportFormat.values),
                name="metrics_importjob_format_valid",
                violation_error_message="Unknown import format.",
            ),
            models.CheckConstraint(
                condition=Q(window_end__isnull=True) | Q(window_end__gte=models.F("window_start")),
                name="metrics_importjob_window_ordered",
                violation_error_message="The touched window cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.original_filename or self.source}, {self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class MetricSource(models.Model):
    """A Prometheus server pulled on a schedule through ``query_range``.

    Each pull creates an ImportJob (source "pull"). The schedule lives in
    django-celery-beat's PeriodicTask, editable in the admin.
    """

    name = models.CharField(max_length=100, unique=True)
    backend = models.ForeignKey(
        "pilots.Backend", on_delete=models.CASCADE, related_name="metric_sources"
    )
    pilot = models.ForeignKey(
        "pilots.Pilot",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="metric_sources",
    )
    base_url = models.URLField(help_text="Prometheus base URL, e.g. http://prom:9090")
    # PromQL expressions, each pulled with query_range.
    queries = models.JSONField(default=list)
    step_seconds = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    interval_seconds = models.PositiveIntegerField(default=300, validators=[MinValueValidator(10)])
    lookback_seconds = models.PositiveIntegerField(
        default=3600, help_text="How far back the first pull reaches."
    )
    enabled = models.BooleanField(default=True)
    last_pulled_until = models.DateTimeField(null=True, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="metric_source",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(step_seconds__gte=1),
                name="metrics_metricsource_step_positive",
                violation_error_message="The step must be at least one second.",
            ),
            models.CheckConstraint(
                condition=Q(interval_seconds__gte=10),
                name="metrics_metricsource_interval_min",
                violation_error_message="Pull at most every 10 seconds.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """``queries`` is a JSON list of PromQL strings: a bare string would
        be pulled one character at a time."""
        super().clean()
        queries = self.queries
        if (
            not isinstance(queries, list)
            or not queries
            or not all(isinstance(q, str) and q.strip() for q in queries)
        ):
            raise ValidationError(
                {
                    "queries": "Give a JSON list of PromQL expressions, e.g. "
                    '["vllm:generation_tokens_total", "DCGM_FI_DEV_POWER_USAGE"].'
                }
            )
