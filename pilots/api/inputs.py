"""Request bodies of the pilot write endpoints.

They type and parse the input (slugs to backends, strings to dates and
decimals) and refuse unknown keys; every rule of the domain (dates in order,
one Accountable, which phase may change...) stays in the services, which
the views call with what these return.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from pilots.models import Backend, ExitCriterion, Phase, Pilot, RaciAssignment, ReadinessAnswer
from portal.api import InputSerializer, SlugRelatedField


def _max_length(model: Any, name: str) -> int:
    length: int = model._meta.get_field(name).max_length
    return length


class BackendSlugField(SlugRelatedField):
    """An active backend, by slug (the pages offer only active ones)."""

    default_error_messages = {
        "does_not_exist": "No active backend has the slug {value}.",
        "invalid": "A backend slug is a string.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            slug_field="slug", queryset=Backend.objects.filter(is_active=True), **kwargs
        )


class PilotWriteSerializer(InputSerializer):
    """``POST /api/v1/pilots/`` (all required but description and
    traffic_slice) and ``PATCH /api/v1/pilots/{id}/`` (any of them)."""

    name = serializers.CharField(max_length=_max_length(Pilot, "name"))
    model_name = serializers.CharField(
        max_length=_max_length(Pilot, "model_name"), help_text="The model under test."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    candidate_backend = BackendSlugField(help_text="Slug of the candidate backend.")
    baseline_backend = BackendSlugField(help_text="Slug of the baseline backend.")
    team = serializers.CharField(
        max_length=_max_length(Pilot, "team"), help_text="The owning team."
    )
    cost_center = serializers.CharField(
        max_length=_max_length(Pilot, "cost_center"), help_text="Cost center code, e.g. CC-4100."
    )
    traffic_slice = serializers.CharField(
        max_length=_max_length(Pilot, "traffic_slice"), required=False, allow_blank=True
    )
    target_start = serializers.DateField()
    target_end = serializers.DateField()


class PhaseCreateSerializer(InputSerializer):
    """One planned phase, or ``{"defaults": true}`` for the default plan."""

    REQUIRED = ("kind", "planned_start", "planned_end")

    defaults = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "Plan the default phases (lab validation, shadow, canary, two production "
            "ramps) back to back from the pilot's target start, each with its default "
            "exit criteria. Only on a pilot without phases; no other field may be given."
        ),
    )
    kind = serializers.ChoiceField(choices=Phase.Kind.choices, required=False)
    name = serializers.CharField(
        max_length=_max_length(Phase, "name"), required=False, allow_blank=True
    )
    order = serializers.IntegerField(
        min_value=1,
        max_value=32767,
        required=False,
        help_text="Position in the plan; without it the phase goes last.",
    )
    planned_start = serializers.DateField(required=False)
    planned_end = serializers.DateField(required=False)
    traffic_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, help_text="Share of traffic, 0 to 100."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("defaults"):
            others = sorted(key for key in attrs if key != "defaults")
            if others:
                raise serializers.ValidationError(
                    {key: ["Not with defaults: the default plan sets it."] for key in others}
                )
            return attrs
        missing = [name for name in self.REQUIRED if name not in attrs]
        if missing:
            raise serializers.ValidationError(
                {name: ["This field is required (or send defaults: true)."] for name in missing}
            )
        return attrs


class PhaseUpdateSerializer(InputSerializer):
    """``PATCH /api/v1/phases/{id}/``: a planned phase's plan."""

    kind = serializers.ChoiceField(choices=Phase.Kind.choices)
    name = serializers.CharField(max_length=_max_length(Phase, "name"), allow_blank=True)
    order = serializers.IntegerField(min_value=1, max_value=32767)
    planned_start = serializers.DateField()
    planned_end = serializers.DateField()
    traffic_percent = serializers.DecimalField(max_digits=5, decimal_places=2)


class PhaseStartSerializer(InputSerializer):
    started_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=(
            "When the phase really began, if earlier than now (ISO 8601 with a zone). "
            "Not in the future, not before the previous phase ended. Default: now."
        ),
    )


class ExitCriterionWriteSerializer(InputSerializer):
    """``POST /api/v1/phases/{id}/exit-criteria/`` (metric, comparison,
    direction and threshold required) and ``PATCH /api/v1/exit-criteria/{id}/``."""

    metric = serializers.ChoiceField(choices=ExitCriterion.Metric.choices)
    comparison = serializers.ChoiceField(
        choices=ExitCriterion.Comparison.choices,
        help_text="`relative`: a ratio to the baseline's value; `absolute`: the value itself.",
    )
    direction = serializers.ChoiceField(choices=ExitCriterion.Direction.choices)
    threshold = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        help_text="A ratio for relative criteria (1.0: as good as baseline); error rates "
        "are fractions (0.001 for 0.1 %).",
    )
    critical = serializers.BooleanField(
        required=False, default=True, help_text="A failed critical criterion fails the phase."
    )
    weight = serializers.IntegerField(
        required=False, default=1, min_value=0, max_value=32767, help_text="Weight in the score."
    )


class RaciCellSerializer(InputSerializer):
    user = serializers.CharField(help_text="Username.")
    letter = serializers.ChoiceField(choices=RaciAssignment.Letter.choices)


class RaciRowSerializer(InputSerializer):
    activity = serializers.CharField(
        help_text="The activity's key (e.g. `go_no_go`) or, for custom ones, its name."
    )
    assignments = RaciCellSerializer(many=True)


class ReadinessItemSerializer(InputSerializer):
    question = serializers.ChoiceField(choices=ReadinessAnswer.Question.choices)
    answer = serializers.ChoiceField(choices=ReadinessAnswer.Answer.choices)
    evidence = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="A note or link."
    )
