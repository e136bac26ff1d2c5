"""Chargeback pages (issue 10, §5): periods, the close page with its
warnings, statements (list, printable detail, restatement diff), budgets,
and the finance exports (CSV, XLSX and FOCUS-shaped CSV of showback, each
statement and the unit economics).

Pages read stored rows only: the close page previews what the showback
selector reads now; nothing recomputes an allocation on a page view.
Exports are written by ``costs.exports`` (pure writers: typed cells,
formula injection neutralised)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from costs import exports, selectors
from costs.budget_panel import budget_panel
from costs.exports import Cell, Column, FocusExportContext, FocusExportLine, Sheet
from costs.models import (
    ChargebackPeriod,
    CostCenter,
    CostModel,
    Statement,
    StatementLine,
)
from costs.selectors import Period
from costs.services import (
    budget_set,
    period_check_late,
    period_close,
    period_restate,
)
from costs.services.chargeback import (
    month_drafts,
    months_with_data,
    period_status,
    statement_diff,
)
from metrics.models import ImportJob
from pilots.models import Backend
from portal.roles import COSTS_WRITE, may, role_required

STATEMENTS_PER_PAGE = 50


def _period_or_404(value: str) -> Period:
    try:
        return Period.parse(value)
    except ValueError:
        raise Http404 from None


def _visible(user: Any) -> QuerySet[Statement]:
    statements = Statement.objects.select_related("period", "replaces")
    visible = selectors.visible_cost_center_ids(user)
    if visible is not None:
        statements = statements.filter(cost_center_id__in=visible)
    return statements


# --- periods -----------------------------------------------------------------------


@role_required()
def period_list(request: HttpRequest) -> HttpResponse:
    """Every month with data: open or closed, its version, late data."""
    rows = {row.period: row for row in ChargebackPeriod.objects.all()}
    periods = [(p, rows.get(str(p))) for p in reversed(months_with_data())]
    return render(
        request,
        "costs/chargeback/period_list.html",
        {"nav": "chargeback", "periods": periods, "can_close": may(request.user, COSTS_WRITE)},
    )


@role_required()
def period_detail(request: HttpRequest, period: str) -> HttpResponse:
    """A month: its statements (the user's), late data since the close."""
    month = _period_or_404(period)
    row = ChargebackPeriod.objects.filter(period=str(month)).first()
    statements: list[Statement] = []
    versions: list[int] = []
    version = None
    if row is not None and row.version:
        versions = list(range(1, row.version + 1))
        try:
            version = int(request.GET.get("version") or row.version)
        except ValueError:
            version = row.version
        statements = list(_visible(request.user).filter(period=row, version=version))
    return render(
        request,
        "costs/chargeback/period_detail.html",
        {
            "nav": "chargeback",
            "period": month,
            "row": row,
            "statements": statements,
            "version": version,
            "versions": versions,
            "total": sum((s.total for s in statements), Decimal(0)),
            "can_close": may(request.user, COSTS_WRITE),
            "sees_all": selectors.sees_every_cost_center(request.user),
        },
    )


def _close_warnings(month: Period, report: selectors.ShowbackReport) -> dict[str, Any]:
    unmapped = [b for b in report.backends if b.unmapped]
    modelled = set(
        CostModel.objects.filter(effective_from__lte=month.end).values_list("backend_id", flat=True)
    )
    without_model = list(
        Backend.objects.filter(is_active=True).exclude(pk__in=modelled).order_by("slug")
    )
    window_start = dt.datetime.combine(month.start, dt.time(), tzinfo=dt.UTC)
    arriving = ImportJob.objects.filter(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING],
    ).count()
    late_months = list(
        ChargebackPeriod.objects.filter(status="closed", late_arrivals__gt=0).order_by("period")
    )
    return {
        "unmapped": unmapped,
        "without_model": without_model,
        "arriving": arriving,
        "late_months": late_months,
        "window_start": window_start,
    }


@role_required(COSTS_WRITE)
@require_http_methods(["GET", "POST"])
def period_close_page(request: HttpRequest, period: str) -> HttpResponse:
    """What closing ``period`` will freeze, the warnings, and the button."""
    month = _period_or_404(period)
    if request.method == "POST":
        try:
            closed = period_close(period=month, actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, f"Closed {closed.period}: version {closed.version} is frozen."
            )
            return redirect("chargeback-period", period=str(month))
    row = ChargebackPeriod.objects.filter(period=str(month)).first()
    report = selectors.showback(period=month, user=request.user)
    try:
        _, drafts = month_drafts(month)
        problem = None
    except ValidationError as exc:
        drafts, problem = {}, " ".join(exc.messages)
    preview = [
        (code, lines, sum((d.amount for d in lines if d.charged), Decimal(0)))
        for code, lines in sorted(drafts.items())
    ]
    return render(
        request,
        "costs/chargeback/close.html",
        {
            "nav": "chargeback",
            "period": month,
            "row": row,
            "report": report,
            "preview": preview,
            "problem": problem,
            "ended": month.end < dt.datetime.now(dt.UTC).date(),
            **_close_warnings(month, report),
        },
    )


@role_required(COSTS_WRITE)
@require_POST
def period_restate_page(request: HttpRequest, period: str) -> HttpResponse:
    month = _period_or_404(period)
    try:
        row = period_restate(
            period=month, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Restated {row.period} as version {row.version}.")
    return redirect("chargeback-period", period=str(month))


@role_required(COSTS_WRITE)
@require_POST
def period_late_check(request: HttpRequest, period: str) -> HttpResponse:
    month = _period_or_404(period)
    if period_check_late(period=month) is None:
        messages.error(request, f"{month} is not closed.")
    return redirect("chargeback-period", period=str(month))


# --- statements --------------------------------------------------------------------


@role_required()
def statement_list(request: HttpRequest) -> HttpResponse:
    """Statements the user may see, filtered by month, cost center, version
    (default: the latest version of each month)."""
    month = request.GET.get("period", "").strip()
    center = request.GET.get("cost_center", "").strip()
    version = request.GET.get("version", "").strip()
    statements = _visible(request.user).order_by("-period__period", "cost_center_code", "version")
    if month:
        statements = statements.filter(period__period=month)
    if center:
        statements = statements.filter(cost_center_code=center)
    if version.isdigit():
        statements = statements.filter(version=int(version))
    elif version != "all":
        statements = statements.filter(replaced_by__isnull=True)
    page = Paginator(statements, STATEMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "costs/chargeback/statement_list.html",
        {
            "nav": "chargeback",
            "page": page,
            "filters": {"period": month, "cost_center": center, "version": version},
        },
    )


def _statement(request: HttpRequest, number: str) -> Statement:
    return get_object_or_404(
        _visible(request.user).prefetch_related(
            Prefetch("lines", queryset=StatementLine.objects.order_by("position"))
        ),
        number=number,
    )


@role_required()
def statement_detail(request: HttpRequest, number: str) -> HttpResponse:
    """One statement, printable (one page), with the diff to the version it replaces."""
    statement = _statement(request, number)
    lines = list(statement.lines.all())
    diff = None
    if statement.replaces is not None:
        diff = statement_diff(list(statement.replaces.lines.order_by("position")), lines)
    later = Statement.objects.filter(replaces=statement).values_list("number", flat=True).first()
    return render(
        request,
        "costs/chargeback/statement_detail.html",
        {
            "nav": "chargeback",
            "statement": statement,
            "lines": lines,
            "diff": diff,
            "replaced_by": later,
            "can_close": may(request.user, COSTS_WRITE),
        },
    )


# --- exports -----------------------------------------------------------------------

_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _download(
    name: str, fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[Cell]], title: str
) -> HttpResponse:
    if fmt == "xlsx":
        out = io.BytesIO()
        exports.write_xlsx(out, [Sheet(title, columns, rows)], currency=settings.PILOTGATE_CURRENCY)
        response: HttpResponse = HttpResponse(out.getvalue(), content_type=_CONTENT_TYPES["xlsx"])
    else:
        # A month's export is small: one body (the page guard types views as HttpResponse).
        response = HttpResponse(
            "".join(exports.iter_csv(columns, rows, bom=True)), content_type=_CONTENT_TYPES["csv"]
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _focus_download(name: str, lines: list[FocusExportLine], month: Period) -> HttpResponse:
    start, end = _month_bounds(month)
    context = FocusExportContext(
        billing_period_start=start,
        billing_period_end=end,
        currency=settings.PILOTGATE_CURRENCY,
    )
    response = HttpResponse(
        "".join(
            exports.iter_csv(
                exports.FOCUS_EXPORT_COLUMNS, exports.focus_export_table(lines, context)
            )
        ),
        content_type=_CONTENT_TYPES["csv"],
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-focus.csv"'
    return response


def _month_bounds(month: Period) -> tuple[dt.datetime, dt.datetime]:
    """The month as a charge period: [1st 00:00Z, next 1st 00:00Z)."""
    return (
        dt.datetime.combine(month.start, dt.time(), tzinfo=dt.UTC),
        dt.datetime.combine(month.shift(1).start, dt.time(), tzinfo=dt.UTC),
    )


STATEMENT_COLUMNS = (
    Column("Statement"),
    Column("Period"),
    Column("Version", "integer"),
    Column("Cost center"),
    Column("Cost center name"),
    Column("Backend"),
    Column("Kind"),
    Column("Other cost center"),
    Column("Basis"),
    Column("Quantity", "number"),
    Column("Unit cost", "number"),
    Column("Amount", "money"),
    Column("Charged"),
    Column("Closed at", "datetime"),
    Column("Closed by"),
    Column("Content hash"),
)


@role_required()
def statement_export(request: HttpRequest, number: str, fmt: str) -> HttpResponse:
    statement = _statement(request, number)
    lines = list(statement.lines.all())
    month = Period.parse(statement.period.period)
    if fmt == "focus":
        start, end = _month_bounds(month)
        backend_kinds = {line.backend: line.backend_kind for line in lines}
        focus_lines = [
            FocusExportLine(
                amount=line.amount,
                backend=line.backend,
                backend_kind=backend_kinds[line.backend],
                cost_center=statement.cost_center_code,
                line_kind=line.kind,
                description=f"{statement.number} {line.get_kind_display()}"
                + (f" ({line.other_cost_center})" if line.other_cost_center else ""),
                pricing_quantity=line.quantity,
                pricing_unit=line.basis,
                charge_period_start=start,
                charge_period_end=end,
            )
            for line in lines
            if line.charged
        ]
        return _focus_download(statement.number, focus_lines, month)
    rows: list[list[Cell]] = [
        [
            statement.number,
            statement.period.period,
            statement.version,
            statement.cost_center_code,
            statement.cost_center_name,
            line.backend,
            line.kind,
            line.other_cost_center,
            line.basis,
            line.quantity,
            line.unit_cost,
            line.amount,
            "yes" if line.charged else "no (charged to the platform)",
            statement.closed_at,
            statement.closed_by_name,
            statement.content_hash,
        ]
        for line in lines
    ]
    return _download(statement.number, fmt, STATEMENT_COLUMNS, rows, statement.number)


SHOWBACK_COLUMNS = (
    Column("Period"),
    Column("Status"),
    Column("Backend"),
    Column("Cost center"),
    Column("Cost center name"),
    Column("Kind"),
    Column("Basis"),
    Column("Quantity", "number"),
    Column("Amount", "money"),
)


@role_required()
def showback_export(request: HttpRequest, period: str, fmt: str) -> HttpResponse:
    """The month's showback as the user may see it (closed months: the
    frozen figures, the allocation no longer touches their days)."""
    month = _period_or_404(period)
    report = selectors.showback(period=month, user=request.user)
    status = period_status(month)
    if fmt == "focus":
        start, end = _month_bounds(month)
        kinds = dict(Backend.objects.values_list("slug", "kind"))
        focus_lines = [
            FocusExportLine(
                amount=line.amount,
                backend=line.backend,
                backend_kind=kinds.get(line.backend, ""),
                cost_center=line.cost_center or line.kind,
                line_kind=line.kind,
                description=f"Showback {month} ({status})",
                pricing_quantity=line.quantity,
                pricing_unit=line.basis,
                charge_period_start=start,
                charge_period_end=end,
            )
            for line in report.lines
        ]
        return _focus_download(f"showback-{month}", focus_lines, month)
    rows: list[list[Cell]] = [
        [
            str(month),
            status,
            line.backend,
            line.cost_center or "",
            line.cost_center_name,
            line.kind,
            line.basis,
            line.quantity,
            line.amount,
        ]
        for line in report.lines
    ]
    return _download(f"showback-{month}", fmt, SHOWBACK_COLUMNS, rows, f"Showback {month}")


ECONOMICS_COLUMNS = (
    Column("Period"),
    Column("Backend"),
    Column("Name"),
    Column("Cost", "money"),
    Column("Input tokens", "number"),
    Column("Output tokens", "number"),
    Column("Requests", "number"),
    Column("Cost per 1M tokens", "money"),
    Column("Cost per 1M input tokens", "money"),
    Column("Cost per 1M output tokens", "money"),
    Column("Split method"),
    Column("Cost per inference", "number"),
    Column("Joules per token", "number"),
    Column("Utilization", "number"),
    Column("Goodput fraction", "number"),
    Column("Cost per 1M goodput tokens", "money"),
)


@role_required()
def economics_export(request: HttpRequest, period: str, fmt: str) -> HttpResponse:
    month = _period_or_404(period)
    if fmt == "focus":
        raise Http404
    rows: list[list[Cell]] = [
        [
            str(month),
            e.backend,
            e.name,
            e.cost,
            e.input_tokens,
            e.output_tokens,
            e.requests,
            e.cost_per_1m_tokens,
            e.cost_per_1m_input_tokens,
            e.cost_per_1m_output_tokens,
            e.split_method,
            e.cost_per_inference,
            e.joules_per_token,
            e.utilization,
            e.goodput_fraction,
            e.cost_per_1m_goodput_tokens,
        ]
        for e in selectors.backend_economics(period=month)
    ]
    return _download(f"economics-{month}", fmt, ECONOMICS_COLUMNS, rows, f"Economics {month}")


# --- budgets -----------------------------------------------------------------------


@role_required()
def budget_list(request: HttpRequest) -> HttpResponse:
    """Budgets of the cost centers the user may see, this month (or ?period=)."""
    month = _period_or_404(request.GET.get("period", "")) if request.GET.get("period") else None
    month = month or Period.parse("")
    panel = budget_panel(user=request.user, period=month)
    return render(
        request,
        "costs/chargeback/budgets.html",
        {
            "nav": "budgets",
            "period": month,
            "statuses": panel["budget_statuses"],
            "can_edit": may(request.user, COSTS_WRITE),
            **panel,
        },
    )


@role_required(COSTS_WRITE)
@require_POST
def budget_save(request: HttpRequest, code: str) -> HttpResponse:
    center = get_object_or_404(CostCenter, code=code)
    try:
        budget_set(
            cost_center=center,
            monthly_amount=Decimal(request.POST.get("monthly_amount", "").strip() or "0"),
            soft_percent=int(request.POST.get("soft_percent") or 80),
            hard_percent=int(request.POST.get("hard_percent") or 100),
            actor=request.user,
        )
    except (ValidationError, ValueError, ArithmeticError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else "Not a number."
        messages.error(request, f"Budget of {center.code}: {text}")
    else:
        messages.success(request, f"Budget of {center.code} saved.")
    return redirect(reverse("budget-list"))


__all__ = [
    "budget_list",
    "budget_save",
    "economics_export",
    "period_close_page",
    "period_detail",
    "period_late_check",
    "period_list",
    "period_restate_page",
    "showback_export",
    "statement_detail",
    "statement_export",
    "statement_list",
]
