"""Serializers of the reviews API. The evidence is the frozen JSON of the
review, shown as stored; its serializers describe it for the schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from pilots.models import ExitCriterion
from portal.api import JsonTypesMixin
from reviews.models import Objection, Review, WebhookDelivery

__all__ = [
    "DecisionSerializer",
    "EvidenceSerializer",
    "ObjectionCreateSerializer",
    "ObjectionResolveSerializer",
    "ObjectionSerializer",
    "ReviewCreateSerializer",
    "ReviewSerializer",
    "WebhookDeliverySerializer",
]

VERDICTS = Review.Verdict.choices
SOURCES = [("pilot", "Pilot"), ("backend", "Backend")]


class ReviewCreateSerializer(JsonTypesMixin, serializers.Serializer[Any]):
    phase = serializers.IntegerField(help_text="The id of the pilot's active phase.")
    recommendation = serializers.ChoiceField(choices=Review.Recommendation.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    proposed_end = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Only for extend: the new planned end.",
    )


class CriterionEvidenceSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    # The exit criterion's own choices: one enum in the schema for both.
    comparison = serializers.ChoiceField(choices=ExitCriterion.Comparison.choices)
    direction = serializers.ChoiceField(choices=ExitCriterion.Direction.choices)
    threshold = serializers.FloatField()
    candidate = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    ratio = serializers.FloatField(allow_null=True, help_text="candidate / baseline (relative).")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    candidate_n = serializers.FloatField(allow_null=True)
    baseline_n = serializers.FloatField(allow_null=True)
    method = serializers.CharField()
    verdict = serializers.ChoiceField(choices=VERDICTS)
    reason = serializers.CharField()
    critical = serializers.BooleanField()
    weight = serializers.FloatField()


class EvidenceRedFlagSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


class SourcesSerializer(serializers.Serializer[Any]):
    candidate = serializers.ChoiceField(
        choices=SOURCES,
        help_text="pilot: the series an import named the pilot for; backend: its whole traffic.",
    )
    baseline = serializers.ChoiceField(choices=SOURCES)


class EvidenceSerializer(serializers.Serializer[Any]):
    """The evidence as frozen at submission (shown exactly as stored)."""

    verdict = serializers.ChoiceField(choices=VERDICTS)
    score = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    sources = SourcesSerializer()
    criteria = CriterionEvidenceSerializer(many=True)
    red_flags = EvidenceRedFlagSerializer(many=True)
    seed = serializers.IntegerField()
    version = serializers.CharField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return dict(instance)


class ObjectionSerializer(serializers.ModelSerializer[Objection]):
    by = serializers.CharField(source="by.username", read_only=True)
    resolved_by = serializers.CharField(
        source="resolved_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Objection
        fields = [
            "id",
            "review",
            "by",
            "text",
            "lodged_at",
            "resolved_by",
            "resolved_at",
            "resolution",
        ]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer[Review]):
    phase_label = serializers.CharField(source="phase.label", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)
    decision = serializers.SerializerMethodField()
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    evidence = EvidenceSerializer(read_only=True)
    objections = ObjectionSerializer(many=True, read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "pilot",
            "phase",
            "phase_label",
            "recommendation",
            "notes",
            "proposed_end",
            "submitted_by",
            "submitted_at",
            "status",
            "verdict",
            "score",
            "seed",
            "decision",
            "decided_by",
            "decided_at",
            "rationale",
            "override_reason",
            "evidence",
            "objections",
        ]
        read_only_fields = fields

    def get_decision(self, review: Review) -> str | None:
        """approved, rejected, or null while the review is open."""
        return None if review.status == Review.Status.OPEN else review.status


class ReviewListSerializer(ReviewSerializer):
    class Meta(ReviewSerializer.Meta):
        fields = [f for f in ReviewSerializer.Meta.fields if f not in ("evidence", "objections")]
        read_only_fields = fields


class DecisionSerializer(JsonTypesMixin, serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=[("approved", "Approved"), ("rejected", "Rejected")])
    rationale = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20000
    )
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=20000,
        help_text="Required to approve a review whose verdict is fail or insufficient_data.",
    )


class ObjectionCreateSerializer(JsonTypesMixin, serializers.Serializer[Any]):
    text = serializers.CharField(max_length=20000)


class ObjectionResolveSerializer(JsonTypesMixin, serializers.Serializer[Any]):
    note = serializers.CharField(max_length=20000)


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook",
            "event_id",
            "event",
            "attempt",
            "status",
            "status_code",
            "response_excerpt",
            "error",
            "next_retry_at",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields
