"""Pages of the costs app: the showback dashboard (finance's landing page),
the backend comparison, cost models, cost centers, usage mappings, unmapped
usage with its one-click mapping, the pilot page's economics panel, and
FOCUS bills (import list, upload, job page and its progress fragment,
unmatched rows of a billing period, bill mappings). Views stay thin: forms
validate, services write, selectors read.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from costs import charts, selectors, services
from costs.budget_panel import budget_panel
from costs.filters import BillImportFilter, CostCenterFilter, UsageMappingFilter
from costs.forms import (
    BillMappingForm,
    BillUploadForm,
    MapUnmappedForm,
    PeriodForm,
    UnmatchedPeriodForm,
)
from costs.models import BillImport, BillMapping, CostCenter, CostModel, UsageMapping
from costs.services.allocation import resolve_cost_center
from metrics import selectors as metrics_selectors
from pilots.models import Backend, Pilot
from portal.forms import apply_service_error
from portal.roles import COSTS_WRITE, may, role_required

BILL_LIST_LIMIT = 50


@role_required()
def bill_list(request: HttpRequest) -> HttpResponse:
    """The most recent bill imports with their EffectiveCost, BilledCost
    and ListCost totals, filtered by status and source."""
    filterset = BillImportFilter(request.GET, queryset=selectors.bill_import_list())
    jobs = filterset.qs[:BILL_LIST_LIMIT] if filterset.is_valid() else BillImport.objects.none()
    return render(
        request,
        "costs/bills/bill_list.html",
        {
            "nav": "bills",
            "filters": filterset.form,
            "jobs": jobs,
            "limit": BILL_LIST_LIMIT,
            "can_write": may(request.user, COSTS_WRITE),
        },
    )


@role_required(COSTS_WRITE)
@require_http_methods(["GET", "POST"])
def bill_create(request: HttpRequest) -> HttpResponse:
    """The upload form; a valid upload becomes a queued job, then its page."""
    form = BillUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.bill_import_create(
                actor=request.user, file=form.cleaned_data["file"], source=BillImport.Source.UPLOAD
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            return HttpResponseRedirect(reverse("bill-detail", args=[job.pk]))
    return render(request, "costs/bills/bill_form.html", {"nav": "bills", "form": form})


def _job_context(job: BillImport) -> dict[str, Any]:
    done, total = selectors.bill_import_progress(job)
    if job.is_finished:
        percent = 100
    elif total:
        percent = min(99, done * 100 // total)
    else:
        percent = 0
    return {
        "job": job,
        "finished": job.is_finished,
        "percent": percent,
        "rejects_shown": len(job.rejects),
        "backends": selectors.bill_import_backends(job)
        if job.status == BillImport.Status.SUCCEEDED
        else [],
    }


@role_required()
def bill_detail(request: HttpRequest, bill_pk: int) -> HttpResponse:
    """One bill import: status, counts, rejects with line and reason, the
    FOCUS columns the file lacks, and its rows' totals by backend."""
    job = get_object_or_404(BillImport.objects.select_related("created_by"), pk=bill_pk)
    return render(request, "costs/bills/bill_detail.html", {"nav": "bills", **_job_context(job)})


@role_required(fragment=True)
def bill_progress(request: HttpRequest, bill_pk: int) -> HttpResponse:
    """The job page's live part; polls itself until the job is finished."""
    job = get_object_or_404(BillImport, pk=bill_pk)
    return render(request, "costs/bills/_bill_progress.html", _job_context(job))


@role_required()
def bill_unmatched(request: HttpRequest) -> HttpResponse:
    """Bill rows no mapping assigns, with their totals, for a billing period."""
    form = UnmatchedPeriodForm(request.GET or None)
    summary = None
    if not form.is_bound or form.is_valid():
        period = form.cleaned_data.get("period", "") if form.is_bound else ""
        summary = selectors.bill_unmatched(period or "")
    return render(
        request,
        "costs/bills/bill_unmatched.html",
        {
            "nav": "bills",
            "form": form,
            "summary": summary,
            "can_write": may(request.user, COSTS_WRITE),
        },
    )


@role_required()
def bill_mapping_list(request: HttpRequest) -> HttpResponse:
    """The rules in the order they are tried."""
    return render(
        request,
        "costs/bills/bill_mapping_list.html",
        {
            "nav": "bills",
            "mappings": selectors.bill_mapping_list(),
            "can_write": may(request.user, COSTS_WRITE),
        },
    )


def _mapping_form_page(
    request: HttpRequest, form: BillMappingForm, mapping: BillMapping | None
) -> HttpResponse:
    return render(
        request,
        "costs/bills/bill_mapping_form.html",
        {"nav": "bills", "form": form, "mapping": mapping},
    )


@role_required(COSTS_WRITE)
@require_http_methods(["GET", "POST"])
def bill_mapping_create(request: HttpRequest) -> HttpResponse:
    form = BillMappingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.bill_mapping_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "Bill mapping added; stored rows re-assigned.")
            return HttpResponseRedirect(reverse("bill-mapping-list"))
    return _mapping_form_page(request, form, None)


@role_required(COSTS_WRITE)
@require_http_methods(["GET", "POST"])
def bill_mapping_edit(request: HttpRequest, mapping_pk: int) -> HttpResponse:
    mapping = get_object_or_404(BillMapping.objects.select_related("backend"), pk=mapping_pk)
    initial = {
        "order": mapping.order,
        "column": mapping.column,
        "tag_key": mapping.tag_key,
        "pattern": mapping.pattern,
        "backend": mapping.backend.slug,
    }
    form = BillMappingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.bill_mapping_update(actor=request.user, mapping=mapping, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, "Bill mapping saved; stored rows re-assigned.")
            return HttpResponseRedirect(reverse("bill-mapping-list"))
    return _mapping_form_page(request, form, mapping)


@role_required(COSTS_WRITE)
@require_POST
def bill_mapping_delete(request: HttpRequest, mapping_pk: int) -> HttpResponse:
    mapping = get_object_or_404(BillMapping, pk=mapping_pk)
    services.bill_mapping_delete(actor=request.user, mapping=mapping)
    messages.success(request, "Bill mapping removed; stored rows re-assigned.")
    return HttpResponseRedirect(reverse("bill-mapping-list"))


def _period(request: HttpRequest) -> tuple[PeriodForm, selectors.Period]:
    form = PeriodForm(request.GET or None)
    if form.is_valid():
        return form, selectors.Period.parse(form.cleaned_data.get("period"))
    return form, selectors.Period.parse(None)


def _context(request: HttpRequest, nav: str, **extra: Any) -> dict[str, Any]:
    return {"nav": nav, "can_write": may(request.user, COSTS_WRITE), **extra}


def _line_rows(lines: list[selectors.ShowbackLine], unmapped_link: str) -> SafeString:
    """A backend's rows of the lines table, built here in one pass: a
    month of 20 backends × 50 cost centers has 1,000+ lines, and the
    template's tags and filters per row took most of the page's time
    (~80 ms of rendering against ~5 ms for this). Text is escaped; money and
    quantities are localized as the template would."""
    rows = []
    for line in lines:
        if line.cost_center:
            who = (
                f'{escape(line.cost_center)} <span class="muted">'
                f"{escape(line.cost_center_name)}</span>"
            )
        elif line.kind == "unmapped":
            who = unmapped_link
        elif line.kind == "other":
            who = "other cost centers"
        else:
            who = "—"
        kind = escape(line.kind)
        quantity = "—" if line.quantity is None else localize(line.quantity)
        rows.append(
            f'<tr class="kind-{kind}"><td>{who}</td><td><span class="badge">{kind}</span></td>'
            f'<td class="num">{quantity}</td><td class="num">{localize(line.amount)}</td></tr>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every part escaped above


@role_required()
def showback(request: HttpRequest) -> HttpResponse:
    """The month's showback: stacked cost by cost center and backend, the
    lines (unmapped and idle visible), month over month and 12 months of
    $/1M tokens, and the budgets of the month (``costs.budget_panel``)."""
    form, period = _period(request)
    report = selectors.showback(period=period, user=request.user)
    previous = selectors.showback(period=period.shift(-1), user=request.user)
    trend = selectors.monthly_unit_costs(last=period)
    names = {b.backend: b.name for b in (*previous.backends, *report.backends)}
    before = {b.backend: b.cost for b in previous.backends}
    changes = []
    for b in report.backends:
        old = before.get(b.backend)
        change = None if not old else ((b.cost - old) / old * 100).quantize(Decimal("0.1"))
        changes.append({"backend": b, "previous": old, "change_percent": change})
    unmapped_link = format_html(
        '<a href="{}?period={}">unmapped</a>', reverse("unmapped-usage"), period
    )
    grouped = [
        (backend, lines, _line_rows(lines, unmapped_link))
        for backend, lines in selectors.iter_lines_by_backend(report)
    ]
    figures = []
    if report.lines:
        figures.append(
            {
                "id": "stacked",
                "figure": charts.stacked_cost_figure(report.by_cost_center(), names),
            }
        )
    if trend:
        figures.append({"id": "trend", "figure": charts.unit_cost_trend_figure(trend, names)})
    total_change = None
    if previous.total:
        total_change = ((report.total - previous.total) / previous.total * 100).quantize(
            Decimal("0.1")
        )
    return render(
        request,
        "costs/showback.html",
        _context(
            request,
            "showback",
            form=form,
            period=period,
            previous_period=period.shift(-1),
            next_period=period.shift(1),
            report=report,
            previous=previous,
            grouped=grouped,
            changes=changes,
            total_change=total_change,
            figures=figures,
            sees_all=selectors.sees_every_cost_center(request.user),
            **budget_panel(user=request.user, period=period, report=report),
        ),
    )


@role_required()
def backend_compare(request: HttpRequest) -> HttpResponse:
    """The §5 unit economics of every backend, the break-even chart and how
    each figure is computed."""
    form, period = _period(request)
    figures = selectors.backend_economics(period=period)
    pilots = list(
        Pilot.objects.select_related("candidate_backend", "baseline_backend")
        .exclude(status__in=["completed", "stopped"])
        .order_by("name")
    )
    roles: dict[str, list[str]] = defaultdict(list)
    for pilot in pilots:
        roles[pilot.candidate_backend.slug].append(f"candidate of {pilot.name}")
        roles[pilot.baseline_backend.slug].append(f"baseline of {pilot.name}")
    rows = [{"f": f, "roles": roles.get(f.backend, [])} for f in figures]
    chart = charts.break_even_figure(figures) if any(f.break_even for f in figures) else None
    return render(
        request,
        "costs/compare.html",
        _context(
            request,
            "showback",
            form=form,
            period=period,
            previous_period=period.shift(-1),
            next_period=period.shift(1),
            rows=rows,
            chart=chart,
            currency=selectors.currency(),
        ),
    )


@role_required()
def cost_model_list(request: HttpRequest) -> HttpResponse:
    """Every backend's cost model history, newest first."""
    models = CostModel.objects.select_related("backend").order_by(
        "backend__name", "-effective_from"
    )
    history: dict[Backend, list[CostModel]] = defaultdict(list)
    for model in models:
        history[model.backend].append(model)
    without = Backend.objects.exclude(pk__in=[b.pk for b in history]).order_by("name")
    return render(
        request,
        "costs/cost_models.html",
        _context(request, "showback", history=dict(history), without=without),
    )


@role_required()
def cost_center_list(request: HttpRequest) -> HttpResponse:
    """Every cost center with its owner and members, and this month's (or
    ?period=) budgets of those the user may see."""
    filterset = CostCenterFilter(
        request.GET or None,
        queryset=CostCenter.objects.select_related("owner").prefetch_related("members"),
    )
    _, period = _period(request)
    return render(
        request,
        "costs/cost_centers.html",
        _context(
            request,
            "showback",
            filter=filterset,
            centers=filterset.qs,
            **budget_panel(user=request.user, period=period),
        ),
    )


@role_required()
def usage_mapping_list(request: HttpRequest) -> HttpResponse:
    filterset = UsageMappingFilter(
        request.GET or None, queryset=UsageMapping.objects.select_related("cost_center")
    )
    return render(
        request,
        "costs/usage_mappings.html",
        _context(request, "showback", filter=filterset, mappings=filterset.qs),
    )


@role_required()
def unmapped_usage(request: HttpRequest) -> HttpResponse:
    """Usage no mapping claims in the month: each series' labels and
    tokens, with a one-click mapping of one of its label values."""
    form, period = _period(request)
    mappings = list(UsageMapping.objects.order_by("order", "id"))
    names = dict(Backend.objects.values_list("pk", "name"))
    rows: dict[tuple[int, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for info, increase in metrics_selectors.series_usage(
        backend_ids=None, start=period.start, end=period.end
    ):
        if resolve_cost_center(info.labels, mappings) is not None or not increase:
            continue
        labels = tuple(sorted(info.labels.items()))
        row = rows.setdefault(
            (info.backend_id, labels),
            {
                "backend": names.get(info.backend_id, ""),
                "labels": labels,
                "tokens": 0.0,
                "requests": 0.0,
            },
        )
        if info.quantity == "requests":
            row["requests"] += increase
        else:
            row["tokens"] += increase
    ordered = sorted(rows.values(), key=lambda r: -r["tokens"])
    return render(
        request,
        "costs/unmapped.html",
        _context(
            request,
            "showback",
            form=form,
            period=period,
            rows=ordered,
            centers=CostCenter.objects.filter(is_active=True).order_by("code"),
        ),
    )


@role_required(COSTS_WRITE)
@require_POST
def unmapped_map(request: HttpRequest) -> HttpResponse:
    """Map a label value to a cost center (the unmapped page's one click)."""
    form = MapUnmappedForm(request.POST)
    period = request.POST.get("period", "")
    target = reverse("unmapped-usage") + (f"?period={period}" if period else "")
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items())
        messages.error(request, f"Not mapped — {problems}")
        return redirect(target)
    data = form.cleaned_data
    try:
        services.usage_mapping_create(
            actor=request.user,
            data={
                "label": data["label"],
                "value": data["value"],
                "cost_center": data["cost_center"],
                "order": data["order"] if data["order"] is not None else 100,
            },
        )
    except ValidationError as error:
        problems = "; ".join(" ".join(v) for v in error.message_dict.values())
        messages.error(request, f"Not mapped — {problems}")
    else:
        messages.success(
            request,
            f"{data['label']}={data['value']} now goes to {data['cost_center'].code}; "
            "the figures refresh in a moment.",
        )
    return redirect(target)


@role_required(fragment=True)
def pilot_economics_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The pilot page's economics card: candidate against baseline."""
    pilot = get_object_or_404(
        Pilot.objects.select_related("candidate_backend", "baseline_backend"), pk=pk
    )
    form, period = _period(request)
    result = selectors.pilot_economics(pilot=pilot, period=period)
    rows = [
        {
            "label": label,
            "candidate": getattr(result["candidate"], name),
            "baseline": getattr(result["baseline"], name),
            "ratio": result["ratios"].get(name),
        }
        for name, label in PANEL_FIGURES
    ]
    return render(
        request,
        "costs/_pilot_panel.html",
        {
            "pilot": pilot,
            "form": form,
            "period": period,
            "rows": rows,
            "currency": selectors.currency(),
            "has_data": result["candidate"].cost is not None or result["baseline"].cost is not None,
        },
    )


PANEL_FIGURES: tuple[tuple[str, str], ...] = (
    ("cost", "Cost"),
    ("cost_per_1m_tokens", "Cost per 1M tokens"),
    ("cost_per_1m_input_tokens", "Cost per 1M input tokens"),
    ("cost_per_1m_output_tokens", "Cost per 1M output tokens"),
    ("cost_per_inference", "Cost per inference"),
    ("cost_per_1m_goodput_tokens", "Cost per 1M goodput tokens"),
    ("goodput_fraction", "Goodput fraction"),
    ("joules_per_token", "Joules per token"),
    ("utilization", "Utilization"),
)
