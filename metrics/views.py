"""Metrics pages: imports (list, upload, job page and its progress fragment)
and the chart panels that the backend and pilot pages load with HTMX.

Views stay thin: forms validate, ``services.import_job_create`` writes,
``selectors`` read rollups, ``charts`` turns what they return into figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from metrics import charts, selectors, services
from metrics.filters import ImportJobFilter
from metrics.forms import ChartWindowForm, ImportUploadForm
from metrics.models import HourlyRollup, ImportJob
from pilots.models import Backend, Pilot
from portal.forms import apply_service_error
from portal.roles import METRICS_IMPORT, may, role_required

IMPORT_LIST_LIMIT = 50
REJECTS_SHOWN = 20


# --------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------


@role_required()
def import_list(request: HttpRequest) -> HttpResponse:
    """The most recent imports, filtered by backend and status."""
    filterset = ImportJobFilter(
        request.GET,
        queryset=ImportJob.objects.select_related("backend", "pilot", "created_by").defer(
            # The list never shows these; they can be large.
            "rejects",
            "unmapped",
            "error",
        ),
    )
    # An invalid filter (an unknown backend) shows its error and no rows.
    jobs = filterset.qs[:IMPORT_LIST_LIMIT] if filterset.is_valid() else ImportJob.objects.none()
    return render(
        request,
        "metrics/import_list.html",
        {
            "nav": "imports",
            "filters": filterset.form,
            "jobs": jobs,
            "limit": IMPORT_LIST_LIMIT,
            "can_upload": may(request.user, METRICS_IMPORT),
        },
    )


@role_required(METRICS_IMPORT)
@require_http_methods(["GET", "POST"])
def import_create(request: HttpRequest) -> HttpResponse:
    """The upload form; a valid upload becomes a queued job, then its page."""
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                job = services.import_job_create(
                    actor=request.user,
                    backend=form.cleaned_data["backend"],
                    pilot=form.cleaned_data["pilot"],
                    fmt=form.cleaned_data["format"],
                    source=ImportJob.Source.UPLOAD,
                    file=form.cleaned_data["file"],
                )
            except ValidationError as exc:
                apply_service_error(form, exc)
            else:
                if job.note:
                    messages.warning(request, job.note)
                return HttpResponseRedirect(reverse("import-detail", args=[job.pk]))
    else:
        form = ImportUploadForm(initial={"backend": request.GET.get("backend")}, user=request.user)
    return render(request, "metrics/import_form.html", {"nav": "imports", "form": form})


def _job_context(job: ImportJob) -> dict[str, Any]:
    """What the job page and its progress fragment show."""
    finished = job.status in {ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED}
    done, total = selectors.import_job_progress(job)
    if finished:
        percent = 100
    elif total:
        percent = min(99, done * 100 // total)
    else:
        percent = 0
    unmapped = sorted(job.unmapped.items(), key=lambda item: (-item[1], item[0]))
    return {
        "job": job,
        "finished": finished,
        "percent": percent,
        "unmapped": unmapped,
        # Jobs from before reject groups: a few lines, never a page of thousands.
        "rejects": job.rejects[:REJECTS_SHOWN],
        "rejects_shown": min(len(job.rejects), REJECTS_SHOWN),
    }


@role_required()
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One job: status, counts, rejects with line and reason, unmapped names."""
    job = get_object_or_404(
        ImportJob.objects.select_related("backend", "pilot", "created_by"), pk=pk
    )
    return render(request, "metrics/import_detail.html", {"nav": "imports", **_job_context(job)})


@role_required(fragment=True)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The job page's live part. While the job runs it asks to be polled
    again; once finished it renders without the trigger, so polling stops."""
    job = get_object_or_404(ImportJob.objects.select_related("backend", "pilot"), pk=pk)
    return render(request, "metrics/_import_progress.html", _job_context(job))


# --------------------------------------------------------------------------
# Chart panels
# --------------------------------------------------------------------------


def _latest_data(*backends: Backend) -> dt.datetime | None:
    """The last sample time on any of ``backends``, from rollups (one query)."""
    latest: dt.datetime | None = HourlyRollup.objects.filter(
        series__backend__in=backends
    ).aggregate(latest=Max("last_ts"))["latest"]
    return latest


def _panel_window(
    request: HttpRequest, *backends: Backend
) -> tuple[ChartWindowForm, tuple[dt.datetime, dt.datetime] | None]:
    """The validated window form and the window to chart (None: nothing to
    chart, because the form is invalid or no data anchors a preset)."""
    form = ChartWindowForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    if form.is_custom():
        return form, form.resolve(latest=None)
    return form, form.resolve(latest=_latest_data(*backends))


def _panel_context(
    request: HttpRequest, form: ChartWindowForm, window: Any, *, panel_url: str, upload_for: Backend
) -> dict[str, Any]:
    """What both panels show around their charts: the window form and the
    upload link (to the roles that may upload)."""
    return {
        "form": form,
        "window": window,
        "panel_url": panel_url,
        "can_upload": may(request.user, METRICS_IMPORT),
        "upload_url": reverse("import-create") + f"?backend={upload_for.slug}",
    }


@role_required(fragment=True)
def backend_metrics_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """The backend page's charts over the chosen window."""
    backend = get_object_or_404(Backend, slug=slug)
    form, window = _panel_window(request, backend)
    context = _panel_context(
        request,
        form,
        window,
        panel_url=reverse("metrics-backend-panel", args=[slug]),
        upload_for=backend,
    )
    context["backend"] = backend
    if window is not None:
        series = selectors.metrics_timeseries(backend=backend, start=window[0], end=window[1])
        partial = _partial_hour(window)
        context["figures"] = charts.backend_figures(series, partial_hour=partial)
        context["has_data"] = charts.has_data(series)
        context["partial_hour"] = partial
    return render(request, "metrics/_backend_panel.html", context)


@role_required(fragment=True)
def pilot_metrics_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The pilot page's candidate-against-baseline summary and charts."""
    pilot = get_object_or_404(
        Pilot.objects.select_related("candidate_backend", "baseline_backend"), pk=pk
    )
    candidate, baseline = pilot.candidate_backend, pilot.baseline_backend
    form, window = _panel_window(request, candidate, baseline)
    context = _panel_context(
        request,
        form,
        window,
        panel_url=reverse("metrics-pilot-panel", args=[pk]),
        upload_for=candidate,
    )
    context["pilot"] = pilot
    if window is not None:
        start, end = window
        # The pilot's own series where any were imported for it; otherwise
        # the backend's whole traffic, and the panel says so.
        own = selectors.backends_with_pilot_series(pilot=pilot)
        cand_pilot = pilot if candidate.pk in own else None
        base_pilot = pilot if baseline.pk in own else None
        context["sides"] = [
            {"backend": candidate, "role": "candidate", "pilot_only": cand_pilot is not None},
            {"backend": baseline, "role": "baseline", "pilot_only": base_pilot is not None},
        ]
        partial = _partial_hour(window)
        candidate_series = selectors.metrics_timeseries(
            backend=candidate, start=start, end=end, pilot=cand_pilot
        )
        baseline_series = selectors.metrics_timeseries(
            backend=baseline, start=start, end=end, pilot=base_pilot
        )
        context["figures"] = charts.comparison_figures(
            candidate_series,
            baseline_series,
            candidate_name=f"{candidate.name} (candidate)",
            baseline_name=f"{baseline.name} (baseline)",
            partial_hour=partial,
        )
        context["partial_hour"] = partial
        context["has_data"] = charts.has_data(candidate_series) or charts.has_data(baseline_series)
        candidate_summary = selectors.metrics_summary(
            backend=candidate, start=start, end=end, pilot=cand_pilot
        )
        baseline_summary = selectors.metrics_summary(
            backend=baseline, start=start, end=end, pilot=base_pilot
        )
        context["summary_rows"] = charts.summary_rows(candidate_summary, baseline_summary)
        context["summary_note"] = selectors.summary_note(
            candidate_summary
        ) or selectors.summary_note(baseline_summary)
    return render(request, "metrics/_pilot_panel.html", context)


def _partial_hour(window: tuple[dt.datetime, dt.datetime]) -> dt.datetime | None:
    """The hour in progress, when the window shows it."""
    hour = timezone.now().astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return hour if window[0] <= hour < window[1] else None
