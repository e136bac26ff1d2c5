"""Red-flag pages: the list, the pilot page's panel and the home
dashboard's summary (both HTMX fragments the pilots templates include, as
pilots may not import reviews)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from pilots.models import Pilot
from pilots.selectors_vendors import contracts_near_notice
from portal.roles import role_required
from reviews.filters_redflags import RedFlagFilter
from reviews.selectors_redflags import open_flags_by_severity, red_flag_list

__all__ = ["pilot_red_flags_panel", "red_flag_list_page", "red_flags_summary_panel"]

PAGE_SIZE = 50


@role_required()
def red_flag_list_page(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if "open" not in params:
        params["open"] = "true"
    flags = RedFlagFilter(params, queryset=red_flag_list())
    page = Paginator(flags.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "reviews/redflags/list.html",
        {"nav": "red-flags", "filter": flags, "page": page, "query": query.urlencode()},
    )


@role_required(fragment=True)
def pilot_red_flags_panel(request: HttpRequest, pilot_pk: int) -> HttpResponse:
    pilot = get_object_or_404(Pilot, pk=pilot_pk)
    flags = list(red_flag_list().filter(pilot=pilot, cleared_at__isnull=True))
    return render(request, "reviews/redflags/_pilot_panel.html", {"pilot": pilot, "flags": flags})


@role_required(fragment=True)
def red_flags_summary_panel(request: HttpRequest) -> HttpResponse:
    """Open flags by severity and the contracts whose notice date is near."""
    from django.utils import timezone

    return render(
        request,
        "reviews/redflags/_summary_panel.html",
        {
            "severities": open_flags_by_severity(),
            "notices": contracts_near_notice(today=timezone.now().date()),
        },
    )
