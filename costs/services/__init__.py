"""Writes of the costs app, one module per topic: ``allocation`` (the one
place that computes and stores daily allocations, reused by chargeback and
the review evidence), ``showback`` (cost centers, cost models, usage
mappings), ``bills`` (FOCUS bill imports and bill mappings), ``chargeback``
(closing months into frozen statements, restatements, late data) and
``budgets`` (budgets and their alerts).
"""

from __future__ import annotations

from costs.services.allocation import (
    RefreshResult,
    allocation_refresh,
    allocation_refresh_later,
    is_day_closed,
)
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
from costs.services.budgets import (
    BudgetStatus,
    budget_delete,
    budget_set,
    budget_statuses,
    budgets_check,
)
from costs.services.chargeback import (
    ChargebackError,
    PeriodConflict,
    period_check_late,
    period_close,
    period_record_late_arrival,
    period_restate,
)
from costs.services.showback import (
    cost_center_create,
    cost_center_delete,
    cost_center_update,
    cost_model_create,
    cost_model_delete,
    cost_model_update,
    usage_mapping_create,
    usage_mapping_delete,
    usage_mapping_update,
)

__all__ = [
    "BillMatcher",
    "BudgetStatus",
    "ChargebackError",
    "PeriodConflict",
    "RefreshResult",
    "allocation_refresh",
    "allocation_refresh_later",
    "bill_import_create",
    "bill_import_progress_key",
    "bill_import_run",
    "bill_imports_requeue_stale",
    "bill_mapping_create",
    "bill_mapping_delete",
    "bill_mapping_update",
    "bill_rows_reassign",
    "budget_delete",
    "budget_set",
    "budget_statuses",
    "budgets_check",
    "cost_center_create",
    "cost_center_delete",
    "cost_center_update",
    "cost_model_create",
    "cost_model_delete",
    "cost_model_update",
    "is_day_closed",
    "period_check_late",
    "period_close",
    "period_record_late_arrival",
    "period_restate",
    "usage_mapping_create",
    "usage_mapping_delete",
    "usage_mapping_update",
]
