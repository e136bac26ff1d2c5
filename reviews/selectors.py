"""Reads of the reviews app that pages and the API share."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from pilots.models import Pilot
from reviews.models import Objection, Review, WebhookDelivery

__all__ = ["pilot_reviews", "pilot_webhook_deliveries", "review_detail_queryset"]


def review_detail_queryset() -> QuerySet[Review]:
    """Reviews with what their detail shows: pilot, phase, people, objections."""
    return Review.objects.select_related(
        "pilot", "phase", "submitted_by", "decided_by"
    ).prefetch_related(
        Prefetch("objections", queryset=Objection.objects.select_related("by", "resolved_by"))
    )


def pilot_reviews(pilot: Pilot) -> QuerySet[Review]:
    """A pilot's reviews, newest first, without the bulky snapshot."""
    return (
        review_detail_queryset()
        .filter(pilot=pilot)
        .defer("snapshot")
        .order_by("-submitted_at", "-id")
    )


def pilot_webhook_deliveries(pilot: Pilot, limit: int = 50) -> QuerySet[WebhookDelivery]:
    """The latest webhook delivery attempts of a pilot, with their webhook."""
    return (
        WebhookDelivery.objects.filter(webhook__pilot=pilot)
        .select_related("webhook")
        .defer("body")
        .order_by("-created_at", "-id")[:limit]
    )
