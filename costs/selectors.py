"""Reads of the costs app shared by pages, the API, chargeback and the
review evidence.

Showback reads the stored daily rows (``BackendDay``, ``DailyAllocation``)
only, never the metrics rollups, in a constant number of queries whatever
the number of days, backends or cost centers. Month figures follow issue 9,
§4: a backend's month cost is the sum of its days rounded to the cent
(half-even); its lines are their days' sums rounded by the largest-remainder
method (ties by cost center code, then kind) onto that cost
(``costs.allocation.round_month``). Unit economics (§5) are computed from
the rounded month cost by ``costs.economics``.

Bills: the import list, a job's progress and per-backend totals, the
unmatched rows of a billing period, and a backend's billed cost of a day
(what the ``billed`` cost-model kind calls).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from costs import economics
from costs.allocation import round_month
from costs.billing import bill_day_costs, bill_row_day_cost
from costs.models import (
    AllocationKind,
    BackendDay,
    BillImport,
    BillMapping,
    BillRow,
    ChargebackPeriod,
    CostCenter,
    DailyAllocation,
    DayOpexSource,
)
from costs.pricing import ContractFee, FeePeriod
from pilots.models import Backend, Contract, Pilot
from portal.roles import Role, user_roles

__all__ = [
    "BackendEconomics",
    "BackendShowback",
    "BillTotals",
    "Period",
    "ShowbackLine",
    "ShowbackReport",
    "UnitEconomics",
    "UnmatchedSummary",
    "backend_contract_fees",
    "backend_economics",
    "bill_backend_day_cost",
    "bill_backend_day_costs",
    "bill_import_backends",
    "bill_import_list",
    "bill_import_progress",
    "bill_mapping_list",
    "bill_unmatched",
    "monthly_unit_costs",
    "parse_period",
    "pilot_economics",
    "sees_every_cost_center",
    "showback",
    "unit_economics_window",
    "visible_cost_center_ids",
]

_PERIOD = re.compile(r"^(?!0000)(\d{4})-(0[1-9]|1[0-2])$")


_ZERO = Decimal(0)


def parse_period(value: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` as its [start, end) in aware UTC; ValidationError naming
    the field ``period`` otherwise."""
    match = _PERIOD.match(value.strip())
    if not match:
        raise ValidationError({"period": "Give a month as YYYY-MM, e.g. 2024-09."})
    year, month = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def bill_import_list() -> QuerySet[BillImport]:
    """Bill imports, newest first, without the large fields lists never show."""
    return BillImport.objects.select_related("created_by").defer(
        "rejects", "missing_columns", "error"
    )


def bill_mapping_list() -> QuerySet[BillMapping]:
    return BillMapping.objects.select_related("backend").order_by("order", "id")


def bill_import_progress(job: BillImport) -> tuple[int, int]:
    """(bytes done, bytes total) of a job, for the page's progress bar. A
    running job publishes progress to the cache (its rows are invisible to
    other connections until commit)."""
    from costs.services.bills import bill_import_progress_key

    total = job.bytes_total or job.size_bytes
    if job.status == BillImport.Status.SUCCEEDED:
        return total, total
    if job.status == BillImport.Status.FAILED:
        return job.bytes_done, total
    cached = cache.get(bill_import_progress_key(job.pk))
    done = max(job.bytes_done, int(cached) if cached is not None else 0)
    return min(done, total), total


@dataclass
class BillTotals:
    """Row count and cost totals of a group of bill rows."""

    rows: int = 0
    billed_cost: Decimal = _ZERO
    effective_cost: Decimal = _ZERO
    list_cost: Decimal = _ZERO
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _totals() -> dict[str, Any]:
    return {
        "rows": Count("pk"),
        "billed": Sum("billed_cost"),
        "effective": Sum("effective_cost"),
        "listed": Sum("list_cost"),
    }


def _as_totals(values: dict[str, Any], label: str = "") -> BillTotals:
    return BillTotals(
        rows=values["rows"] or 0,
        billed_cost=values["billed"] or _ZERO,
        effective_cost=values["effective"] or _ZERO,
        list_cost=values["listed"] or _ZERO,
        label=label,
    )


def bill_import_backends(job: BillImport) -> list[BillTotals]:
    """The stored rows of one import by backend (unmatched last), with
    totals; one query."""
    rows = BillRow.objects.filter(job=job)
    grouped = (
        rows.values("backend__name", "backend__slug")
        .annotate(**_totals())
        .order_by("backend__name")
    )
    result = []
    for values in grouped:
        totals = _as_totals(values, values["backend__name"] or "")
        totals.extra = {"slug": values["backend__slug"] or ""}
        result.append(totals)
    result.sort(key=lambda t: (t.label == "", t.label))
    return result


@dataclass
class UnmatchedSummary:
    """The rows no bill mapping assigns, for one billing period (or all):
    totals, and the same by provider and service."""

    period: str
    total: BillTotals
    groups: list[BillTotals]


def bill_unmatched(period: str = "") -> UnmatchedSummary:
    """Unmatched bill rows whose billing period starts in ``period``
    (``YYYY-MM``; every period when empty), with their totals, grouped by
    ProviderName and ServiceName; two queries."""
    rows = BillRow.objects.filter(backend__isnull=True)
    if period:
        start, end = parse_period(period)
        rows = rows.filter(billing_period_start__gte=start, billing_period_start__lt=end)
    total = _as_totals(rows.aggregate(**_totals()))
    groups = []
    for values in (
        rows.values("provider_name", "service_name")
        .annotate(**_totals())
        .order_by("provider_name", "service_name")
    ):
        group = _as_totals(values, values["service_name"])
        group.extra = {"provider_name": values["provider_name"]}
        groups.append(group)
    return UnmatchedSummary(period=period, total=total, groups=groups)


def bill_backend_day_cost(*, backend_id: int, day: dt.date) -> Decimal:
    """A backend's cost on a UTC day from its mapped bill rows: each row's
    EffectiveCost spread over its charge period (``costs.billing``)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    rows = BillRow.objects.filter(
        backend_id=backend_id, charge_period_start__lt=end, charge_period_end__gte=start
    ).only("effective_cost", "charge_period_start", "charge_period_end")
    return bill_day_costs(rows, day)


def bill_backend_day_costs(
    *, backend_id: int, start: dt.date, end: dt.date
) -> dict[dt.date, Decimal]:
    """``bill_backend_day_cost`` of every UTC day ``start``..``end``
    (inclusive) at once, from one query: ``{day: cost}``, days no mapped
    row covers are absent. Each row's part of a day is
    ``costs.billing.bill_row_day_cost``, so every day equals
    ``bill_backend_day_cost`` of that day."""
    first = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    last = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    rows = BillRow.objects.filter(
        backend_id=backend_id, charge_period_start__lt=last, charge_period_end__gte=first
    ).only("effective_cost", "charge_period_start", "charge_period_end")
    costs: dict[dt.date, Decimal] = defaultdict(Decimal)
    with localcontext(Context(prec=80)):  # bill amounts have 28 digits
        for row in rows.iterator(chunk_size=2000):
            day = max(row.charge_period_start.astimezone(dt.UTC).date(), start)
            until = min(row.charge_period_end.astimezone(dt.UTC).date(), end)
            while day <= until:
                costs[day] += bill_row_day_cost(row, day)
                day += dt.timedelta(days=1)
    return dict(costs)


# Contract.fee_period's values as the calculator's type.
_FEE_PERIODS: dict[str, FeePeriod] = {
    "monthly": "monthly",
    "yearly": "yearly",
    "one_off": "one_off",
}


def backend_contract_fees(
    *, backend_ids: Collection[int], start: dt.date, end: dt.date
) -> dict[int, list[ContractFee]]:
    """The contracts covering each of ``backend_ids`` on any day
    ``start``..``end``, as the pricing calculator takes them (what an owned
    cost model with its opex "from contract" prices): ``{backend id:
    [ContractFee]}``, each with the number of backends its contract covers
    in all. Two queries."""
    wanted = set(backend_ids)
    contracts = {
        pk: (fee, period, first, last)
        for pk, fee, period, first, last in Contract.objects.filter(
            backends__in=wanted, start__lte=end, end__gte=start
        )
        .distinct()
        .values_list("pk", "fee", "fee_period", "start", "end")
    }
    covered: dict[int, list[int]] = defaultdict(list)
    for contract_id, backend_id in (
        Contract.backends.through.objects.filter(contract_id__in=list(contracts))
        .order_by("contract_id", "backend_id")
        .values_list("contract_id", "backend_id")
    ):
        covered[contract_id].append(backend_id)
    fees: dict[int, list[ContractFee]] = defaultdict(list)
    for contract_id, (fee, period, first, last) in sorted(
        contracts.items(), key=lambda item: (item[1][2], item[0])
    ):
        backends = covered[contract_id]
        for backend_id in backends:
            if backend_id in wanted:
                fees[backend_id].append(
                    ContractFee(
                        fee=fee,
                        fee_period=_FEE_PERIODS[period],
                        start=first,
                        end=last,
                        backends=len(backends),
                    )
                )
    return dict(fees)


CENT = Decimal("0.01")


FIGURE = Decimal(1).scaleb(-12)


UTILIZATION = Decimal("0.000001")


OTHER = "other"


_MONTH = re.compile(r"^(?!0000)(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month (UTC days)."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str | None) -> Period:
        """``YYYY-MM``; empty means the current UTC month. ValueError names the problem."""
        if not value:
            today = dt.datetime.now(dt.UTC).date()
            return cls(today.year, today.month)
        match = _MONTH.match(value.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"{value!r} is not a month: use YYYY-MM, e.g. 2026-11.")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the month."""
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _figure(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(FIGURE, rounding=ROUND_HALF_EVEN)


def sees_every_cost_center(user: Any) -> bool:
    """Finance and admins see every cost center's figures."""
    return bool(user_roles(user) & {Role.FINANCE, Role.ADMIN})


def visible_cost_center_ids(user: Any) -> set[int] | None:
    """The cost centers whose figures ``user`` may see: None means all
    (finance, admins); otherwise those the user owns or is a member of
    (one query)."""
    if sees_every_cost_center(user):
        return None
    if not user_roles(user):
        return set()
    return set(
        CostCenter.objects.filter(Q(owner=user) | Q(members=user)).values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class ShowbackLine:
    cost_center: str | None
    cost_center_name: str
    backend: str
    kind: str
    basis: str
    quantity: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class BackendShowback:
    backend: str
    name: str
    cost: Decimal
    idle: Decimal
    unmapped: Decimal
    utilization: Decimal
    idle_policy: str
    power_source: str | None
    days: int
    # Days priced from contract with no contract covering them (opex 0).
    days_without_contract: int = 0


@dataclass(frozen=True)
class ShowbackReport:
    period: Period
    currency: str
    status: str
    backends: list[BackendShowback]
    lines: list[ShowbackLine]
    total: Decimal

    def by_cost_center(self) -> dict[str, dict[str, Decimal]]:
        """{cost center label: {backend slug: amount}} (the stacked chart)."""
        out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for line in self.lines:
            label = line.cost_center or ("unmapped" if line.kind == "unmapped" else line.kind)
            out[label][line.backend] += line.amount
        return {label: dict(values) for label, values in sorted(out.items())}


def _same_or_mixed(low: str | None, high: str | None) -> str:
    if low is None:
        return ""
    return low if low == high else "mixed"


def _month_utilization(row: dict[str, Any]) -> Decimal:
    """rho of the month: min(1, T / K) over the days with a capacity, where
    T is their prompt+generated tokens and K their capacity × 86,400
    summed; without any capacity, 1 when anything was used, else 0."""
    if row["capacity_days"]:
        capacity = row["month_capacity"] or _ZERO
        tokens = row["capacity_day_tokens"] or _ZERO
        if capacity <= 0:
            return _ZERO
        return min(Decimal(1), tokens / capacity).quantize(UTILIZATION)
    return Decimal(1) if (row["month_basis"] or _ZERO) > 0 else _ZERO


def _power_source(row: dict[str, Any]) -> str | None:
    measured, nameplate = row["measured_days"], row["nameplate_days"]
    if measured and nameplate:
        return "mixed"
    if measured:
        return "measured"
    if nameplate:
        return "nameplate"
    return None


_DAY_AGGREGATES: dict[str, Any] = {
    "month_cost": Sum("cost"),
    "days": Count("id"),
    "prompt": Sum("prompt_tokens"),
    "generated": Sum("generated_tokens"),
    "requests_total": Sum("requests"),
    "month_basis": Sum("basis_total"),
    "capacity_days": Count("id", filter=Q(capacity_tokens__isnull=False)),
    "month_capacity": Sum("capacity_tokens"),
    "capacity_day_tokens": Sum("prompt_tokens", filter=Q(capacity_tokens__isnull=False)),
    "capacity_day_generated": Sum("generated_tokens", filter=Q(capacity_tokens__isnull=False)),
    "measured_days": Count("id", filter=Q(power_source="measured")),
    "nameplate_days": Count("id", filter=Q(power_source="nameplate")),
    "no_contract_days": Count("id", filter=Q(opex_source=DayOpexSource.NO_CONTRACT)),
    "policy_low": Min("idle_policy"),
    "policy_high": Max("idle_policy"),
    "basis_low": Min("basis"),
    "basis_high": Max("basis"),
}


def _backend_months(period: Period, backend_slug: str | None) -> dict[int, dict[str, Any]]:
    rows = BackendDay.objects.filter(day__gte=period.start, day__lte=period.end)
    if backend_slug:
        rows = rows.filter(backend__slug=backend_slug)
    out: dict[int, dict[str, Any]] = {}
    for row in (
        rows.values("backend_id", "backend__slug", "backend__name")
        .order_by()
        .annotate(**_DAY_AGGREGATES)
    ):
        row["capacity_day_tokens"] = (row["capacity_day_tokens"] or _ZERO) + (
            row["capacity_day_generated"] or _ZERO
        )
        out[row["backend_id"]] = row
    return out


def showback(
    *,
    period: Period,
    user: Any,
    backend: str | None = None,
    cost_center: str | None = None,
) -> ShowbackReport:
    """A month's showback as ``user`` may see it (issue 9, §6): per backend
    its cost, idle, unmapped, utilization, idle policy and power source; its
    lines (usage, shadow, unmapped, idle; lines of cost centers the user may
    not see, or that ``cost_center`` filters out, summed into one ``other``
    line per backend), which add up exactly to its cost, and whether the
    month is closed. Four queries (three for finance and admins)."""
    visible = visible_cost_center_ids(user)
    months = _backend_months(period, backend)
    allocations = DailyAllocation.objects.filter(day__gte=period.start, day__lte=period.end)
    if backend:
        allocations = allocations.filter(backend__slug=backend)
    sums: dict[int, dict[tuple[int | None, str], dict[str, Any]]] = defaultdict(dict)
    # Grouped by ids and kind only (a cost center's code and name are one
    # value per group): grouping 30,000 lines of a month by the text
    # columns too made PostgreSQL sort them instead of hashing.
    for row in (
        allocations.values("backend_id", "cost_center_id", "kind")
        .order_by()
        .annotate(
            amount=Sum("amount"),
            quantity=Sum("quantity"),
            cost_center__code=Min("cost_center__code"),
            cost_center__name=Min("cost_center__name"),
        )
    ):
        sums[row["backend_id"]][(row["cost_center_id"], row["kind"])] = row

    backends: list[BackendShowback] = []
    lines: list[ShowbackLine] = []
    for backend_id, month in sorted(months.items(), key=lambda item: item[1]["backend__slug"]):
        slug = month["backend__slug"]
        parts = sums.get(backend_id, {})
        exact = {key: row["amount"] or _ZERO for key, row in parts.items()}
        codes = {key: row["cost_center__code"] for key, row in parts.items()}
        day_total = sum(exact.values(), _ZERO)

        def tie(key: tuple[int | None, str], codes: dict[Any, Any] = codes) -> tuple[str, str]:
            return (codes[key] or "", key[1])

        cost, rounded = round_month(day_total=day_total, lines=exact, tie_key=tie)
        basis = _same_or_mixed(month["basis_low"], month["basis_high"])
        other_amount = _ZERO
        other_quantity = _ZERO
        has_other = False
        idle = unmapped = _ZERO
        for key in sorted(rounded, key=lambda key: (codes[key] or "", key[1])):
            center_id, kind = key
            amount = rounded[key]
            row = parts[key]
            if kind == AllocationKind.IDLE:
                idle += amount
            if kind == AllocationKind.UNMAPPED:
                unmapped += amount
            # Every line of a cost center, the platform's idle included, is
            # shown only to who may see that center (the backend's idle
            # figure above stays, it is the backend's); lines of no center
            # (unmapped, idle without a platform center) are everyone's.
            hidden = center_id is not None and (
                (visible is not None and center_id not in visible)
                or (cost_center is not None and row["cost_center__code"] != cost_center)
            )
            if hidden:
                has_other = True
                other_amount += amount
                other_quantity += row["quantity"] or _ZERO
                continue
            lines.append(
                ShowbackLine(
                    cost_center=row["cost_center__code"],
                    cost_center_name=row["cost_center__name"] or "",
                    backend=slug,
                    kind=kind,
                    basis=basis,
                    quantity=None if kind == AllocationKind.IDLE else row["quantity"],
                    amount=amount,
                )
            )
        if has_other:
            lines.append(
                ShowbackLine(
                    cost_center=None,
                    cost_center_name="",
                    backend=slug,
                    kind=OTHER,
                    basis=basis,
                    quantity=other_quantity,
                    amount=other_amount,
                )
            )
        backends.append(
            BackendShowback(
                backend=slug,
                name=month["backend__name"],
                cost=cost,
                idle=idle,
                unmapped=unmapped,
                utilization=_month_utilization(month),
                idle_policy=_same_or_mixed(month["policy_low"], month["policy_high"]),
                power_source=_power_source(month),
                days=month["days"],
                days_without_contract=month["no_contract_days"],
            )
        )
    # A closed month shows its frozen figures (nothing rewrites a closed
    # day's rows) and says so.
    closed = ChargebackPeriod.objects.filter(
        period=str(period), status=ChargebackPeriod.Status.CLOSED
    ).exists()
    return ShowbackReport(
        period=period,
        currency=settings.PILOTGATE_CURRENCY,
        status="closed" if closed else "open",
        backends=backends,
        lines=lines,
        total=sum((b.cost for b in backends), _ZERO),
    )


@dataclass(frozen=True)
class BackendEconomics:
    """Issue 9, §5 for one backend and month; None where a figure cannot be
    computed (never 0 in its place)."""

    backend: str
    name: str
    cost: Decimal | None
    input_tokens: Decimal | None
    output_tokens: Decimal | None
    requests: Decimal | None
    cost_per_1m_tokens: Decimal | None
    cost_per_1m_input_tokens: Decimal | None
    cost_per_1m_output_tokens: Decimal | None
    split_method: str | None
    cost_per_inference: Decimal | None
    joules_per_token: Decimal | None
    utilization: Decimal | None
    goodput_fraction: Decimal | None
    latency_objective_seconds: Decimal | None
    cost_per_1m_goodput_tokens: Decimal | None
    capacity_tokens_per_second: Decimal | None
    average_hourly_cost: Decimal | None
    break_even: list[economics.BreakEvenPoint] = field(default_factory=list)
    operating_point: economics.BreakEvenPoint | None = None


_NAMED = frozenset({"backend", "name", "break_even", "operating_point"})


RATIO_FIGURES: tuple[str, ...] = (
    "cost",
    "input_tokens",
    "output_tokens",
    "requests",
    "cost_per_1m_tokens",
    "cost_per_1m_input_tokens",
    "cost_per_1m_output_tokens",
    "cost_per_inference",
    "joules_per_token",
    "utilization",
    "goodput_fraction",
    "cost_per_1m_goodput_tokens",
)


def _economics_of(backend: Mapping[str, Any], days: list[dict[str, Any]]) -> BackendEconomics:
    slug, name = backend["slug"], backend["name"]
    if not days:
        empty: dict[str, Any] = {
            f.name: None for f in fields(BackendEconomics) if f.name not in _NAMED
        }
        return BackendEconomics(backend=slug, name=name, **empty)
    days.sort(key=lambda d: d["day"])
    last = days[-1]
    cost = _cent(sum((d["cost"] for d in days), _ZERO))
    prompt = sum((d["prompt_tokens"] for d in days), _ZERO)
    generated = sum((d["generated_tokens"] for d in days), _ZERO)
    requests = sum((d["requests"] for d in days), _ZERO)
    energy_days = [d for d in days if d["energy_joules"] is not None]
    energy = sum((d["energy_joules"] for d in energy_days), _ZERO) if energy_days else None
    prefill_days = [
        d for d in days if d["prefill_seconds"] is not None and d["decode_seconds"] is not None
    ]
    prefill = sum((d["prefill_seconds"] for d in prefill_days), _ZERO) if prefill_days else None
    decode = sum((d["decode_seconds"] for d in prefill_days), _ZERO) if prefill_days else None
    split = economics.split_cost(
        cost=cost,
        input_tokens=prompt,
        output_tokens=generated,
        output_token_weight=last["output_token_weight"],
        prefill_seconds=prefill,
        decode_seconds=decode,
    )
    capacity_days = [d for d in days if d["capacity_tokens"] is not None]
    if capacity_days:
        capacity_total = sum((d["capacity_tokens"] for d in capacity_days), _ZERO)
        used = sum((d["prompt_tokens"] + d["generated_tokens"] for d in capacity_days), _ZERO)
        utilization: Decimal | None = min(Decimal(1), used / capacity_total).quantize(UTILIZATION)
    else:
        utilization = Decimal(1) if any(d["basis_total"] > 0 for d in days) else _ZERO
    objective = last["latency_objective_seconds"]
    goodput: Decimal | None = None
    if objective is not None:
        merged: dict[float, float] = defaultdict(float)
        for d in days:
            for le, count in (d["latency_buckets"] or {}).items():
                merged[float(le)] += float(count)
        fraction = economics.fraction_within(float(objective), merged) if merged else None
        goodput = None if fraction is None else Decimal(repr(fraction)).quantize(FIGURE)
    capacity = last["capacity_tokens_per_second"]
    hourly = economics.average_hourly_cost(cost=cost, hours=len(days) * 24)
    curve = economics.break_even_curve(
        average_hourly_cost=hourly,
        capacity_tokens_per_second=capacity,
        measured_utilization=utilization if capacity is not None else None,
    )
    return BackendEconomics(
        backend=slug,
        name=name,
        cost=cost,
        input_tokens=prompt,
        output_tokens=generated,
        requests=requests,
        cost_per_1m_tokens=_figure(
            economics.cost_per_1m_tokens(cost=cost, input_tokens=prompt, output_tokens=generated)
        ),
        cost_per_1m_input_tokens=_figure(split.cost_per_1m_input_tokens),
        cost_per_1m_output_tokens=_figure(split.cost_per_1m_output_tokens),
        split_method=split.method,
        cost_per_inference=_figure(economics.cost_per_inference(cost=cost, requests=requests)),
        joules_per_token=_figure(
            economics.joules_per_token(
                energy_joules=energy,
                input_tokens=sum((d["prompt_tokens"] for d in energy_days), _ZERO),
                output_tokens=sum((d["generated_tokens"] for d in energy_days), _ZERO),
            )
        ),
        utilization=utilization,
        goodput_fraction=goodput,
        latency_objective_seconds=objective,
        cost_per_1m_goodput_tokens=_figure(
            economics.cost_per_1m_goodput_tokens(
                cost=cost,
                input_tokens=prompt,
                output_tokens=generated,
                goodput_fraction=float(goodput) if goodput is not None else None,
            )
        ),
        capacity_tokens_per_second=capacity,
        average_hourly_cost=_figure(hourly),
        break_even=[]
        if curve is None
        else [
            economics.BreakEvenPoint(p.utilization, _figure(p.cost_per_1m_tokens) or _ZERO)
            for p in curve.points
        ],
        operating_point=None
        if curve is None or curve.operating_point is None
        else economics.BreakEvenPoint(
            curve.operating_point.utilization,
            _figure(curve.operating_point.cost_per_1m_tokens) or _ZERO,
        ),
    )


_ECONOMICS_FIELDS = (
    "backend_id",
    "day",
    "cost",
    "prompt_tokens",
    "generated_tokens",
    "requests",
    "energy_joules",
    "prefill_seconds",
    "decode_seconds",
    "capacity_tokens",
    "capacity_tokens_per_second",
    "output_token_weight",
    "latency_objective_seconds",
    "latency_buckets",
    "basis_total",
)


def backend_economics(
    *, period: Period, backend_ids: Collection[int] | None = None, with_empty: bool = False
) -> list[BackendEconomics]:
    """§5 figures per backend for a month, by backend slug. Two queries.
    ``with_empty`` lists backends without any cost in the month too (all
    figures None)."""
    backends = Backend.objects.order_by("slug")
    if backend_ids is not None:
        backends = backends.filter(pk__in=list(backend_ids))
    by_id = {row["pk"]: row for row in backends.values("pk", "slug", "name")}
    rows = BackendDay.objects.filter(
        day__gte=period.start, day__lte=period.end, backend_id__in=list(by_id)
    ).values(*_ECONOMICS_FIELDS)
    days: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        days[row["backend_id"]].append(row)
    return [
        _economics_of(backend, days.get(pk, []))
        for pk, backend in by_id.items()
        if with_empty or pk in days
    ]


def pilot_economics(*, pilot: Pilot, period: Period) -> dict[str, Any]:
    """The pilot's candidate against its baseline for a month: each §5
    figure and the ratio candidate / baseline (None when either is None or
    the baseline is 0). Two queries."""
    figures = {
        e.backend: e
        for e in backend_economics(
            period=period,
            backend_ids=[pilot.candidate_backend_id, pilot.baseline_backend_id],
            with_empty=True,
        )
    }
    candidate = figures[pilot.candidate_backend.slug]
    baseline = figures[pilot.baseline_backend.slug]
    ratios: dict[str, Decimal | None] = {}
    for name in RATIO_FIGURES:
        a, b = getattr(candidate, name), getattr(baseline, name)
        ratios[name] = None if a is None or b is None or b == 0 else _figure(a / b)
    return {"candidate": candidate, "baseline": baseline, "ratios": ratios}


def monthly_unit_costs(
    *, last: Period, months: int = 12
) -> dict[str, list[tuple[Period, Decimal | None]]]:
    """$/1M tokens per backend slug for the ``months`` months up to
    ``last``, None for a month without cost or tokens. One query."""
    first = last.shift(-(months - 1))
    rows = (
        BackendDay.objects.filter(day__gte=first.start, day__lte=last.end)
        .annotate(month=TruncMonth("day"))
        .values("backend__slug", "month")
        .order_by()
        .annotate(
            month_cost=Sum("cost"), prompt=Sum("prompt_tokens"), generated=Sum("generated_tokens")
        )
    )
    found: dict[str, dict[Period, Decimal | None]] = defaultdict(dict)
    for row in rows:
        month = row["month"]
        found[row["backend__slug"]][Period(month.year, month.month)] = economics.cost_per_1m_tokens(
            cost=_cent(row["month_cost"]),
            input_tokens=row["prompt"],
            output_tokens=row["generated"],
        )
    periods = [first.shift(i) for i in range(months)]
    return {
        slug: [(p, _figure(values.get(p))) for p in periods]
        for slug, values in sorted(found.items())
    }


@dataclass(frozen=True)
class UnitEconomics:
    """A backend's cost and usage over whole UTC days of a window (for the
    review evidence)."""

    start: dt.date
    end: dt.date
    cost: Decimal | None
    input_tokens: Decimal | None
    output_tokens: Decimal | None
    requests: Decimal | None
    cost_per_1m_tokens: Decimal | None
    cost_per_inference: Decimal | None


def unit_economics_window(
    *, backend: Backend, start: dt.datetime, end: dt.datetime
) -> UnitEconomics | None:
    """Cost, tokens, requests, $/1M tokens and $/inference of ``backend``
    over the whole UTC days inside [start, end), from the stored daily rows
    (cost: the days' sum rounded to the cent, half-even). None when the
    window holds no whole day or no day has a cost. One query."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    start_utc, end_utc = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    first = start_utc.date()
    if start_utc != dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC):
        first += dt.timedelta(days=1)
    last = end_utc.date() - dt.timedelta(days=1)  # end is exclusive
    if last < first:
        return None
    row = BackendDay.objects.filter(backend=backend, day__gte=first, day__lte=last).aggregate(
        days=Count("id"),
        month_cost=Sum("cost"),
        prompt=Sum("prompt_tokens"),
        generated=Sum("generated_tokens"),
        month_requests=Sum("requests"),
    )
    if not row["days"]:
        return None
    cost = _cent(row["month_cost"])
    return UnitEconomics(
        start=first,
        end=last,
        cost=cost,
        input_tokens=row["prompt"],
        output_tokens=row["generated"],
        requests=row["month_requests"],
        cost_per_1m_tokens=_figure(
            economics.cost_per_1m_tokens(
                cost=cost, input_tokens=row["prompt"], output_tokens=row["generated"]
            )
        ),
        cost_per_inference=_figure(
            economics.cost_per_inference(cost=cost, requests=row["month_requests"])
        ),
    )


def iter_lines_by_backend(
    report: ShowbackReport,
) -> Iterable[tuple[BackendShowback, list[ShowbackLine]]]:
    """The report's backends, each with its lines (pages)."""
    lines: dict[str, list[ShowbackLine]] = defaultdict(list)
    for line in report.lines:
        lines[line.backend].append(line)
    for backend in report.backends:
        yield backend, lines.get(backend.backend, [])


def currency() -> str:
    """The portal's one reporting currency."""
    return str(settings.PILOTGATE_CURRENCY)
