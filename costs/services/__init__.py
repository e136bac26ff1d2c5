"""Writes of the costs app, one module per topic. ``bills``: FOCUS bill
imports and bill mappings."""

from costs.services.bills import (
    BillMatcher,
    bill_import_create,
    bill_import_progress_key,
    bill_import_run,
    bill_imports_requeue_stale,
    bill_mapping_create,
    bill_mapping_delete,
    bill_mapping_update,
    bill_rows_reassign,
)

__all__ = [
    "BillMatcher",
    "bill_import_create",
    "bill_import_progress_key",
    "bill_import_run",
    "bill_imports_requeue_stale",
    "bill_mapping_create",
    "bill_mapping_delete",
    "bill_mapping_update",
    "bill_rows_reassign",
]
