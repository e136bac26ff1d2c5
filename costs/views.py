"""Pages of the costs app.

Bills: the import list, upload, job page (and its progress fragment), the
unmatched rows of a billing period and the bill mappings. Views stay thin:
forms validate, services write, selectors read.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from costs import selectors, services
from costs.filters import BillImportFilter
from costs.forms import BillMappingForm, BillUploadForm, UnmatchedPeriodForm
from costs.models import BillImport, BillMapping
from portal.forms import apply_service_error
from portal.roles import COSTS_WRITE, may, role_required

BILL_LIST_LIMIT = 50


# --------------------------------------------------------------------------
# Bills
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Bill mappings
# --------------------------------------------------------------------------


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
