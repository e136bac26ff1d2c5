"""Serializers of the metrics API. Input serializers only validate; the
service does the work."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from metrics.forms import validate_import_upload
from metrics.models import ImportJob
from pilots.models import Backend, Pilot
from portal.api import iso_datetime

__all__ = [
    "ImportJobCreateSerializer",
    "ImportJobSerializer",
    "MetricsSummarySerializer",
    "SummaryWindowSerializer",
]


class ImportJobListSerializer(serializers.ListSerializer[ImportJob]):
    """A page of jobs written straight from the loaded rows: the same JSON as
    ``ImportJobSerializer`` item by item (a test holds them equal), without
    running 28 serializer fields per row (the list's cost, DESIGN.md)."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        jobs = data.all() if hasattr(data, "all") else data
        return [_job_json(job) for job in jobs]


_JOB_PLAIN = (
    "id",
    "format",
    "detected_format",
    "source",
    "original_filename",
    "size_bytes",
    "status",
    "attempts",
    "samples_read",
    "samples_stored",
    "duplicates",
    "rejected",
    "unmapped_count",
    "rejects",
    "unmapped",
    "error",
    "bytes_done",
    "bytes_total",
)
_JOB_TIMES = (
    "scrape_time",
    "window_start",
    "window_end",
    "created_at",
    "started_at",
    "finished_at",
)


def _job_json(job: ImportJob) -> dict[str, Any]:
    row = {name: getattr(job, name) for name in _JOB_PLAIN}
    row.update({name: iso_datetime(getattr(job, name)) for name in _JOB_TIMES})
    row["backend"] = job.backend.slug
    row["pilot"] = job.pilot_id
    row["created_by"] = job.created_by.username if job.created_by is not None else None
    duration = job.duration_seconds
    row["duration_seconds"] = float(duration) if duration is not None else None
    return row


IMPORT_JOB_VALUES = (
    *_JOB_PLAIN,
    *_JOB_TIMES,
    "backend__slug",
    "pilot_id",
    "created_by__username",
)


def import_job_rows(queryset: QuerySet[ImportJob]) -> QuerySet[ImportJob, dict[str, Any]]:
    """The columns of a page of jobs, for ``portal.api.ValuesListMixin``
    (``list_rows``); ``import_job_json`` writes them (``list_json``)."""
    rows: QuerySet[ImportJob, dict[str, Any]] = queryset.values(*IMPORT_JOB_VALUES)
    return rows


def import_job_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row = {name: r[name] for name in _JOB_PLAIN}
        row.update({name: iso_datetime(r[name]) for name in _JOB_TIMES})
        row["backend"] = r["backend__slug"]
        row["pilot"] = r["pilot_id"]
        row["created_by"] = r["created_by__username"]
        started, finished = r["started_at"], r["finished_at"]
        row["duration_seconds"] = (
            (finished - started).total_seconds() if started and finished else None
        )
        out.append(row)
    return out


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    """An import job as the API shows it (read-only)."""

    backend: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "backend",
            "pilot",
            "format",
            "detected_format",
            "source",
            "original_filename",
            "size_bytes",
            "scrape_time",
            "status",
            "attempts",
            "samples_read",
            "samples_stored",
            "duplicates",
            "rejected",
            "unmapped_count",
            "rejects",
            "unmapped",
            "error",
            "bytes_done",
            "bytes_total",
            "window_start",
            "window_end",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields
        list_serializer_class = ImportJobListSerializer


class ImportJobCreateSerializer(serializers.Serializer[Any]):
    """The multipart body of ``POST /api/v1/imports/``; validates only."""

    file = serializers.FileField(
        help_text="The metrics file (multipart upload), at most IMPORT_MAX_UPLOAD_BYTES.",
        validators=[validate_import_upload],
    )
    backend = serializers.SlugRelatedField(
        slug_field="slug", queryset=Backend.objects.all(), help_text="Backend slug."
    )
    pilot = serializers.PrimaryKeyRelatedField(
        queryset=Pilot.objects.all(), required=False, allow_null=True, help_text="Pilot id."
    )
    format = serializers.ChoiceField(
        choices=ImportJob.Format.choices, required=False, default=ImportJob.Format.AUTO
    )
    scrape_time = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Timestamp for samples without one (default: when the job is created).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        pilot = attrs.get("pilot")
        backend = attrs["backend"]
        if pilot is not None and not pilot.runs_on(backend):
            raise serializers.ValidationError({"pilot": "The pilot does not run on this backend."})
        return attrs


class SummaryWindowSerializer(serializers.Serializer[Any]):
    """The query string of the summary endpoint."""

    start = serializers.DateTimeField(help_text="ISO-8601 start of the window (inclusive).")
    end = serializers.DateTimeField(help_text="ISO-8601 end of the window (exclusive).")
    pilot = serializers.PrimaryKeyRelatedField(
        queryset=Pilot.objects.all(), required=False, allow_null=True
    )
    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cost_center = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        return attrs


def _number() -> serializers.FloatField:
    return serializers.FloatField(read_only=True, allow_null=True)


class MetricsSummarySerializer(serializers.Serializer[Any]):
    """``selectors.MetricsSummary``; see its docstring for units."""

    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    requests = _number()
    errors = _number()  # type: ignore[assignment]  # a field, not Serializer.errors
    error_rate = _number()
    tokens_generated = _number()
    prompt_tokens = _number()
    tokens_per_second = _number()
    e2e_p50 = _number()
    e2e_p95 = _number()
    e2e_p99 = _number()
    e2e_p999 = _number()
    ttft_p50 = _number()
    ttft_p95 = _number()
    ttft_p99 = _number()
    ttft_p999 = _number()
    utilization_mean = _number()
    utilization_max = _number()
    power_mean = _number()
    energy_joules = _number()
    joules_per_token = _number()
    temperature_max = _number()
    throttle_seconds = _number()
    throttle_events = _number()
    throttled_samples = _number()
    xid_errors = _number()
    sample_count = serializers.IntegerField(read_only=True)
    series_count = serializers.IntegerField(read_only=True)
    covered_start = serializers.DateTimeField(read_only=True, allow_null=True)
    covered_end = serializers.DateTimeField(read_only=True, allow_null=True)
