"""Metrics pages. The panels are HTML fragments that the backend and pilot
pages load with HTMX (see templates/pilots/)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from portal.roles import has_role


def backend_metrics_panel(request: HttpRequest, slug: str) -> HttpResponse:
    # Placeholder until the metrics charts land.
    if not request.user.is_authenticated or not has_role(request.user):
        return HttpResponse(status=403)
    return HttpResponse('<p class="muted">No metrics imported yet.</p>')


def pilot_metrics_panel(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_authenticated or not has_role(request.user):
        return HttpResponse(status=403)
    return HttpResponse('<p class="muted">No metrics imported yet.</p>')
