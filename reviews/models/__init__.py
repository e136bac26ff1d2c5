"""Models of the reviews app, one module per topic: ``reviews`` (go/no-go
reviews, evidence, decisions, objections, webhooks) and ``redflags`` (red
flags raised from data). Each topic's models are imported here (``from
reviews.models import X``)."""

from reviews.models.redflags import RedFlag, RedFlagKind, RedFlagSeverity
from reviews.models.reviews import (
    DecidedReviewError,
    IdempotencyRecord,
    Objection,
    Review,
    ReviewSettings,
    Webhook,
    WebhookDelivery,
    webhook_host_allowed,
)

__all__ = [
    "DecidedReviewError",
    "IdempotencyRecord",
    "Objection",
    "RedFlag",
    "RedFlagKind",
    "RedFlagSeverity",
    "Review",
    "ReviewSettings",
    "Webhook",
    "WebhookDelivery",
    "webhook_host_allowed",
]
