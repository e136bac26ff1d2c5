"""Admin for platform admins (staff). Saves and deletes here are recorded in
the change log like any other write; pilots are created through the service
so they get their RACI activities and readiness checklist."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.forms import ModelForm
from django.http import HttpRequest

from pilots import services
from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
    Vendor,
)
from pilots.services.pilots import PILOT_EDITABLE_FIELDS
from portal.audit import record_change, snapshot
from portal.models import ChangeRecord


def _scope_of(obj: models.Model) -> str:
    """The change-log scope: the pilot the object belongs to, if any."""
    pilot: Pilot | None = None
    if isinstance(obj, Pilot):
        pilot = obj
    elif isinstance(obj, (Phase, RaciActivity, ReadinessAnswer)):
        pilot = obj.pilot
    elif isinstance(obj, ExitCriterion):
        pilot = obj.phase.pilot
    elif isinstance(obj, RaciAssignment):
        pilot = obj.activity.pilot
    return pilot.scope if pilot is not None and pilot.pk else ""


def _save_recorded(request: HttpRequest, obj: models.Model, save: Callable[[], None]) -> None:
    """Run ``save`` and record what it changed, in one transaction."""
    with transaction.atomic():
        adding = obj._state.adding
        before = None if adding else snapshot(type(obj)._default_manager.get(pk=obj.pk))
        save()
        record_change(
            actor=request.user,
            instance=obj,
            action=ChangeRecord.Action.CREATE if adding else ChangeRecord.Action.UPDATE,
            before=before,
            after=snapshot(obj),
            scope=_scope_of(obj),
            message="admin",
        )


def _delete_recorded(request: HttpRequest, obj: models.Model, delete: Callable[[], Any]) -> None:
    """Record ``obj`` as deleted and run ``delete``, in one transaction."""
    with transaction.atomic():
        record_change(
            actor=request.user,
            instance=obj,
            action=ChangeRecord.Action.DELETE,
            before=snapshot(obj),
            scope=_scope_of(obj),
            message="admin",
        )
        delete()


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Records every admin save and delete with the acting user."""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        _save_recorded(request, obj, partial(super().save_model, request, obj, form, change))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _delete_recorded(request, obj, partial(super().delete_model, request, obj))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # One record per object, not one silent bulk delete.
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Vendor)
class VendorAdmin(AuditedAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "slug", "contact_email", "website"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Backend)
class BackendAdmin(AuditedAdmin):
    list_display = [
        "name",
        "kind",
        "vendor",
        "device_model",
        "device_count",
        "site",
        "region",
        "is_active",
    ]
    list_filter = ["kind", "vendor", "region", "is_active"]
    search_fields = ["name", "slug", "device_model", "site"]
    list_select_related = ["vendor"]
    prepopulated_fields = {"slug": ["name"]}


class PhaseInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Phase
    extra = 0
    fields = ["order", "kind", "name", "status", "planned_start", "planned_end", "traffic_percent"]
    readonly_fields = ["status"]
    show_change_link = True


@admin.register(Pilot)
class PilotAdmin(AuditedAdmin):
    list_display = [
        "name",
        "model_name",
        "candidate_backend",
        "baseline_backend",
        "team",
        "status",
        "target_start",
        "target_end",
    ]
    list_filter = ["status", "team", "candidate_backend__kind"]
    search_fields = ["name", "model_name", "team", "cost_center"]
    list_select_related = ["candidate_backend", "baseline_backend"]
    date_hierarchy = "target_start"
    # Status moves only through phase transitions.
    readonly_fields = ["status", "created_by", "created_at", "updated_at"]
    inlines = [PhaseInline]

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # New pilots through the service: RACI activities, checklist, audit.
        created = services.pilot_create(
            actor=request.user,
            **{f: form.cleaned_data[f] for f in PILOT_EDITABLE_FIELDS if f in form.cleaned_data},
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        with transaction.atomic():
            instances = formset.save(commit=False)
            for deleted in formset.deleted_objects:
                _delete_recorded(request, deleted, deleted.delete)
            for instance in instances:
                _save_recorded(request, instance, instance.save)
            formset.save_m2m()


@admin.register(Phase)
class PhaseAdmin(AuditedAdmin):
    list_display = [
        "pilot",
        "order",
        "kind",
        "name",
        "status",
        "planned_start",
        "planned_end",
        "traffic_percent",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["pilot__name", "name"]
    list_select_related = ["pilot"]
    # Transitions belong to the phase service.
    readonly_fields = ["status", "actual_start", "actual_end"]


@admin.register(ExitCriterion)
class ExitCriterionAdmin(AuditedAdmin):
    list_display = ["phase", "metric", "comparison", "direction", "threshold", "critical", "weight"]
    list_filter = ["metric", "comparison", "critical"]
    search_fields = ["phase__pilot__name"]
    list_select_related = ["phase__pilot"]


@admin.register(RaciActivity)
class RaciActivityAdmin(AuditedAdmin):
    list_display = ["name", "pilot", "key", "order"]
    list_filter = ["key"]
    search_fields = ["name", "pilot__name"]
    list_select_related = ["pilot"]


@admin.register(RaciAssignment)
class RaciAssignmentAdmin(AuditedAdmin):
    """Read-only: a single row edited here could leave an activity without
    its A or its last R. The pilot's RACI page checks the whole activity
    through the service, and admins may use it."""

    list_display = ["activity", "pilot_name", "letter", "user"]
    list_filter = ["letter"]
    search_fields = ["activity__name", "activity__pilot__name", "user__username"]
    list_select_related = ["activity__pilot", "user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="pilot", ordering="activity__pilot__name")
    def pilot_name(self, obj: RaciAssignment) -> str:
        return obj.activity.pilot.name


@admin.register(ReadinessAnswer)
class ReadinessAnswerAdmin(AuditedAdmin):
    list_display = ["pilot", "question", "answer", "answered_by", "answered_at"]
    list_filter = ["question", "answer"]
    search_fields = ["pilot__name", "evidence"]
    list_select_related = ["pilot", "answered_by"]
