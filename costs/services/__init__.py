"""Writes of the costs app: the allocation service (``allocation``: the one
place that computes and stores daily allocations, reused by chargeback and
the review evidence) and showback's configuration (``showback``: cost
centers, cost models, usage mappings)."""

from costs.services.allocation import (
    RefreshResult,
    allocation_refresh,
    allocation_refresh_later,
    is_day_closed,
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
    "BudgetStatus",
    "ChargebackError",
    "PeriodConflict",
    "RefreshResult",
    "allocation_refresh",
    "allocation_refresh_later",
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
