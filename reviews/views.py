"""Pages of the reviews app: the pilot page's reviews fragment, the review
page (evidence with CIs, objections, the A's decision form) and the
decision record (printable page and JSON). Commands are POST-only views
calling one service each."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from pilots import services as pilot_services
from pilots.models import Pilot, RaciAssignment
from portal.roles import PILOTS_WRITE, may, role_required
from reviews import charts, selectors, services
from reviews.forms import DecisionForm, ObjectionForm, ResolveForm
from reviews.models import Objection, Review


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, template, {**context, "DISPLAY_TIME_ZONE": settings.DISPLAY_TIME_ZONE})


READ_REFUSAL = "Reviews are read by holders of a letter in this pilot's RACI and program managers."


def _readable(request: HttpRequest, pk: int) -> Review:
    review = get_object_or_404(selectors.review_detail_queryset(), pk=pk)
    if not services.may_read_review(request.user, review.pilot):
        raise PermissionDenied(READ_REFUSAL)
    return review


def _is_accountable(user: Any, pilot: Pilot) -> bool:
    accountable = pilot_services.accountable_for(pilot)
    return accountable is not None and accountable.pk == user.pk


@role_required(fragment=True)
def pilot_reviews_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The pilot page's reviews and webhook deliveries (an HTMX fragment)."""
    pilot = get_object_or_404(Pilot, pk=pk)
    readable = services.may_read_review(request.user, pilot)
    context: dict[str, Any] = {
        "pilot": pilot,
        "readable": readable,
        "may_configure": may(request.user, PILOTS_WRITE),
    }
    if readable:
        context["reviews"] = list(selectors.pilot_reviews(pilot).defer("evidence"))
        context["deliveries"] = list(selectors.pilot_webhook_deliveries(pilot))
        context["may_submit"] = services.may_submit_review(request.user, pilot)
    return _render(request, "reviews/_pilot_reviews.html", context)


@role_required()
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = _readable(request, pk)
    user = request.user
    letters = services.letters_in(user, review.pilot)
    criteria = list(review.evidence.get("criteria", []))
    figures = [charts.criterion_figure(c) for c in criteria]
    return _render(
        request,
        "reviews/review_detail.html",
        {
            "review": review,
            "pilot": review.pilot,
            "rows": list(zip(criteria, figures, range(len(criteria)), strict=True)),
            "objections": list(review.objections.all()),
            "is_accountable": _is_accountable(user, review.pilot),
            "may_object": RaciAssignment.Letter.CONSULTED in letters and not review.is_decided,
            "decision_form": DecisionForm(),
            "objection_form": ObjectionForm(),
            "resolve_form": ResolveForm(),
        },
    )


def _refusal(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@role_required()
@require_POST
def review_decide_page(request: HttpRequest, pk: int) -> HttpResponse:
    review = _readable(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect("review-detail", pk=pk)
    try:
        services.review_decide(review=review, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(request, f"Review #{pk} {form.cleaned_data['decision']}.")
    return redirect("review-detail", pk=pk)


@role_required()
@require_POST
def review_object_page(request: HttpRequest, pk: int) -> HttpResponse:
    review = _readable(request, pk)
    form = ObjectionForm(request.POST)
    if form.is_valid():
        try:
            services.objection_lodge(
                review=review, actor=request.user, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            _refusal(request, error)
        else:
            messages.success(request, "Objection lodged; the Accountable is notified.")
    return redirect("review-detail", pk=pk)


@role_required()
@require_POST
def objection_resolve_page(request: HttpRequest, objection_pk: int) -> HttpResponse:
    objection = get_object_or_404(Objection.objects.select_related("review"), pk=objection_pk)
    _readable(request, objection.review_id)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            services.objection_resolve(
                objection=objection, actor=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as error:
            _refusal(request, error)
        else:
            messages.success(request, f"Objection #{objection.pk} resolved.")
    return redirect("review-detail", pk=objection.review_id)


def decision_record(review: Review) -> dict[str, Any]:
    """The decision record of a decided review: what was asked, the frozen
    evidence, the objections, and who decided what, when and why."""
    return {
        "record": "pilotgate-decision-record/1",
        "review": review.pk,
        "pilot": {"id": review.pilot_id, "name": review.pilot.name},
        "phase": {"id": review.phase_id, "label": review.phase.label},
        "recommendation": review.recommendation,
        "notes": review.notes,
        "proposed_end": review.proposed_end,
        "submitted_by": review.submitted_by.get_username(),
        "submitted_at": review.submitted_at,
        "evidence": review.evidence,
        "objections": [
            {
                "id": o.pk,
                "by": o.by.get_username(),
                "text": o.text,
                "lodged_at": o.lodged_at,
                "resolved_by": o.resolved_by.get_username() if o.resolved_by else None,
                "resolved_at": o.resolved_at,
                "resolution": o.resolution,
            }
            for o in review.objections.all()
        ],
        "decision": review.status,
        "decided_by": review.decided_by.get_username() if review.decided_by else None,
        "decided_at": review.decided_at,
        "rationale": review.rationale,
        "override_reason": review.override_reason,
    }


def _decided(request: HttpRequest, pk: int) -> Review:
    review = _readable(request, pk)
    if not review.is_decided:
        raise Http404("An open review has no decision record yet.")
    return review


@role_required()
def review_record(request: HttpRequest, pk: int) -> HttpResponse:
    review = _decided(request, pk)
    return _render(
        request,
        "reviews/review_record.html",
        {"review": review, "pilot": review.pilot, "objections": list(review.objections.all())},
    )


@role_required()
def review_record_json(request: HttpRequest, pk: int) -> HttpResponse:
    review = _decided(request, pk)
    response = JsonResponse(
        json.loads(json.dumps(decision_record(review), cls=DjangoJSONEncoder)),
        json_dumps_params={"indent": 2},
    )
    response["Content-Disposition"] = f'attachment; filename="decision-record-{review.pk}.json"'
    return response
