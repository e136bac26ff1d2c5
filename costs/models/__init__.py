"""Models of the costs app, one module per topic: ``showback`` (cost
centers, cost models, usage mappings, daily allocations), ``chargeback``
(periods, statements, budgets) and ``bills`` (FOCUS bill imports and bill
mappings). Each topic's models are imported here (``from costs.models
import X``).
"""

from __future__ import annotations

from costs.models.bills import BillImport, BillMapping, BillRow
from costs.models.chargeback import (
    Budget,
    ChargebackPeriod,
    LateArrival,
    Statement,
    StatementLine,
    StatementLineKind,
)
from costs.models.showback import (
    AllocationBasis,
    AllocationKind,
    BackendDay,
    CostCenter,
    CostModel,
    CostModelKind,
    DailyAllocation,
    DayOpexSource,
    IdlePolicy,
    OpexSource,
    PowerSource,
    UsageMapping,
)

__all__ = [
    "AllocationBasis",
    "AllocationKind",
    "BackendDay",
    "BillImport",
    "BillMapping",
    "BillRow",
    "Budget",
    "ChargebackPeriod",
    "CostCenter",
    "CostModel",
    "CostModelKind",
    "DailyAllocation",
    "DayOpexSource",
    "IdlePolicy",
    "LateArrival",
    "OpexSource",
    "PowerSource",
    "Statement",
    "StatementLine",
    "StatementLineKind",
    "UsageMapping",
]
