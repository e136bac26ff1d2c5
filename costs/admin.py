"""Admin of the costs app: bill imports and bill rows are read-only (facts
from the provider); bill mappings save through their services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from costs.models import BillImport, BillMapping, BillRow
from costs.services import bill_mapping_create, bill_mapping_delete, bill_mapping_update
from portal.admin import ReadOnlyAdmin, ServiceAdmin

MAPPING_FIELDS = ("backend", "column", "tag_key", "pattern", "order")


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
    fields = list(MAPPING_FIELDS)

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> BillMapping:
        return bill_mapping_create(
            actor=request.user, **{k: v for k, v in data.items() if k in MAPPING_FIELDS}
        )

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> BillMapping:
        return bill_mapping_update(
            actor=request.user,
            mapping=obj,
            **{k: v for k, v in data.items() if k in MAPPING_FIELDS},
        )

    def service_delete(self, request: HttpRequest, obj: Any) -> None:
        bill_mapping_delete(actor=request.user, mapping=obj)
