"""Admin of the costs app: cost centers, cost models, usage mappings and bill
mappings save through their services (``portal.admin.ServiceAdmin``); the
stored daily allocation, bill imports and bill rows are read-only (written
by the allocation service, or facts from the provider)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from costs import services
from costs.models import (
    BackendDay,
    BillImport,
    BillMapping,
    BillRow,
    CostCenter,
    CostModel,
    DailyAllocation,
    UsageMapping,
)
from costs.services import bill_mapping_create, bill_mapping_delete, bill_mapping_update
from costs.services.showback import COST_CENTER_FIELDS, COST_MODEL_FIELDS, MAPPING_FIELDS
from portal.admin import ReadOnlyAdmin, ServiceAdmin

BILL_MAPPING_FIELDS = ("backend", "column", "tag_key", "pattern", "order")


@admin.register(BillImport)
class BillImportAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "original_filename",
        "status",
        "rows_read",
        "rows_stored",
        "duplicates",
        "rejected",
        "currency_refused",
        "unmatched_count",
        "effective_cost",
    ]
    list_filter = ["status", "source"]
    search_fields = ["original_filename"]
    list_select_related = ["created_by"]


@admin.register(BillRow)
class BillRowAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "job",
        "line",
        "provider_name",
        "service_name",
        "charge_category",
        "charge_period_start",
        "effective_cost",
        "billed_cost",
        "list_cost",
        "backend",
    ]
    list_filter = ["charge_category", "provider_name", "backend"]
    search_fields = ["resource_id", "service_name", "sku_id"]
    list_select_related = ["job", "backend"]
    show_full_result_count = False


@admin.register(BillMapping)
class BillMappingAdmin(ServiceAdmin):
    list_display = ["order", "column", "tag_key", "pattern", "backend"]
    list_select_related = ["backend"]
    fields = list(BILL_MAPPING_FIELDS)

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> BillMapping:
        return bill_mapping_create(
            actor=request.user, **{k: v for k, v in data.items() if k in BILL_MAPPING_FIELDS}
        )

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> BillMapping:
        return bill_mapping_update(
            actor=request.user,
            mapping=obj,
            **{k: v for k, v in data.items() if k in BILL_MAPPING_FIELDS},
        )

    def service_delete(self, request: HttpRequest, obj: Any) -> None:
        bill_mapping_delete(actor=request.user, mapping=obj)


def _only(data: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key in allowed}


@admin.register(CostCenter)
class CostCenterAdmin(ServiceAdmin):
    list_display = ["code", "name", "owner", "is_platform", "is_active"]
    list_filter = ["is_platform", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["members"]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        members = list(data.get("members") or [])
        return services.cost_center_create(
            actor=request.user, members=members, **_only(data, COST_CENTER_FIELDS)
        )

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> models.Model:
        members = data.get("members")
        return services.cost_center_update(
            actor=request.user,
            center=obj,
            data=_only(data, COST_CENTER_FIELDS),
            members=None if members is None else list(members),
        )

    def service_delete(self, request: HttpRequest, obj: models.Model) -> None:
        assert isinstance(obj, CostCenter)
        services.cost_center_delete(actor=request.user, center=obj)


@admin.register(CostModel)
class CostModelAdmin(ServiceAdmin):
    list_display = ["backend", "effective_from", "kind", "idle_policy", "basis"]
    list_filter = ["kind", "backend"]
    list_select_related = ["backend"]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        return services.cost_model_create(actor=request.user, data=_only(data, COST_MODEL_FIELDS))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> models.Model:
        return services.cost_model_update(
            actor=request.user, model=obj, data=_only(data, COST_MODEL_FIELDS)
        )

    def service_delete(self, request: HttpRequest, obj: models.Model) -> None:
        assert isinstance(obj, CostModel)
        services.cost_model_delete(actor=request.user, model=obj)


@admin.register(UsageMapping)
class UsageMappingAdmin(ServiceAdmin):
    list_display = ["label", "value", "cost_center", "order"]
    list_select_related = ["cost_center"]
    search_fields = ["label", "value"]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        return services.usage_mapping_create(actor=request.user, data=_only(data, MAPPING_FIELDS))

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> models.Model:
        return services.usage_mapping_update(
            actor=request.user, mapping=obj, data=_only(data, MAPPING_FIELDS)
        )

    def service_delete(self, request: HttpRequest, obj: models.Model) -> None:
        assert isinstance(obj, UsageMapping)
        services.usage_mapping_delete(actor=request.user, mapping=obj)


@admin.register(BackendDay)
class BackendDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "backend", "cost", "power_source", "utilization"]
    list_filter = ["backend"]
    date_hierarchy = "day"


@admin.register(DailyAllocation)
class DailyAllocationAdmin(ReadOnlyAdmin):
    list_display = ["day", "backend", "cost_center", "kind", "quantity", "amount"]
    list_filter = ["kind", "backend"]
    date_hierarchy = "day"
