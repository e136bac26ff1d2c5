"""Go/no-go reviews: the review and its frozen evidence, the decision,
objections, per-pilot review settings, idempotency records of the submit
endpoint, and outgoing webhooks with their deliveries (issue 11)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

__all__ = [
    "DecidedReviewError",
    "IdempotencyRecord",
    "Objection",
    "Review",
    "ReviewSettings",
    "Webhook",
    "WebhookDelivery",
    "webhook_host_allowed",
]


class DecidedReviewError(ValidationError):
    """A decided review never changes; corrections are new reviews."""


class ReviewSettings(models.Model):
    """A pilot's evidence settings: the score thresholds of the overall
    verdict (Kayenta's 90 / 75 by default), the bootstrap's resamples and
    the device temperature limit the thermal red flag compares with."""

    pilot = models.OneToOneField(
        "pilots.Pilot", on_delete=models.CASCADE, related_name="review_settings"
    )
    pass_score = models.FloatField(
        default=90.0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    marginal_score = models.FloatField(
        default=75.0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    resamples = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1000)])
    temperature_limit = models.FloatField(
        null=True,
        blank=True,
        help_text="Device temperature limit in °C, where the vendor gives one.",
    )

    class Meta:
        ordering = ["pilot"]
        verbose_name_plural = "review settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(marginal_score__lte=models.F("pass_score")),
                name="reviews_reviewsettings_marginal_below_pass",
                violation_error_message="The marginal score cannot exceed the pass score.",
            ),
            models.CheckConstraint(
                condition=Q(resamples__gte=1000),
                name="reviews_reviewsettings_resamples_min",
                violation_error_message="The bootstrap needs at least 1000 resamples.",
            ),
        ]

    def __str__(self) -> str:
        return f"review settings of pilot {self.pilot_id}"

    def audit_scope(self) -> str:
        return f"pilot:{self.pilot_id}"


class Review(models.Model):
    """A go/no-go review of a pilot's active phase, with the evidence frozen
    at submission (``snapshot``: inputs, parameters, seed and version;
    ``evidence``: the result computed from it) and, once decided, the
    decision. A decided review never changes: ``save`` refuses it here and
    a database trigger refuses an UPDATE of it (migration 0002)."""

    class Recommendation(models.TextChoices):
        GO = "go", "Go"
        NO_GO = "no_go", "No-go"
        EXTEND = "extend", "Extend"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Verdict(models.TextChoices):
        PASS = "pass", "Pass"
        MARGINAL = "marginal", "Marginal"
        FAIL = "fail", "Fail"
        INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"

    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.PROTECT, related_name="reviews")
    phase = models.ForeignKey("pilots.Phase", on_delete=models.PROTECT, related_name="reviews")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices)
    notes = models.TextField(blank=True)
    proposed_end = models.DateField(null=True, blank=True)
    submitted_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    seed = models.BigIntegerField()
    snapshot = models.JSONField(default=dict)
    evidence = models.JSONField(default=dict)
    # Copied from the evidence for lists and filters.
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    score = models.FloatField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    override_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["phase"],
                condition=Q(status="open"),
                name="reviews_review_one_open_per_phase",
                violation_error_message="This phase already has an open review.",
            ),
            models.CheckConstraint(
                condition=Q(recommendation="extend") | Q(proposed_end__isnull=True),
                name="reviews_review_proposed_end_only_for_extend",
                violation_error_message="A proposed end belongs to an extend recommendation only.",
            ),
            models.CheckConstraint(
                condition=~Q(recommendation="extend") | Q(proposed_end__isnull=False),
                name="reviews_review_extend_needs_proposed_end",
                violation_error_message="An extend recommendation needs a proposed end.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="open", decided_by__isnull=True, decided_at__isnull=True)
                    | (
                        Q(status__in=["approved", "rejected"])
                        & Q(decided_by__isnull=False, decided_at__isnull=False)
                    )
                ),
                name="reviews_review_decision_complete",
                violation_error_message="A decided review names who decided and when.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "approved", "rejected"]),
                name="reviews_review_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(recommendation__in=["go", "no_go", "extend"]),
                name="reviews_review_recommendation_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Review #{self.pk} ({self.get_recommendation_display()}, {self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The model half of immutability (the trigger is the database half):
        # a review already decided in the database is never saved again.
        if self.pk is not None and not self._state.adding:
            stored = type(self)._default_manager.filter(pk=self.pk).values_list("status", flat=True)
            current = next(iter(stored), None)
            if current is not None and current != self.Status.OPEN:
                raise DecidedReviewError(
                    f"Review #{self.pk} is {current}: a decided review never changes; "
                    "submit a new review instead."
                )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.is_decided:
            raise DecidedReviewError(f"Review #{self.pk} is decided and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_decided(self) -> bool:
        return self.status != self.Status.OPEN

    def audit_scope(self) -> str:
        return f"pilot:{self.pilot_id}"


class Objection(models.Model):
    """A Consulted person's objection to an open review. Unresolved, it
    blocks approval; the objector or the Accountable resolves it with a note."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="objections")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    lodged_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["review", "lodged_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | (Q(resolved_at__isnull=False, resolved_by__isnull=False) & ~Q(resolution="")),
                name="reviews_objection_resolution_complete",
                violation_error_message="A resolved objection names who resolved it, when and why.",
            ),
        ]

    def __str__(self) -> str:
        return f"Objection #{self.pk} to review #{self.review_id}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    def audit_scope(self) -> str:
        return f"pilot:{self.review.pilot_id}" if self.review_id else ""


class IdempotencyRecord(models.Model):
    """The first response to a POST made with an ``Idempotency-Key``: a retry
    with the same key and body gets it again (same status, same body); the
    same key with another body is refused. Keys are per user and endpoint."""

    key = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "endpoint", "key"],
                name="reviews_idempotencyrecord_unique_key",
                violation_error_message="This idempotency key was used already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key} → {self.response_status}"


def webhook_host_allowed(url: str) -> bool:
    """Whether the URL's host is one an admin allowed (``WEBHOOK_ALLOWED_HOSTS``).

    Exact host names only: no wildcard, so no request reaches an internal
    address nobody listed."""
    host = (urlsplit(url).hostname or "").lower()
    allowed = {h.strip().lower() for h in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", [])}
    return bool(host) and host in allowed


class Webhook(models.Model):
    """An outgoing webhook of a pilot: review events POSTed as JSON, signed
    with HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""

    pilot = models.ForeignKey("pilots.Pilot", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pilot", "id"]

    def __str__(self) -> str:
        return f"webhook {self.url}"

    def clean(self) -> None:
        super().clean()
        if self.url and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValidationError({"url": "A webhook URL is http or https."})
        if self.url and not webhook_host_allowed(self.url):
            host = urlsplit(self.url).hostname or "?"
            raise ValidationError(
                {"url": f"{host} is not an allowed webhook host; a platform admin allows hosts."}
            )

    def audit_scope(self) -> str:
        return f"pilot:{self.pilot_id}"


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one webhook. A failed attempt
    schedules the next (exponential backoff) as a new row, so the pilot page
    lists every attempt and its response code. ``event_id`` is the same for
    every attempt of an event: the receiver de-duplicates on it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4)
    event = models.CharField(max_length=50)
    body = models.TextField()
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_id", "attempt"],
                name="reviews_webhookdelivery_unique_attempt",
                violation_error_message="This attempt of the event is recorded already.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "delivered", "failed"]),
                name="reviews_webhookdelivery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} attempt {self.attempt}: {self.status}"
