"""Read serializers of the pilots API.

They only read attributes the viewsets' querysets have already loaded
(``select_related``, ``prefetch_related``, annotations): a list never runs a
query per row.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
    Vendor,
)
from pilots.services import readiness_recommendation
from portal.api import SlugRelatedField


class CostCenterCodeField(SlugRelatedField):
    """A pilot's cost center as its code. Pilot.cost_center points at the
    code (to_field), so reading it needs no query: the column is the code."""

    def __init__(self, **kwargs: Any) -> None:
        related = Pilot._meta.get_field("cost_center").related_model
        assert related is not None and not isinstance(related, str)
        kwargs.setdefault("queryset", related._default_manager.all())
        super().__init__(slug_field="code", **kwargs)

    def use_pk_only_optimization(self) -> bool:
        return True

    def to_representation(self, value: Any) -> Any:
        # A PKOnlyObject whose "pk" is the stored code (the to_field).
        return value.pk if not hasattr(value, "code") else value.code


RECOMMEND_PILOT = "pilot"
RECOMMEND_NOT_YET = "not_yet"


class VendorRefSerializer(serializers.ModelSerializer[Vendor]):
    class Meta:
        model = Vendor
        fields = ["slug", "name"]


class VendorSerializer(serializers.ModelSerializer[Vendor]):
    class Meta:
        model = Vendor
        fields = ["slug", "name", "website", "contact_email", "risk_notes", "updated_at"]


class BackendRefSerializer(serializers.ModelSerializer[Backend]):
    """A backend as other objects point at it."""

    class Meta:
        model = Backend
        fields = ["slug", "name", "kind"]


class BackendSerializer(serializers.ModelSerializer[Backend]):
    vendor = VendorRefSerializer(read_only=True)
    site: serializers.SlugRelatedField[Any] = SlugRelatedField(
        slug_field="slug", read_only=True, help_text="Site slug."
    )

    class Meta:
        model = Backend
        fields = [
            "slug",
            "name",
            "kind",
            "vendor",
            "device_model",
            "device_count",
            "site",
            "region",
            "is_active",
            "notes",
            "updated_at",
        ]


class CurrentPhaseSerializer(serializers.Serializer[Any]):
    """The pilot's current phase (the active one, else the next planned one,
    else the last that ran), from ``pilots.selectors.pilot_list()``."""

    kind = serializers.ChoiceField(choices=Phase.Kind.choices)
    display_name = serializers.CharField()
    status = serializers.ChoiceField(choices=Phase.Status.choices)
    planned_end = serializers.DateField()


class PilotListSerializer(serializers.ModelSerializer[Pilot]):
    cost_center = CostCenterCodeField(help_text="Cost center code, e.g. CC-4100.")
    candidate_backend = BackendRefSerializer(read_only=True)
    baseline_backend = BackendRefSerializer(read_only=True)
    current_phase = serializers.SerializerMethodField()

    class Meta:
        model = Pilot
        fields = [
            "id",
            "name",
            "model_name",
            "status",
            "team",
            "cost_center",
            "traffic_slice",
            "target_start",
            "target_end",
            "candidate_backend",
            "baseline_backend",
            "current_phase",
        ]

    @extend_schema_field(CurrentPhaseSerializer(allow_null=True))
    def get_current_phase(self, pilot: Pilot) -> dict[str, Any] | None:
        kind = getattr(pilot, "current_phase_kind", None)
        if kind is None:
            return None
        return {
            "kind": kind,
            "display_name": pilot.current_phase_label,  # type: ignore[attr-defined]
            "status": pilot.current_phase_status,  # type: ignore[attr-defined]
            "planned_end": pilot.current_phase_end,  # type: ignore[attr-defined]
        }


class ExitCriterionSerializer(serializers.ModelSerializer[ExitCriterion]):
    summary = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = ExitCriterion
        fields = [
            "id",
            "metric",
            "comparison",
            "direction",
            "threshold",
            "critical",
            "weight",
            "summary",
        ]


class PhaseSerializer(serializers.ModelSerializer[Phase]):
    display_name = serializers.CharField(source="label", read_only=True)
    exit_criteria = ExitCriterionSerializer(many=True, read_only=True)

    class Meta:
        model = Phase
        fields = [
            "id",
            "order",
            "kind",
            "name",
            "display_name",
            "status",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "traffic_percent",
            "exit_criteria",
        ]


class RaciAssignmentSerializer(serializers.ModelSerializer[RaciAssignment]):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = RaciAssignment
        fields = ["username", "letter"]


class RaciActivitySerializer(serializers.ModelSerializer[RaciActivity]):
    assignments = RaciAssignmentSerializer(many=True, read_only=True)

    class Meta:
        model = RaciActivity
        fields = ["id", "key", "name", "order", "assignments"]


class ReadinessAnswerSerializer(serializers.ModelSerializer[ReadinessAnswer]):
    question_text = serializers.CharField(source="get_question_display", read_only=True)

    class Meta:
        model = ReadinessAnswer
        fields = ["question", "question_text", "answer", "evidence", "answered_at"]


class ReadinessSerializer(serializers.Serializer[Any]):
    answers = ReadinessAnswerSerializer(many=True)
    recommendation = serializers.ChoiceField(
        choices=[
            (RECOMMEND_PILOT, "Most answers are yes: a pilot makes sense"),
            (RECOMMEND_NOT_YET, "Not yet: too few answers are yes"),
        ]
    )
    yes = serializers.IntegerField()
    no = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Unanswered questions count as unknown.")
    summary = serializers.CharField()


class PilotDetailSerializer(PilotListSerializer):
    phases = PhaseSerializer(many=True, read_only=True)
    raci = RaciActivitySerializer(many=True, read_only=True, source="raci_activities")
    readiness = serializers.SerializerMethodField()

    class Meta(PilotListSerializer.Meta):
        fields = [
            *PilotListSerializer.Meta.fields,
            "description",
            "created_at",
            "updated_at",
            "phases",
            "raci",
            "readiness",
        ]

    @extend_schema_field(ReadinessSerializer)
    def get_readiness(self, pilot: Pilot) -> dict[str, Any]:
        return readiness_data(list(pilot.readiness_answers.all()))


def readiness_data(answers: list[ReadinessAnswer]) -> dict[str, Any]:
    """The checklist and the portal's recommendation (``ReadinessSerializer``)."""
    verdict = readiness_recommendation(answers)
    return {
        "answers": ReadinessAnswerSerializer(answers, many=True).data,
        "recommendation": RECOMMEND_PILOT if verdict.recommend_pilot else RECOMMEND_NOT_YET,
        "yes": verdict.yes,
        "no": verdict.no,
        "unknown": verdict.unknown,
        "summary": verdict.summary,
    }


class PhaseDetailSerializer(PhaseSerializer):
    """A phase on its own: with the pilot it belongs to."""

    pilot = serializers.IntegerField(source="pilot_id", read_only=True, help_text="Pilot id.")

    class Meta(PhaseSerializer.Meta):
        fields = ["pilot", *PhaseSerializer.Meta.fields]


class PhasesCreatedSerializer(serializers.Serializer[Any]):
    phases = PhaseSerializer(many=True, help_text="The phases created, in plan order.")
