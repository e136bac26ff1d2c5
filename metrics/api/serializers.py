"""Serializers of the metrics API. Input serializers only validate; the
service does the work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers

from metrics.forms import validate_import_upload
from metrics.models import ImportJob
from pilots.models import Backend, Pilot
from portal.api import QuerySerializer, RejectUnknownFieldsMixin, SlugRelatedField, iso_datetime

__all__ = [
    "ImportJobCreateSerializer",
    "ImportJobSerializer",
    "MetricsSummarySerializer",
    "SummaryWindowSerializer",
]


class RejectGroupSerializer(serializers.Serializer[Any]):
    """Rejected lines of one reason: how many, and the first line numbers."""

    reason = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    lines = serializers.ListField(child=serializers.IntegerField(), read_only=True)


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
    "reject_groups",
    "unmapped",
    "error",
    "note",
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

    backend: serializers.SlugRelatedField[Any] = SlugRelatedField(slug_field="slug", read_only=True)
    # Null for imports nobody started by hand (CLI, scheduled pulls).
    created_by: serializers.SlugRelatedField[Any] = SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Blank until the file has been read.
    detected_format = serializers.ChoiceField(
        choices=ImportJob.Format.choices, allow_blank=True, read_only=True
    )
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    reject_groups = RejectGroupSerializer(many=True, read_only=True)

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
            "reject_groups",
            "unmapped",
            "error",
            "note",
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


def refuse_nul(data: Any) -> None:
    """A NUL character in a field name or value is a 400 naming the field:
    no database column can hold one (PostgreSQL refuses the query). Unknown
    fields are refused by ``RejectUnknownFieldsMixin``."""
    errors: dict[str, list[str]] = {}
    keys = list(data.keys()) if hasattr(data, "keys") else []
    for key in keys:
        if "\x00" in str(key):
            errors["non_field_errors"] = ["A field name contains a NUL character."]
            continue
        values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            errors[str(key)] = ["Contains a NUL character."]
    if errors:
        raise serializers.ValidationError(errors)


class ImportJobCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """The multipart body of ``POST /api/v1/imports/``; validates only."""

    def to_internal_value(self, data: Any) -> Any:
        refuse_nul(data)
        return super().to_internal_value(data)

    file = serializers.FileField(
        help_text="The metrics file (multipart upload), at most IMPORT_MAX_BYTES.",
        validators=[validate_import_upload],
    )
    backend = SlugRelatedField(
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


SUMMARY_DEFAULT_SPAN = dt.timedelta(hours=24)


class SummaryWindowSerializer(QuerySerializer):
    """The query string of the summary endpoint. Without ``start`` and
    ``end`` the window is the last 24 hours; with one of them, 24 hours
    from or up to it."""

    start = serializers.DateTimeField(
        required=False,
        help_text="ISO-8601 start of the window (inclusive). Default: 24 hours before the end.",
    )
    end = serializers.DateTimeField(
        required=False,
        help_text="ISO-8601 end of the window (exclusive). Default: now, or 24 hours after "
        "the start when only the start is given.",
    )
    # Leave it out for the whole backend; an empty value is refused, not read as "none".
    pilot = serializers.PrimaryKeyRelatedField(queryset=Pilot.objects.all(), required=False)
    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    cost_center = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start: dt.datetime | None = attrs.get("start")
        end: dt.datetime | None = attrs.get("end")
        if start is None:
            end = end or timezone.now()
            start = end - SUMMARY_DEFAULT_SPAN
        elif end is None:
            end = start + SUMMARY_DEFAULT_SPAN
        if end <= start:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        attrs["start"], attrs["end"] = start, end
        return attrs


def _number() -> serializers.FloatField:
    return serializers.FloatField(read_only=True, allow_null=True)


class CountField(serializers.IntegerField):
    """A count (requests, tokens, events) as a JSON integer. Counter
    increases are summed as floats; the count is their nearest integer."""

    def to_representation(self, value: Any) -> int:
        return round(float(value))


def _count() -> CountField:
    return CountField(read_only=True, allow_null=True)


class MetricsSummarySerializer(serializers.Serializer[Any]):
    """``selectors.MetricsSummary``; see its docstring for units."""

    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    requests = _count()
    errors = _count()  # type: ignore[assignment]  # a field, not Serializer.errors
    error_rate = _number()
    tokens_generated = _count()
    prompt_tokens = _count()
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
    throttle_events = _count()
    throttled_samples = _count()
    xid_errors = _count()
    sample_count = serializers.IntegerField(read_only=True)
    series_count = serializers.IntegerField(read_only=True)
    covered_start = serializers.DateTimeField(read_only=True, allow_null=True)
    covered_end = serializers.DateTimeField(read_only=True, allow_null=True)
    note = serializers.CharField(
        read_only=True,
        allow_blank=True,
        help_text="Why figures are missing although samples exist (e.g. a single scrape).",
    )
