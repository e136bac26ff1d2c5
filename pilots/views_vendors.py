"""Vendor, contract, incident and spares pages (issue 12, §5). Every role
reads; procurement and platform admins write (``VENDORS_WRITE``). Views
validate with a form, call one service and show its errors inline."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from pilots import selectors_vendors as sel
from pilots import sla
from pilots.charts_vendors import compliance_figure
from pilots.csv_export import csv_response
from pilots.forms_vendors import ContractForm, IncidentForm, MovementForm, VendorRiskForm
from pilots.models import Backend, Contract, Incident, Site, Vendor
from pilots.services import catalog, spares, vendors
from portal.forms import apply_service_error
from portal.roles import VENDORS_WRITE, may, role_required

__all__ = [
    "backend_spares_page",
    "contract_compliance_csv",
    "contract_form_page",
    "incident_form_page",
    "inventory_csv",
    "movement_create",
    "procurement_page",
    "spares_page",
    "vendor_compliance_csv",
    "vendor_detail",
    "vendor_edit",
    "vendor_list",
]


def _context(request: HttpRequest, nav: str, **extra: Any) -> dict[str, Any]:
    return {"nav": nav, "can_write": may(request.user, VENDORS_WRITE), **extra}


def _months(request: HttpRequest) -> list[tuple[int, int]]:
    """The page's months: ``?from=&to=`` when valid, else the last 12."""
    try:
        first = request.GET.get("from")
        last = request.GET.get("to")
        if first and last:
            return sel.months_between(
                sel.parse_month(first, field="from"), sel.parse_month(last, field="to")
            )
    except sel.MonthParseError as error:
        messages.error(request, str(error))
    return sel.default_months(today=timezone.now().date())


# --- vendors ---------------------------------------------------------------------


@role_required()
def vendor_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "pilots/vendors/vendor_list.html",
        _context(request, "vendors", vendors=sel.vendors_list()),
    )


@role_required()
def vendor_detail(request: HttpRequest, vendor_slug: str) -> HttpResponse:
    vendor = get_object_or_404(Vendor, slug=vendor_slug)
    now = timezone.now()
    months = _months(request)
    report = sel.vendor_compliance(vendor, months=months, now=now)
    contracts = list(sel.contracts_list().filter(vendor=vendor))
    incidents = list(sel.incidents_list().filter(contract__vendor=vendor)[:50])
    assessed = [
        (
            name.replace("_", " ").capitalize(),
            getattr(vendor, name),
            getattr(vendor, f"{name}_assessed_by"),
            getattr(vendor, f"{name}_assessed_at"),
        )
        for name in vendors.RISK_FIELDS
    ]
    return render(
        request,
        "pilots/vendors/vendor_detail.html",
        _context(
            request,
            "vendors",
            vendor=vendor,
            report=report,
            figure=compliance_figure(report),
            contracts=contracts,
            incidents=incidents,
            assessed=assessed,
            first=sla.month_label(months[0]),
            last=sla.month_label(months[-1]),
        ),
    )


@role_required(VENDORS_WRITE)
def vendor_edit(request: HttpRequest, vendor_slug: str) -> HttpResponse:
    vendor = get_object_or_404(Vendor, slug=vendor_slug)
    form = VendorRiskForm(request.POST or None, instance=Vendor.objects.get(pk=vendor.pk))
    if request.method == "POST" and form.is_valid():
        try:
            catalog.vendor_update(
                vendor=vendor,
                actor=request.user,
                data={name: form.cleaned_data[name] for name in form.changed_data},
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Vendor saved.")
            return redirect("vendor-detail", vendor_slug=vendor.slug)
    return render(
        request,
        "pilots/vendors/form.html",
        _context(
            request,
            "vendors",
            form=form,
            title=f"Risk assessment of {vendor.name}",
            cancel=reverse("vendor-detail", args=[vendor.slug]),
        ),
    )


def _compliance_rows(report: sla.ComplianceReport) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            m.month,
            m.measured,
            m.met,
            m.breached,
            m.compliance_percent,
            m.availability_percent,
            m.credits,
        ]
        for m in report.months
    ]
    t = report.total
    rows.append(
        [
            "total",
            t.measured,
            t.met,
            t.breached,
            t.compliance_percent,
            t.availability_percent,
            t.credits,
        ]
    )
    return rows


COMPLIANCE_HEADER = [
    "month",
    "measured",
    "met",
    "breached",
    "compliance_percent",
    "availability_percent",
    "credits",
]


@role_required()
def vendor_compliance_csv(request: HttpRequest, vendor_slug: str) -> HttpResponse:
    vendor = get_object_or_404(Vendor, slug=vendor_slug)
    report = sel.vendor_compliance(vendor, months=_months(request), now=timezone.now())
    return csv_response(
        f"compliance-{vendor.slug}.csv", COMPLIANCE_HEADER, _compliance_rows(report)
    )


@role_required()
def contract_compliance_csv(request: HttpRequest, contract_pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=contract_pk)
    report = sel.contract_compliance(contract, months=_months(request), now=timezone.now())
    return csv_response(
        f"compliance-contract-{contract.pk}.csv", COMPLIANCE_HEADER, _compliance_rows(report)
    )


# --- contracts and incidents -------------------------------------------------------


@role_required(VENDORS_WRITE)
def contract_form_page(request: HttpRequest, contract_pk: int | None = None) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=contract_pk) if contract_pk else None
    initial: dict[str, Any] = {}
    if contract is None and request.GET.get("vendor"):
        initial["vendor"] = Vendor.objects.filter(slug=request.GET["vendor"]).first()
    form = ContractForm(
        request.POST or None,
        instance=Contract.objects.get(pk=contract.pk) if contract else None,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "backends"}
        backends = list(form.cleaned_data["backends"])
        try:
            if contract is None:
                saved = vendors.contract_create(actor=request.user, data=data, backends=backends)
            else:
                saved = vendors.contract_update(
                    contract=contract, actor=request.user, data=data, backends=backends
                )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Contract saved.")
            return redirect("vendor-detail", vendor_slug=saved.vendor.slug)
    cancel = (
        reverse("vendor-detail", args=[contract.vendor.slug])
        if contract
        else reverse("vendor-list")
    )
    return render(
        request,
        "pilots/vendors/form.html",
        _context(
            request,
            "vendors",
            form=form,
            title="Edit contract" if contract else "New contract",
            cancel=cancel,
        ),
    )


@role_required(VENDORS_WRITE)
def incident_form_page(
    request: HttpRequest, contract_pk: int | None = None, incident_pk: int | None = None
) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk) if incident_pk else None
    contract = get_object_or_404(Contract, pk=incident.contract_id if incident else contract_pk)
    form = IncidentForm(request.POST or None, instance=incident, contract=contract)
    if incident is not None and request.method != "POST":
        form.initial["backends"] = list(incident.backends.all())
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "backends"}
        backends = list(form.cleaned_data["backends"])
        try:
            if incident is None:
                vendors.incident_create(
                    actor=request.user, data={**data, "contract": contract}, backends=backends
                )
            else:
                fresh = Incident.objects.get(pk=incident.pk)
                vendors.incident_update(
                    incident=fresh, actor=request.user, data=data, backends=backends
                )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Incident saved.")
            return redirect("vendor-detail", vendor_slug=contract.vendor.slug)
    return render(
        request,
        "pilots/vendors/form.html",
        _context(
            request,
            "vendors",
            form=form,
            title=f"{'Edit' if incident else 'New'} incident · {contract}",
            cancel=reverse("vendor-detail", args=[contract.vendor.slug]),
        ),
    )


# --- procurement and spares -----------------------------------------------------------


@role_required()
def procurement_page(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    return render(
        request,
        "pilots/vendors/procurement.html",
        _context(
            request,
            "procurement",
            notices=sel.contracts_near_notice(today=today),
            below=sel.stock_below_reorder(),
            movements=list(sel.movements_list()[:20]),
            open_incidents=list(sel.incidents_list().filter(resolved_at__isnull=True)[:20]),
        ),
    )


@role_required()
def spares_page(request: HttpRequest) -> HttpResponse:
    sites = list(
        Site.objects.annotate(backend_count=Count("backends", filter=Q(backends__is_active=True)))
    )
    site = next(
        (s for s in sites if s.slug == request.GET.get("site")), sites[0] if sites else None
    )
    rows = list(sel.stock_list().filter(site=site)) if site else []
    backends = []
    if site is not None:
        for backend in sel.site_backends(site):
            backends.append((backend, sel.backend_spares(backend)))
    short = {r.part.pk for _, result in backends for r in result.rows if r.row.shortfall}
    return render(
        request,
        "pilots/vendors/spares.html",
        _context(
            request, "spares", sites=sites, site=site, rows=rows, backends=backends, short=short
        ),
    )


@role_required()
def backend_spares_page(request: HttpRequest, slug: str) -> HttpResponse:
    backend = get_object_or_404(Backend.objects.select_related("site", "vendor"), slug=slug)
    return render(
        request,
        "pilots/vendors/backend_spares.html",
        _context(request, "spares", backend=backend, result=sel.backend_spares(backend)),
    )


@role_required(VENDORS_WRITE)
def movement_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    if request.GET.get("site"):
        initial["site"] = Site.objects.filter(slug=request.GET["site"]).first()
    form = MovementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            spares.movement_record(
                actor=request.user,
                part=data["part"],
                site=data["site"],
                kind=data["kind"],
                quantity=data["quantity"],
                note=data["note"],
                to_site=data["to_site"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Movement recorded.")
            return HttpResponseRedirect(f"{reverse('spares')}?site={data['site'].slug}")
    return render(
        request,
        "pilots/vendors/form.html",
        _context(
            request, "spares", form=form, title="Record a stock movement", cancel=reverse("spares")
        ),
    )


@role_required()
def inventory_csv(request: HttpRequest) -> HttpResponse:
    rows = (
        [
            s.site.slug,
            s.part.part_number,
            s.part.description,
            s.part.criticality,
            s.on_hand,  # type: ignore[attr-defined]
            s.reorder_point,
            s.lead_time_days,
            s.repair_partner,
        ]
        for s in sel.stock_list()
    )
    header = [
        "site",
        "part_number",
        "description",
        "criticality",
        "on_hand",
        "reorder_point",
        "lead_time_days",
        "repair_partner",
    ]
    return csv_response("inventory.csv", header, rows)
