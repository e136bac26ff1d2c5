"""Admin for the metrics catalog, series, import jobs and pull sources.

Mappings are editable here (issue 3: "mappings are editable in the admin").
Edits of definitions, mappings and pull sources are recorded in the change
log (``AuditedAdmin``): a changed scale changes what every later import
stores. Samples have a composite primary key, which the admin does not
support; they are not registered (and are far too many to browse anyway).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction

from metrics.models import (
    HourlyRollup,
    ImportJob,
    MetricDefinition,
    MetricMapping,
    MetricSource,
    Series,
)
from metrics.services import metric_source_sync_schedule, metric_source_unschedule
from portal.admin import AuditedAdmin


class MetricMappingInline(admin.TabularInline):  # type: ignore[type-arg]
    """The definition's mappings, read-only: they are edited on their own
    page, where the change is recorded (an inline formset save is not)."""

    model = MetricMapping
    extra = 0
    fields = ("source_name", "scale", "transform", "extra_labels", "notes", "is_builtin")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(AuditedAdmin):
    list_display = ["name", "kind", "unit", "description"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    inlines = [MetricMappingInline]


@admin.register(MetricMapping)
class MetricMappingAdmin(AuditedAdmin):
    list_display = ["source_name", "metric", "scale", "transform", "is_builtin", "notes"]
    list_filter = ["metric", "transform", "is_builtin"]
    list_select_related = ["metric"]
    search_fields = ["source_name", "metric__name"]
    readonly_fields = ["is_builtin"]


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "backend", "metric", "pilot", "component", "le", "labels"]
    list_filter = ["metric", "component", "backend"]
    list_select_related = ["backend", "metric", "pilot"]
    readonly_fields = [f.name for f in Series._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(HourlyRollup)
class HourlyRollupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["series", "hour", "count", "min", "max", "increase"]
    list_select_related = ["series"]
    readonly_fields = [f.name for f in HourlyRollup._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "backend",
        "source",
        "original_filename",
        "status",
        "samples_stored",
        "duplicates",
        "rejected",
        "unmapped_count",
        "created_at",
    ]
    list_filter = ["status", "source", "format", "backend"]
    list_select_related = ["backend"]
    search_fields = ["original_filename", "error"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(MetricSource)
class MetricSourceAdmin(AuditedAdmin):
    """Saving a source creates or updates its Celery beat PeriodicTask;
    deleting it removes the task (metrics/services/schedules.py)."""

    # Prometheus servers inside the network are usually plain http.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}

    list_display = [
        "name",
        "backend",
        "base_url",
        "interval_seconds",
        "enabled",
        "last_pulled_until",
    ]
    list_filter = ["enabled", "backend"]
    list_select_related = ["backend"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["periodic_task"]

    @transaction.atomic
    def save_model(self, request: Any, obj: MetricSource, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        metric_source_sync_schedule(source=obj)

    def delete_model(self, request: Any, obj: MetricSource) -> None:
        metric_source_unschedule(source=obj)
        super().delete_model(request, obj)
