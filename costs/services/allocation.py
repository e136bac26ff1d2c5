"""The allocation service (issue 9, §3-§4): THE one place that turns a
backend's cost model and its usage rollups into stored daily rows.

For each backend and UTC day: the cost model in effect (the latest
``effective_from`` on or before the day) prices the day with
``costs.pricing.day_cost``, or, for a ``billed`` model, with the
EffectiveCost of the backend's mapped FOCUS bill rows spread over the
day (``costs.selectors.bill_backend_day_costs``, one query per backend);
usage comes from the metrics rollups
(``metrics.selectors.usage_series``) and is keyed by cost center through
the usage mappings (lowest ``order`` wins; nobody's is ``unmapped``), or is
``shadow`` under the pilot's cost center when the series belongs to a pilot
whose shadow phase covered the hour; ``costs.allocation.allocate_day``
splits the cost. An owned model whose opex comes "from contract" takes the
day's monthly opex from the fees of the contracts covering the backend that
day (``costs.selectors.backend_contract_fees``, one query for all such
backends; ``costs.pricing.contract_opex_monthly``); on a day no contract
covers, its opex is 0 and the day says ``no_contract``. The rows of the
refreshed backend-days are replaced in one transaction, so running a
refresh twice changes nothing.

Showback, chargeback (closing a month runs this once more) and the review
evidence (``costs.selectors.unit_economics_window``) all read what this
writes.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from django.db import connection, transaction

from costs.allocation import allocate_day
from costs.models import (
    AllocationBasis,
    AllocationKind,
    BackendDay,
    CostCenter,
    CostModel,
    CostModelKind,
    DailyAllocation,
    DayOpexSource,
    OpexSource,
    UsageMapping,
)
from costs.pricing import EXACT_CONTEXT, ContractFee, DayCost, contract_opex_monthly, day_cost
from costs.selectors import backend_contract_fees, bill_backend_day_costs
from metrics import selectors as metrics_selectors
from metrics.selectors import SeriesUsage
from pilots.models import Backend, Phase, Pilot

__all__ = [
    "AMOUNT_PLACES",
    "RefreshResult",
    "allocation_lock",
    "allocation_refresh",
    "allocation_refresh_later",
    "closed_months",
    "is_day_closed",
    "resolve_cost_center",
    "utc_today",
]

logger = logging.getLogger(__name__)

AMOUNT_PLACES = 12
_AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
_QUANTITY_QUANTUM = Decimal("0.000001")
_ZERO = Decimal(0)
_SECONDS_PER_DAY = 86_400
# One advisory lock namespace for "allocation of backend N".
_LOCK_NAMESPACE = 90_091

Key = tuple[int | None, str]  # (cost center id or None, kind)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def is_day_closed(day: dt.date) -> bool:
    """Whether ``day`` lies in a closed chargeback period (never recomputed).
    The chargeback service answers (imported here: it imports this module)."""
    from costs.services.chargeback import day_is_closed

    return day_is_closed(day)


@dataclass(frozen=True)
class RefreshResult:
    backend_days: int
    lines: int


def _quantity(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_QUANTITY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def resolve_cost_center(labels: dict[str, str], mappings: list[UsageMapping]) -> int | None:
    """The cost center id of the first mapping (by order, then id) whose
    label the series carries with its value, or None (unmapped)."""
    for mapping in mappings:
        if labels.get(mapping.label) == mapping.value:
            return mapping.cost_center_id
    return None


class _ShadowHours:
    """Which pilot was in a shadow phase at which hour."""

    def __init__(self, pilot_ids: Collection[int]) -> None:
        self.spans: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
        self.cost_center: dict[int, int] = {}
        if not pilot_ids:
            return
        phases = Phase.objects.filter(
            pilot_id__in=list(pilot_ids), kind=Phase.Kind.SHADOW, actual_start__isnull=False
        ).values_list("pilot_id", "actual_start", "actual_end")
        for pilot_id, start, end in phases:
            assert start is not None  # filtered above
            self.spans[pilot_id].append((start, end))
        self.cost_center = dict(
            Pilot.objects.filter(pk__in=list(pilot_ids)).values_list("pk", "cost_center__pk")
        )

    def shadow_cost_center(self, pilot_id: int, hour: dt.datetime) -> int | None:
        """The pilot's cost center when its shadow phase covered ``hour``."""
        for start, end in self.spans.get(pilot_id, ()):
            if start <= hour and (end is None or hour < end):
                return self.cost_center.get(pilot_id)
        return None


def _model_for(models: list[CostModel], starts: list[dt.date], day: dt.date) -> CostModel | None:
    index = bisect.bisect_right(starts, day) - 1
    return models[index] if index >= 0 else None


def allocation_refresh(
    *, backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> RefreshResult:
    """Recompute and store the allocation of every open day ``start``..``end``
    (inclusive; days after today are skipped) of ``backend_ids`` (None: all
    backends). Idempotent: the stored rows of those backend-days are
    replaced, so a second run writes the same rows."""
    end = min(end, utc_today())
    if start > end:
        return RefreshResult(0, 0)
    backends = Backend.objects.order_by("pk")
    if backend_ids is not None:
        backends = backends.filter(pk__in=list(backend_ids))
    devices = dict(backends.values_list("pk", "device_count"))
    ids = sorted(devices)
    if not ids:
        return RefreshResult(0, 0)
    with transaction.atomic():
        # Everything below is read under the backends' locks: a refresh
        # reads what the one before it committed (an older reading is never
        # written last), and a month closed meanwhile (a close holds the
        # same locks until it commits) is seen closed here and left alone.
        allocation_lock(ids)
        _roomy_aggregates()
        closed = closed_months(start, end)
        days = [day for day in _days(start, end) if f"{day:%Y-%m}" not in closed]
        if not days:
            return RefreshResult(0, 0)
        days_out, lines_out = _compute(ids=ids, devices=devices, days=days)
        for model_class in (DailyAllocation, BackendDay):
            model_class.objects.filter(backend_id__in=ids, day__in=days).delete()
        BackendDay.objects.bulk_create(days_out, batch_size=2000)
        _store_lines(lines_out)
    return RefreshResult(len(days_out), len(lines_out))


def closed_months(start: dt.date, end: dt.date) -> frozenset[str]:
    """The closed months (``YYYY-MM``) among ``start``..``end``: their days
    are never recomputed. The chargeback service answers (imported here:
    it imports this module). One query."""
    from costs.services.chargeback import closed_periods

    return closed_periods(start, end)


def allocation_lock(backend_ids: Collection[int]) -> None:
    """Hold the allocation of ``backend_ids`` until the transaction ends.

    Two refreshes of one backend (an import and a cost-model change at
    once) would each delete the other's fresh rows and insert theirs: a
    unique violation, or the older reading written last. A refresh that
    read a month as open while a close committed would rewrite the closed
    month's rows. An advisory lock per backend, taken in id order (no
    deadlock) by every refresh before it reads and by a close before it
    reads what it freezes, serializes them; SQLite has a single writer."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for backend_id in sorted(set(backend_ids)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, backend_id])


def _roomy_aggregates() -> None:
    """Let this transaction's aggregates hash in memory: a month of usage
    is 90,000 (series, day) sums over 2 M hourly rollups for 20 backends ×
    50 cost centers, which the default 4 MB of ``work_mem`` spills to disk
    (measured: 1.5-1.8 s against 1.1-1.3 s)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '64MB'")


def _compute(
    *, ids: list[int], devices: dict[int, int], days: list[dt.date]
) -> tuple[list[BackendDay], list[_Line]]:
    """The daily rows of backends ``ids`` on ``days`` (sorted) from the
    cost models, mappings and usage as they are now."""
    start, end = days[0], days[-1]
    models: dict[int, list[CostModel]] = defaultdict(list)
    for model in CostModel.objects.filter(backend_id__in=ids, effective_from__lte=end).order_by(
        "backend_id", "effective_from"
    ):
        models[model.backend_id].append(model)
    mappings = list(UsageMapping.objects.order_by("order", "id"))
    codes = dict(CostCenter.objects.values_list("pk", "code"))
    platform = CostCenter.objects.filter(is_platform=True).values_list("pk", flat=True).first()

    series, day_rows, hour_rows = metrics_selectors.usage_series(
        backend_ids=ids, start=start, end=end
    )
    figures = metrics_selectors.backend_day_figures(backend_ids=ids, start=start, end=end)
    shadow = _ShadowHours({s.pilot_id for s in series.values() if s.pilot_id is not None})

    # (backend, day) -> key -> quantity name -> amount
    usage: dict[tuple[int, dt.date], dict[Key, dict[str, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    mapped: dict[int, Key] = {}

    def normal_key(info: SeriesUsage) -> Key:
        key = mapped.get(info.series_id)
        if key is None:
            center = resolve_cost_center(info.labels, mappings)
            key = (center, AllocationKind.USAGE) if center else (None, AllocationKind.UNMAPPED)
            mapped[info.series_id] = key
        return key

    for sid, day, increase in day_rows:
        info = series[sid]
        usage[(info.backend_id, day)][normal_key(info)][info.quantity] += _quantity(increase)
    for sid, hour, increase in hour_rows:
        info = series[sid]
        assert info.pilot_id is not None
        center = shadow.shadow_cost_center(info.pilot_id, hour)
        key = (center, AllocationKind.SHADOW) if center else normal_key(info)
        usage[(info.backend_id, hour.date())][key][info.quantity] += _quantity(increase)

    from_contract = sorted(
        {b for b, history in models.items() if any(_opex_from_contract(m) for m in history)}
    )
    contract_fees = (
        backend_contract_fees(backend_ids=from_contract, start=start, end=end)
        if from_contract
        else {}
    )

    days_out: list[BackendDay] = []
    lines_out: list[_Line] = []
    for backend_id in ids:
        history = models.get(backend_id, [])
        starts = [m.effective_from for m in history]
        billed: dict[dt.date, Decimal] | None = None
        if any(m.kind == CostModelKind.BILLED for m in history):
            billed = bill_backend_day_costs(backend_id=backend_id, start=start, end=end)
        for day in days:
            in_effect = _model_for(history, starts, day)
            if in_effect is None:
                continue
            row, lines = _allocate(
                backend_id=backend_id,
                device_count=devices[backend_id],
                day=day,
                model=in_effect,
                usage=usage.get((backend_id, day), {}),
                figures=figures.get((backend_id, day)),
                billed_cost=None if billed is None else billed.get(day, _ZERO),
                contract_fees=contract_fees.get(backend_id, []),
                codes=codes,
                platform=platform,
            )
            days_out.append(row)
            lines_out.extend(lines)
    return days_out, lines_out


def _opex_from_contract(model: CostModel) -> bool:
    return model.kind == CostModelKind.OWNED and model.opex_source == OpexSource.CONTRACT


def _priced(
    model: CostModel,
    *,
    day: dt.date,
    device_count: int,
    energy_joules: Decimal | None,
    contract_fees: list[ContractFee],
) -> tuple[DayCost, str]:
    """The day priced by its (cloud or owned) model, and where its opex
    came from (``DayOpexSource``; empty for cloud)."""
    figures = model.figures()
    source = ""
    if _opex_from_contract(model):
        monthly = contract_opex_monthly(contract_fees, day)
        source = DayOpexSource.CONTRACT if monthly is not None else DayOpexSource.NO_CONTRACT
        figures = dataclasses.replace(figures, opex_monthly=monthly or _ZERO)
    elif model.kind == CostModelKind.OWNED:
        source = DayOpexSource.TYPED
    priced = day_cost(figures, day=day, device_count=device_count, energy_joules=energy_joules)
    return priced, source


class _Line(NamedTuple):
    """One ``DailyAllocation`` row, as the columns it is written with."""

    day: dt.date
    backend_id: int
    cost_center_id: int | None
    kind: str
    quantity: Decimal | None
    amount: Decimal


_LINE_COLUMNS = ", ".join(_Line._fields)


def _store_lines(lines: list[_Line]) -> None:
    """Insert the lines. On PostgreSQL one INSERT from arrays (a month of
    20 backends × 50 cost centers is 30,000 rows: 2.5x faster than
    ``bulk_create``, which builds and adapts a model instance per row)."""
    if connection.vendor != "postgresql":
        DailyAllocation.objects.bulk_create(
            (DailyAllocation(**line._asdict()) for line in lines), batch_size=5000
        )
        return
    if not lines:
        return
    days, backends, centers, kinds, quantities, amounts = zip(*lines, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DailyAllocation._meta.db_table} ({_LINE_COLUMNS}) "  # noqa: S608 - names from the model
            "SELECT * FROM unnest(%s::date[], %s::bigint[], %s::bigint[], %s::varchar[], "
            "%s::numeric[], %s::numeric[])",
            # str(): a kind is a TextChoices member, which psycopg would
            # write by its name (IDLE), not its value (idle).
            [
                list(days),
                list(backends),
                list(centers),
                [str(k) for k in kinds],
                list(quantities),
                list(amounts),
            ],
        )


def _allocate(
    *,
    backend_id: int,
    device_count: int,
    day: dt.date,
    model: CostModel,
    usage: dict[Key, dict[str, Decimal]],
    figures: metrics_selectors.BackendDayFigures | None,
    billed_cost: Decimal | None,
    contract_fees: list[ContractFee],
    codes: dict[int, str],
    platform: int | None,
) -> tuple[BackendDay, list[_Line]]:
    energy = None if figures is None else figures.energy_joules
    energy_joules = None if energy is None else _quantity(energy)
    if model.kind == CostModelKind.BILLED:
        # The bill is the cost: no rental, amortization, opex or power of
        # ours (power_source stays empty); the energy is still recorded.
        bill = _ZERO if billed_cost is None else billed_cost
        priced = DayCost(
            amount=bill,
            rental=_ZERO,
            amortization=_ZERO,
            opex=_ZERO,
            power=_ZERO,
            power_source=None,
            energy_kwh=None,
        )
        opex_source = ""
    else:
        priced, opex_source = _priced(
            model,
            day=day,
            device_count=device_count,
            energy_joules=energy_joules,
            contract_fees=contract_fees,
        )
    # Stored at 12 places: the lines are apportioned onto the stored cost,
    # so they add up to it exactly.
    cost = priced.amount.quantize(_AMOUNT_QUANTUM, rounding=ROUND_HALF_EVEN)

    def basis_of(quantities: dict[str, Decimal]) -> Decimal:
        if model.basis == AllocationBasis.GENERATED_TOKENS:
            return quantities.get("generated_tokens", _ZERO)
        if model.basis == AllocationBasis.REQUESTS:
            return quantities.get("requests", _ZERO)
        return EXACT_CONTEXT.add(
            quantities.get("prompt_tokens", _ZERO), quantities.get("generated_tokens", _ZERO)
        )

    totals: dict[str, Decimal] = defaultdict(Decimal)
    basis: dict[Key, Decimal] = {}
    for key, quantities in usage.items():
        for name, amount in quantities.items():
            totals[name] += amount
        basis[key] = basis_of(quantities)
    total_tokens = totals["prompt_tokens"] + totals["generated_tokens"]
    capacity = model.capacity_tokens_per_second
    split = allocate_day(
        cost=cost,
        usage=basis,
        total_tokens=total_tokens,
        capacity_tokens_per_second=capacity,
        idle_policy="platform" if model.idle_policy == "platform" else "share",
        tie_key=lambda key: (codes.get(key[0], "") if key[0] else "", key[1]),
        places=AMOUNT_PLACES,
    )
    lines = [
        _Line(day, backend_id, center, kind, basis[(center, kind)], amount)
        for (center, kind), amount in split.lines.items()
        if amount or basis[(center, kind)]
    ]
    if split.idle:
        lines.append(_Line(day, backend_id, platform, AllocationKind.IDLE, None, split.idle))
    buckets = None if figures is None else figures.latency_buckets
    row = BackendDay(
        day=day,
        backend_id=backend_id,
        cost_model=model,
        cost=cost,
        rental=priced.rental.quantize(_AMOUNT_QUANTUM),
        amortization=priced.amortization.quantize(_AMOUNT_QUANTUM),
        opex=priced.opex.quantize(_AMOUNT_QUANTUM),
        power=priced.power.quantize(_AMOUNT_QUANTUM),
        power_source=priced.power_source or "",
        opex_source=opex_source,
        energy_joules=energy_joules,
        energy_kwh=None
        if priced.energy_kwh is None
        else priced.energy_kwh.quantize(_AMOUNT_QUANTUM),
        utilization=split.utilization.quantize(_AMOUNT_QUANTUM),
        idle_policy=model.idle_policy,
        basis=model.basis,
        basis_total=sum(basis.values(), _ZERO),
        capacity_tokens=None if capacity is None else capacity * _SECONDS_PER_DAY,
        capacity_tokens_per_second=capacity,
        output_token_weight=model.output_token_weight,
        latency_objective_seconds=model.latency_objective_seconds,
        prompt_tokens=totals["prompt_tokens"],
        generated_tokens=totals["generated_tokens"],
        requests=totals["requests"],
        prefill_seconds=None
        if figures is None or figures.prefill_seconds is None
        else _quantity(figures.prefill_seconds),
        decode_seconds=None
        if figures is None or figures.decode_seconds is None
        else _quantity(figures.decode_seconds),
        latency_buckets={}
        if not buckets
        else {("+Inf" if le == float("inf") else repr(le)): count for le, count in buckets.items()},
    )
    return row, lines


def allocation_refresh_later(
    *, backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> None:
    """Enqueue a refresh after the current transaction commits (the write
    that made it necessary must be visible to the worker)."""
    ids = None if backend_ids is None else sorted(set(backend_ids))
    first, last = start.isoformat(), end.isoformat()

    def enqueue() -> None:
        from costs.tasks import refresh_allocation

        refresh_allocation.delay(ids, first, last)

    transaction.on_commit(enqueue)
