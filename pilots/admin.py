"""Admin for platform admins (staff). It keeps the pilot domain's rules:
every save goes through the same service as the pages (``ServiceAdmin``),
so what a service refuses — editing a passed phase, the criteria of a
finished one, a closed pilot — the admin refuses too, on the form, and
every write is in the change log. Transitions (start, pass, fail) belong
to the phase service and its pages; RACI letters to the RACI page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
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
from pilots.services.catalog import (
    BACKEND_FIELDS,
    VENDOR_FIELDS,
    backend_create,
    backend_update,
    vendor_create,
    vendor_update,
)
from pilots.services.pilots import PILOT_EDITABLE_FIELDS
from portal.admin import ServiceAdmin

# The phases whose exit criteria may change (the phase service's rule).
EDITABLE_PHASES = frozenset({Phase.Status.PLANNED, Phase.Status.ACTIVE})


def _only(data: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name in fields}


@admin.register(Vendor)
class VendorAdmin(ServiceAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "slug", "contact_email", "website"]
    search_fields = ["name", "slug", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> Vendor:
        return vendor_create(actor=request.user, data=_only(data, VENDOR_FIELDS))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> Vendor:
        return vendor_update(vendor=obj, actor=request.user, data=_only(data, VENDOR_FIELDS))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # backends and history point at vendors


@admin.register(Backend)
class BackendAdmin(ServiceAdmin):
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
    search_fields = ["name", "slug", "device_model", "site__name"]
    list_select_related = ["vendor", "site"]
    prepopulated_fields = {"slug": ["name"]}

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> Backend:
        return backend_create(actor=request.user, data=_only(data, BACKEND_FIELDS))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> Backend:
        return backend_update(backend=obj, actor=request.user, data=_only(data, BACKEND_FIELDS))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # mark a backend inactive instead: pilots and metrics point at it


class PhaseInline(admin.TabularInline):  # type: ignore[type-arg]
    """The pilot's phases, read-only: each is edited on its own admin page
    (through the phase service), transitions on the pilot's phases page."""

    model = Phase
    extra = 0
    fields = ("order", "kind", "name", "status", "planned_start", "planned_end", "traffic_percent")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Pilot)
class PilotAdmin(ServiceAdmin):
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
    search_fields = ["name", "model_name", "team", "cost_center__code"]
    list_select_related = ["candidate_backend", "baseline_backend"]
    date_hierarchy = "target_start"
    # Status moves only through phase transitions.
    readonly_fields = ["status", "created_by", "created_at", "updated_at"]
    inlines = [PhaseInline]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> Pilot:
        # New pilots get their RACI activities and readiness checklist.
        return services.pilot_create(actor=request.user, **_only(data, PILOT_EDITABLE_FIELDS))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> Pilot:
        return services.pilot_update(
            pilot=obj, actor=request.user, data=_only(data, PILOT_EDITABLE_FIELDS)
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a pilot's history is the record; stop it instead


@admin.register(Phase)
class PhaseAdmin(ServiceAdmin):
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

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> Phase:
        fields = services.phases.PHASE_EDITABLE_FIELDS
        return services.phase_create(pilot=data["pilot"], actor=request.user, **_only(data, fields))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> Phase:
        fields = services.phases.PHASE_EDITABLE_FIELDS
        if "pilot" in data:
            raise services.DomainError({"pilot": "A phase cannot move to another pilot."})
        return services.phase_update(phase=obj, actor=request.user, data=_only(data, fields))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExitCriterion)
class ExitCriterionAdmin(ServiceAdmin):
    list_display = ["phase", "metric", "comparison", "direction", "threshold", "critical", "weight"]
    list_filter = ["metric", "comparison", "critical"]
    search_fields = ["phase__pilot__name"]
    list_select_related = ["phase__pilot"]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> ExitCriterion:
        fields = services.phases.CRITERION_FIELDS
        return services.exit_criterion_add(
            phase=data["phase"], actor=request.user, **_only(data, fields)
        )

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> ExitCriterion:
        if "phase" in data:
            raise services.DomainError({"phase": "A criterion cannot move to another phase."})
        return services.exit_criterion_update(
            criterion=obj, actor=request.user, data=_only(data, services.phases.CRITERION_FIELDS)
        )

    def service_delete(self, request: HttpRequest, obj: Any) -> None:
        services.exit_criterion_remove(criterion=obj, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The delete confirmation would otherwise end in the service's refusal.
        if obj is not None and (
            obj.phase.status not in EDITABLE_PHASES or obj.phase.pilot.is_closed
        ):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(RaciActivity)
class RaciActivityAdmin(ServiceAdmin):
    """Activities are added here (or on the RACI page); their letters are
    kept on the RACI page, where the whole matrix is checked."""

    list_display = ["name", "pilot", "key", "order"]
    list_filter = ["key"]
    search_fields = ["name", "pilot__name"]
    list_select_related = ["pilot"]
    fields = ["pilot", "name"]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> RaciActivity:
        return services.activity_add(pilot=data["pilot"], actor=request.user, name=data["name"])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RaciAssignment)
class RaciAssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class ReadinessAnswerAdmin(ServiceAdmin):
    """Answers are changed (each pilot has its five questions from the start)."""

    list_display = ["pilot", "question", "answer", "answered_by", "answered_at"]
    list_filter = ["question", "answer"]
    search_fields = ["pilot__name", "evidence"]
    list_select_related = ["pilot", "answered_by"]
    readonly_fields = ["pilot", "question", "answered_by", "answered_at"]

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> Any:
        return services.readiness_answer(
            pilot=obj.pilot,
            actor=request.user,
            question=obj.question,
            answer=data.get("answer", obj.answer),
            evidence=data.get("evidence", obj.evidence),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
