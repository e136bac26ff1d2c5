"""A pilot's review settings page (issue 11, §3 and §5): the score
thresholds of the overall verdict and the evidence's parameters, and the
pilot's outgoing webhooks (add one, change its URL or secret, switch it
off). Every write goes through the review services, which check the
webhook host against the admins' allow-list and record the change.

Who: ``PILOTS_WRITE`` (program managers and platform admins), the
capability that already governs the pilot's exit criteria, whose
thresholds these settings complete. Not the Accountable as such: the A
decides against these thresholds and does not set them (as admins may
reassign the A but not decide); a PM who holds the A may, as a PM."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from pilots.models import Pilot
from portal.forms import apply_service_error
from portal.roles import PILOTS_WRITE, role_required
from reviews import services
from reviews.forms import ReviewSettingsForm, WebhookForm
from reviews.models import Webhook

__all__ = ["review_settings_page", "webhook_create_page", "webhook_edit_page"]


def _settings_form(pilot: Pilot, data: Any = None) -> ReviewSettingsForm:
    current = services.review_settings_for(pilot)
    initial = {name: getattr(current, name) for name in services.REVIEW_SETTINGS_FIELDS}
    return ReviewSettingsForm(data, initial=initial)


def _page(
    request: HttpRequest,
    pilot: Pilot,
    *,
    settings_form: ReviewSettingsForm | None = None,
    webhook_form: WebhookForm | None = None,
) -> HttpResponse:
    current = services.review_settings_for(pilot)
    return render(
        request,
        "reviews/review_settings.html",
        {
            "nav": "pilots",
            "pilot": pilot,
            "defaults": current.pk is None,
            "settings_form": settings_form or _settings_form(pilot),
            "webhook_form": webhook_form or WebhookForm(),
            "webhooks": list(Webhook.objects.filter(pilot=pilot)),
            "allowed_hosts": sorted(settings.WEBHOOK_ALLOWED_HOSTS),
            "DISPLAY_TIME_ZONE": settings.DISPLAY_TIME_ZONE,
        },
    )


def _pilot(pk: int) -> Pilot:
    return get_object_or_404(
        Pilot.objects.select_related("candidate_backend", "baseline_backend"), pk=pk
    )


@role_required(PILOTS_WRITE)
@require_http_methods(["GET", "POST"])
def review_settings_page(request: HttpRequest, pk: int) -> HttpResponse:
    pilot = _pilot(pk)
    if request.method != "POST":
        return _page(request, pilot)
    form = _settings_form(pilot, request.POST)
    if form.is_valid():
        try:
            services.review_settings_update(pilot=pilot, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Review settings saved; they apply to the next reviews.")
            return redirect("review-settings", pk=pilot.pk)
    return _page(request, pilot, settings_form=form)


@role_required(PILOTS_WRITE)
@require_POST
def webhook_create_page(request: HttpRequest, pk: int) -> HttpResponse:
    pilot = _pilot(pk)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            services.webhook_create(pilot=pilot, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Webhook to {form.cleaned_data['url']} added.")
            return redirect("review-settings", pk=pilot.pk)
    return _page(request, pilot, webhook_form=form)


@role_required(PILOTS_WRITE)
@require_http_methods(["GET", "POST"])
def webhook_edit_page(request: HttpRequest, webhook_pk: int) -> HttpResponse:
    webhook = get_object_or_404(
        Webhook.objects.select_related("pilot__candidate_backend", "pilot__baseline_backend"),
        pk=webhook_pk,
    )
    initial = {"url": webhook.url, "active": webhook.active}
    form = WebhookForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = {"url": form.cleaned_data["url"], "active": form.cleaned_data["active"]}
        if form.cleaned_data["secret"]:
            data["secret"] = form.cleaned_data["secret"]
        try:
            services.webhook_update(webhook=webhook, actor=request.user, data=data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("review-settings", pk=webhook.pilot_id)
    return render(
        request,
        "reviews/webhook_form.html",
        {
            "nav": "pilots",
            "pilot": webhook.pilot,
            "webhook": webhook,
            "form": form,
            "allowed_hosts": sorted(settings.WEBHOOK_ALLOWED_HOSTS),
        },
    )
