"""Models of the costs app, one module per topic: ``showback`` (cost
centers, cost models, usage mappings, daily allocations), ``chargeback``
(periods, statements, budgets) and ``bills`` (FOCUS bill imports and bill
mappings). Each topic's models are imported here (``from costs.models
import X``)."""

from costs.models.showback import (
    AllocationBasis,
    AllocationKind,
    BackendDay,
    CostCenter,
    CostModel,
    CostModelKind,
    DailyAllocation,
    IdlePolicy,
    PowerSource,
    UsageMapping,
)
from costs.models.chargeback import Budget, ChargebackPeriod, LateArrival, Statement, StatementLine, StatementLineKind  # noqa: E501

__all__ = [
    "AllocationBasis",
    "AllocationKind",
    "BackendDay",
    "Budget",
    "ChargebackPeriod",
    "LateArrival",
    "Statement",
    "StatementLine",
    "StatementLineKind",
    "CostCenter",
    "CostModel",
    "CostModelKind",
    "DailyAllocation",
    "IdlePolicy",
    "PowerSource",
    "UsageMapping",
]
