"""Reviews endpoints (``/api/v1/``): submit and read reviews, decide,
object and resolve. Commands are one small view each calling one service.

Access: anonymous users are refused (401/403); users without any role get
404 (they learn nothing, not even that the pilot exists); users with a role
but not the RACI letter a rule asks for get 403 naming the rule.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pilots.models import Phase, Pilot
from portal.api import error_body
from portal.roles import user_roles
from reviews import selectors, services
from reviews.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from reviews.api.serializers import (
    DecisionSerializer,
    ObjectionCreateSerializer,
    ObjectionResolveSerializer,
    ObjectionSerializer,
    ReviewCreateSerializer,
    ReviewListSerializer,
    ReviewSerializer,
)
from reviews.models import Objection, Review

__all__ = [
    "ObjectionResolveView",
    "PilotReviewsView",
    "ReviewDecisionView",
    "ReviewDetailView",
    "ReviewObjectionsView",
]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class ReviewAccess(BasePermission):
    """Logged in with a role; without a role the object is not found."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        if not user_roles(request.user):
            raise exceptions.NotFound()
        return True


def _translate(exc: Exception) -> Exception:
    """Service refusals as API errors (409 and 403 keep their message)."""
    if isinstance(exc, services.ReviewConflict):
        return Conflict(" ".join(exc.messages))
    if isinstance(exc, services.ReviewForbidden):
        return exceptions.PermissionDenied(str(exc))
    return exc


ERROR_EXAMPLE = OpenApiExample(
    "Refused",
    value=error_body(
        "conflict", "Canary already has an open review, #12; it must be decided first."
    ),
    response_only=True,
    status_codes=["409"],
)
ERRORS: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(description='Invalid fields: `{"error": {code, message, fields}}`.'),
    403: OpenApiResponse(description="A role, but not the RACI letter this needs."),
    404: OpenApiResponse(description="No such object, or no role at all."),
    409: OpenApiResponse(description="Conflicts with the current state (named)."),
    422: OpenApiResponse(description="Idempotency-Key reused with a different body."),
}

EVIDENCE_EXAMPLE: dict[str, Any] = {
    "verdict": "marginal",
    "score": 83.3,
    "reason": "score 83.33 (pass ≥ 90, marginal ≥ 75)",
    "window_start": "2026-03-02T09:00:00+00:00",
    "window_end": "2026-03-16T10:30:00+00:00",
    "sources": {"candidate": "pilot", "baseline": "pilot"},
    "criteria": [
        {
            "metric": "e2e_latency_p99",
            "comparison": "relative",
            "direction": "at_most",
            "threshold": 1.0,
            "candidate": 2.41,
            "baseline": 11.8,
            "ratio": 0.204,
            "ci_low": 0.199,
            "ci_high": 0.209,
            "candidate_n": 1843200,
            "baseline_n": 201600,
            "method": "histogram_quantile(0.99) of the merged buckets; block bootstrap over "
            "hourly slices, 1000 resamples, seed 7315; percentile 95% CI of the ratio",
            "verdict": "pass",
            "reason": "0.204, CI [0.199, 0.209] against ≤ 1",
            "critical": True,
            "weight": 1.0,
        },
        {
            "metric": "error_rate",
            "comparison": "absolute",
            "direction": "at_most",
            "threshold": 0.001,
            "candidate": 0.001,
            "baseline": 0.004,
            "ratio": None,
            "ci_low": 0.000954,
            "ci_high": 0.00105,
            "candidate_n": 1843200,
            "baseline_n": 201600,
            "method": "Wilson score 95% interval of errors / requests",
            "verdict": "marginal",
            "reason": "0.001, CI [0.000954, 0.00105] against ≤ 0.001",
            "critical": True,
            "weight": 1.0,
        },
    ],
    "red_flags": [],
    "seed": 7315,
    "version": "pilotgate-evidence/1",
}
REVIEW_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "pilot": 1,
    "phase": 3,
    "phase_label": "Canary",
    "recommendation": "go",
    "notes": "Two weeks of 5 % canary traffic; p99 well under the GPU baseline.",
    "proposed_end": None,
    "submitted_by": "team",
    "submitted_at": "2026-03-16T10:30:00Z",
    "status": "open",
    "verdict": "marginal",
    "score": 83.3,
    "seed": 7315,
    "decision": None,
    "decided_by": None,
    "decided_at": None,
    "rationale": "",
    "override_reason": "",
    "evidence": EVIDENCE_EXAMPLE,
    "objections": [],
}


class _ReviewsAPIView(APIView):
    permission_classes = [ReviewAccess]

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(_translate(exc))

    def _readable_review(self, request: Request, pk: int) -> Review:
        review = get_object_or_404(selectors.review_detail_queryset(), pk=pk)
        if not services.may_read_review(request.user, review.pilot):
            raise exceptions.PermissionDenied(
                "Reviews are read by holders of a letter in this pilot's RACI and program managers."
            )
        return review


class PilotReviewsView(_ReviewsAPIView):
    """``/api/v1/pilots/{id}/reviews/``: a pilot's reviews; submit one."""

    @extend_schema(
        summary="List a pilot's reviews",
        description="Newest first, without the evidence (read one review for it). For holders "
        "of a letter in the pilot's RACI and program managers.",
        responses={200: ReviewListSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, pilot_id: int) -> Response:
        pilot = get_object_or_404(Pilot, pk=pilot_id)
        if not services.may_read_review(request.user, pilot):
            raise exceptions.PermissionDenied(
                "Reviews are read by holders of a letter in this pilot's RACI and program managers."
            )
        reviews: QuerySet[Review] = selectors.pilot_reviews(pilot)
        return Response(ReviewListSerializer(reviews, many=True).data)

    @extend_schema(
        summary="Submit a go/no-go review",
        description=(
            "A review of the pilot's active phase (`phase`: its id) with a recommendation "
            "(`go`, `no_go` or `extend`; `proposed_end` only, and required, for `extend`). "
            "The evidence is computed now over the phase's window (actual start to now) and "
            "frozen; the answer is 201 with the review and its evidence. For holders of R or "
            "C in the pilot's RACI and program managers (others with a role: 403). One open "
            "review per phase: a second is 409 naming the open one. Send an "
            "`Idempotency-Key` to make retries safe."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ReviewCreateSerializer,
        responses={201: ReviewSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Go",
                value={"phase": 3, "recommendation": "go", "notes": "Two weeks of canary."},
                request_only=True,
            ),
            OpenApiExample(
                "Extend",
                value={
                    "phase": 3,
                    "recommendation": "extend",
                    "notes": "Not enough p99.9 data yet.",
                    "proposed_end": "2026-04-30",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Submitted", value=REVIEW_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            ERROR_EXAMPLE,
        ],
    )
    def post(self, request: Request, pilot_id: int) -> Response:
        pilot = get_object_or_404(Pilot.objects.select_related(), pk=pilot_id)

        def submit() -> Response:
            form = ReviewCreateSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
            phase = Phase.objects.filter(pk=data["phase"], pilot=pilot).first()
            if phase is None:
                raise exceptions.ValidationError(
                    {"phase": [f"Phase {data['phase']} is not a phase of this pilot."]}
                )
            review = services.review_submit(
                pilot=pilot,
                actor=request.user,
                phase=phase,
                recommendation=data["recommendation"],
                notes=data["notes"],
                proposed_end=data["proposed_end"],
            )
            fresh = selectors.review_detail_queryset().get(pk=review.pk)
            return Response(
                ReviewSerializer(fresh).data,
                status=status.HTTP_201_CREATED,
                headers={"Location": f"/api/v1/reviews/{review.pk}/"},
            )

        if not services.may_submit_review(request.user, pilot):
            raise exceptions.PermissionDenied(
                "Only holders of R or C in this pilot's RACI, and program managers, submit reviews."
            )
        return idempotent(request, submit, self.handle_exception)


class ReviewDetailView(_ReviewsAPIView):
    """``/api/v1/reviews/{id}/``: one review. PUT, PATCH and DELETE answer
    405: a review is never edited; a decided one never changes."""

    @extend_schema(
        summary="Get a review",
        description="The review, its frozen evidence, objections and decision. PUT, PATCH "
        "and DELETE answer 405: corrections are new reviews.",
        responses={200: ReviewSerializer, **ERRORS},
        examples=[OpenApiExample("Open review", value=REVIEW_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReviewSerializer(self._readable_review(request, pk)).data)


class ReviewDecisionView(_ReviewsAPIView):
    """``POST /api/v1/reviews/{id}/decision/``."""

    @extend_schema(
        summary="Decide a review",
        description=(
            "`approved` or `rejected`, with a rationale; only by the holder of the A of the "
            "pilot's go/no-go decision (everyone else 403, admins included). Approving a "
            "review whose verdict is `fail` or `insufficient_data` needs `override_reason`. "
            "An unresolved objection blocks approval (409 naming it); a review decided "
            "already is 409. Approved go: the phase passes and the next planned one starts "
            "(the last completes the pilot); no_go: the phase fails and the pilot stops; "
            "extend: the planned end moves to the proposed end. Rejected: nothing moves."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=DecisionSerializer,
        responses={200: ReviewSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Approve",
                value={"decision": "approved", "rationale": "Tail latency and cost both met."},
                request_only=True,
            ),
            OpenApiExample(
                "Approve with override",
                value={
                    "decision": "approved",
                    "rationale": "Go.",
                    "override_reason": "Cost data arrives next month; finance signed off.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Decided",
                value={
                    **REVIEW_EXAMPLE,
                    "status": "approved",
                    "decision": "approved",
                    "decided_by": "approver",
                    "decided_at": "2026-03-17T08:00:00Z",
                    "rationale": "Tail latency and cost both met.",
                },
                response_only=True,
            ),
            ERROR_EXAMPLE,
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        review = self._readable_review(request, pk)

        def decide() -> Response:
            form = DecisionSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
            services.review_decide(
                review=review,
                actor=request.user,
                decision=data["decision"],
                rationale=data["rationale"],
                override_reason=data["override_reason"],
            )
            fresh = selectors.review_detail_queryset().get(pk=review.pk)
            return Response(ReviewSerializer(fresh).data)

        # Before the body is read: everyone but the A gets 403, whatever they sent.
        if not services.may_decide_review(request.user, review.pilot):
            raise exceptions.PermissionDenied(
                "Only the holder of the A for this pilot's go/no-go decision decides reviews."
            )
        return idempotent(request, decide, self.handle_exception)


class ReviewObjectionsView(_ReviewsAPIView):
    """``POST /api/v1/reviews/{id}/objections/``."""

    @extend_schema(
        summary="Object to a review",
        description="By holders of C in the pilot's RACI, against an open review. The A is "
        "notified; an unresolved objection blocks approval.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ObjectionCreateSerializer,
        responses={201: ObjectionSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Object",
                value={"text": "p99.9 under the mixed-load test is not in the window yet."},
                request_only=True,
            ),
            OpenApiExample(
                "Lodged",
                value={
                    "id": 4,
                    "review": 12,
                    "by": "finance",
                    "text": "p99.9 under the mixed-load test is not in the window yet.",
                    "lodged_at": "2026-03-16T12:00:00Z",
                    "resolved_by": None,
                    "resolved_at": None,
                    "resolution": "",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        review = self._readable_review(request, pk)

        def lodge() -> Response:
            form = ObjectionCreateSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            objection = services.objection_lodge(
                review=review, actor=request.user, text=form.validated_data["text"]
            )
            fresh = Objection.objects.select_related("by", "resolved_by").get(pk=objection.pk)
            return Response(ObjectionSerializer(fresh).data, status=status.HTTP_201_CREATED)

        if not services.may_object(request.user, review.pilot):
            raise exceptions.PermissionDenied(
                "Only holders of C in this pilot's RACI lodge objections."
            )
        return idempotent(request, lodge, self.handle_exception)


class ObjectionResolveView(_ReviewsAPIView):
    """``POST /api/v1/objections/{id}/resolve/``."""

    @extend_schema(
        summary="Resolve an objection",
        description="By the objector or the go/no-go Accountable, with a note.",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ObjectionResolveSerializer,
        responses={200: ObjectionSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Resolve",
                value={"note": "Mixed-load run added to the window; p99.9 within the criterion."},
                request_only=True,
            ),
            OpenApiExample(
                "Resolved",
                value={
                    "id": 4,
                    "review": 12,
                    "by": "finance",
                    "text": "p99.9 under the mixed-load test is not in the window yet.",
                    "lodged_at": "2026-03-16T12:00:00Z",
                    "resolved_by": "finance",
                    "resolved_at": "2026-03-16T15:00:00Z",
                    "resolution": "Mixed-load run added to the window.",
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        objection = get_object_or_404(Objection.objects.select_related("review__pilot"), pk=pk)
        if not services.may_read_review(request.user, objection.review.pilot):
            raise exceptions.PermissionDenied("Only the objector or the Accountable resolves it.")

        def resolve() -> Response:
            form = ObjectionResolveSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            services.objection_resolve(
                objection=objection, actor=request.user, note=form.validated_data["note"]
            )
            fresh = Objection.objects.select_related("by", "resolved_by").get(pk=objection.pk)
            return Response(ObjectionSerializer(fresh).data)

        return idempotent(request, resolve, self.handle_exception)
