"""Writes of the reviews app: reviews and their evidence, decisions,
objections, per-pilot review settings and outgoing webhooks (re-exported
here), and ``redflags`` (red flags raised and cleared from data: ``from
reviews.services.redflags import red_flags_evaluate``). Keyword-only,
atomic, audited."""

from reviews.services._common import ReviewConflict, ReviewError, ReviewForbidden
from reviews.services.evidence import evidence_seed, evidence_snapshot, review_settings_for
from reviews.services.review_settings import REVIEW_SETTINGS_FIELDS, review_settings_update
from reviews.services.reviews import (
    letters_in,
    may_decide_review,
    may_object,
    may_read_review,
    may_submit_review,
    objection_lodge,
    objection_resolve,
    review_decide,
    review_submit,
)
from reviews.services.webhooks import (
    sign,
    verify,
    webhook_create,
    webhook_deliver,
    webhook_dispatch,
    webhook_update,
)

__all__ = [
    "REVIEW_SETTINGS_FIELDS",
    "ReviewConflict",
    "ReviewError",
    "ReviewForbidden",
    "evidence_seed",
    "evidence_snapshot",
    "letters_in",
    "may_decide_review",
    "may_object",
    "may_read_review",
    "may_submit_review",
    "objection_lodge",
    "objection_resolve",
    "review_decide",
    "review_settings_for",
    "review_settings_update",
    "review_submit",
    "sign",
    "verify",
    "webhook_create",
    "webhook_deliver",
    "webhook_dispatch",
    "webhook_update",
]
