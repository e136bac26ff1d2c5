"""Endpoints for vendors, backends, pilots, phases and exit criteria (``/api/v1/``).

Reads are open to every role. Writes need ``PILOTS_WRITE`` (program
managers and platform admins) and call the same services as the pages, so
the same rules hold and every write is in the change log. Viewsets stay
declarations plus one service call per write.

Errors: a refusal that names a field (a date out of order, a second
Accountable, a threshold out of range) is a 400 ``invalid`` with ``fields``;
a refusal by the state of the pilot or phase (the phase is not planned,
another phase is active, the pilot is closed) is a 409 ``conflict``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from pilots import selectors, services
from pilots.api import examples as ex
from pilots.api import rows
from pilots.api.inputs import (
    ExitCriterionWriteSerializer,
    PhaseCreateSerializer,
    PhaseStartSerializer,
    PhaseUpdateSerializer,
    PilotWriteSerializer,
    RaciRowSerializer,
    ReadinessItemSerializer,
)
from pilots.api.serializers import (
    BackendSerializer,
    ExitCriterionSerializer,
    PhaseDetailSerializer,
    PhasesCreatedSerializer,
    PilotDetailSerializer,
    PilotListSerializer,
    RaciActivitySerializer,
    ReadinessSerializer,
    readiness_data,
)
from pilots.filters import BackendFilter, PilotFilter
from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
)
from pilots.selectors import pilot_list
from pilots.services import DomainError
from portal.api import Conflict, ValuesListMixin
from portal.parsers import JSONParser
from portal.roles import PILOTS_WRITE

SLUG_REGEX = r"[-a-zA-Z0-9_]+"
ID_REGEX = r"[0-9]+"

T = TypeVar("T")

# The error bodies every write may answer, for the schema.
_ERRORS: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(description="Invalid fields (`error.fields` names each)."),
    403: OpenApiResponse(description="The role may not write pilots."),
    404: OpenApiResponse(description="No such object."),
    409: OpenApiResponse(
        description="The state of the pilot or phase refuses it (`error.message` says why)."
    ),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: _ERRORS[code] for code in codes}


def call_service(
    service: Callable[..., T], *, rename: Mapping[str, str] | None = None, **kwargs: Any
) -> T:
    """Call a pilots service, turning its refusal into the API's answer: a
    DomainError naming fields is a 400 on those fields (renamed to the API's
    names by ``rename``); one without fields is about state: a 409."""
    try:
        return service(**kwargs)
    except DomainError as error:
        if not hasattr(error, "error_dict"):
            raise Conflict(" ".join(error.messages)) from error
        if rename:
            fields = {rename.get(k, k): v for k, v in error.message_dict.items()}
            raise ValidationError(fields) from error
        raise


def pilot_detail_queryset() -> QuerySet[Pilot]:
    """The detail's pilot with everything it nests, one query per relation."""
    return pilot_list().prefetch_related(
        "phases__exit_criteria",
        "raci_activities",
        Prefetch(
            "raci_activities__assignments",
            queryset=RaciAssignment.objects.select_related("user"),
        ),
        "readiness_answers",
    )


# --- catalogue --------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List backends",
        description=(
            "Places inference runs (wafer-scale system, GPU cluster, TPU pod, FPGA farm, "
            "CPU pool). Filter by kind, vendor slug, region and is_active; search matches "
            "name, device model, site and vendor name."
        ),
    ),
    retrieve=extend_schema(summary="Get a backend", description="One backend, by slug."),
)
class BackendViewSet(ValuesListMixin, viewsets.ReadOnlyModelViewSet[Backend]):
    list_rows = staticmethod(rows.backend_rows)
    list_json = staticmethod(rows.backend_json)
    queryset = Backend.objects.select_related("vendor", "site")
    serializer_class = BackendSerializer
    filterset_class = BackendFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    search_fields = ["name", "device_model", "site__name", "vendor__name"]
    ordering_fields = ["name", "kind", "region", "device_count"]


# --- pilots -------------------------------------------------------------------------

_PILOT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Pilot id.")


@extend_schema_view(
    list=extend_schema(
        summary="List pilots",
        description=(
            "Pilots with their candidate and baseline backends and the current phase "
            "(the active one, else the next planned, else the last that ran). Filter by "
            "status, team, cost center, candidate backend kind (`backend_kind`) and current "
            "phase kind (`phase`); search matches name, model and team."
        ),
    ),
    retrieve=extend_schema(
        summary="Get a pilot",
        description=(
            "One pilot with its phases and their exit criteria, the RACI matrix "
            "(activities with each person's letter) and the readiness checklist with "
            "the portal's recommendation."
        ),
        parameters=[_PILOT_ID],
    ),
    create=extend_schema(
        summary="Create a pilot",
        description=(
            "A draft pilot with the five default RACI activities and the readiness "
            "questions unanswered, as the create page makes it. Backends by slug (active "
            "ones), the cost center by code. Program managers and admins."
        ),
        request=PilotWriteSerializer,
        responses={201: PilotDetailSerializer, **_errors(400, 403)},
        examples=[ex.PILOT_CREATE_REQUEST, ex.PILOT_DETAIL_RESPONSE, ex.INVALID_RESPONSE],
    ),
    partial_update=extend_schema(
        summary="Edit a pilot",
        description=(
            "Change any of the fields the create accepts. The status moves only through "
            "phases. A completed or stopped pilot cannot be edited (409)."
        ),
        parameters=[_PILOT_ID],
        request=PilotWriteSerializer,
        responses={200: PilotDetailSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.PILOT_PATCH_REQUEST, ex.PILOT_DETAIL_RESPONSE, ex.CONFLICT_RESPONSE],
    ),
)
class PilotViewSet(
    ValuesListMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Pilot],
):
    queryset = pilot_list()
    lookup_value_regex = ID_REGEX
    list_rows = staticmethod(rows.pilot_rows)
    list_json = staticmethod(rows.pilot_json)
    serializer_class = PilotListSerializer
    filterset_class = PilotFilter
    search_fields = ["name", "model_name", "team"]
    ordering_fields = ["name", "status", "target_start", "target_end"]
    capabilities = {
        "create": PILOTS_WRITE,
        "partial_update": PILOTS_WRITE,
        "phases": PILOTS_WRITE,
        "raci_put": PILOTS_WRITE,
        "readiness_put": PILOTS_WRITE,
    }

    def get_queryset(self) -> QuerySet[Pilot]:
        if self.action == "retrieve":
            # Only the detail nests phases, RACI and readiness: one query each.
            return pilot_detail_queryset()
        return super().get_queryset()

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Pilot]]:
        if self.action == "retrieve":
            return PilotDetailSerializer
        return PilotListSerializer

    def _pilot(self) -> Pilot:
        # The write endpoints need the pilot only: not the list's annotations,
        # nor its filters (``?phase=`` reads an annotation this queryset lacks).
        pilot = get_object_or_404(Pilot.objects.all(), pk=self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, pilot)
        return pilot

    def _detail(self, pilot: Pilot, code: int = status.HTTP_200_OK) -> Response:
        fresh = pilot_detail_queryset().get(pk=pilot.pk)
        return Response(PilotDetailSerializer(fresh).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = PilotWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pilot = call_service(services.pilot_create, actor=request.user, **body.validated_data)
        return self._detail(pilot, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pilot = self._pilot()
        body = PilotWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        pilot = call_service(
            services.pilot_update, pilot=pilot, actor=request.user, data=body.validated_data
        )
        return self._detail(pilot)

    @extend_schema(
        summary="Plan phases of a pilot",
        description=(
            "Add one planned phase (kind, name, planned_start, planned_end, "
            "traffic_percent, optional order: last by default), or send "
            '`{"defaults": true}` to plan the default phases with their exit criteria '
            "on a pilot without phases. Answers the phases created."
        ),
        parameters=[_PILOT_ID],
        request=PhaseCreateSerializer,
        responses={201: PhasesCreatedSerializer, **_errors(400, 403, 404, 409)},
        examples=[
            ex.PHASE_CREATE_REQUEST,
            ex.PHASE_DEFAULTS_REQUEST,
            ex.PHASES_CREATED_RESPONSE,
            ex.CONFLICT_RESPONSE,
        ],
    )
    @action(detail=True, methods=["post"], url_path="phases")
    def phases(self, request: Request, pk: str | None = None) -> Response:
        pilot = self._pilot()
        body = PhaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if data.pop("defaults"):
            created = call_service(services.phase_plan_defaults, pilot=pilot, actor=request.user)
        else:
            created = [call_service(services.phase_create, pilot=pilot, actor=request.user, **data)]
        phases = Phase.objects.filter(pk__in=[p.pk for p in created]).prefetch_related(
            "exit_criteria"
        )
        return Response(
            PhasesCreatedSerializer({"phases": phases.order_by("order")}).data,
            status=status.HTTP_201_CREATED,
        )

    # RACI ------------------------------------------------------------------------

    def _raci(self, pilot: Pilot) -> Response:
        activities = pilot.raci_activities.prefetch_related(
            Prefetch("assignments", queryset=RaciAssignment.objects.select_related("user"))
        )
        return Response(RaciActivitySerializer(activities, many=True).data)

    @extend_schema(
        summary="Get a pilot's RACI matrix",
        description="The activities in order, each with who holds R, A, C or I.",
        parameters=[_PILOT_ID],
        responses={200: RaciActivitySerializer(many=True)},
        examples=[ex.RACI_RESPONSE],
    )
    # The matrix is one list, not a page of the pilot list: no filters, no
    # pages; and a list body is JSON only (a form has no way to say a list,
    # and an unreadable one would clear the matrix).
    @action(
        detail=True,
        methods=["get"],
        url_path="raci",
        filter_backends=[],
        pagination_class=None,
        parser_classes=[JSONParser],
    )
    def raci(self, request: Request, pk: str | None = None) -> Response:
        return self._raci(self._pilot())

    @extend_schema(
        summary="Set a pilot's RACI matrix",
        description=(
            "The whole matrix: each activity (by key, or by name for custom ones) with "
            "its people (by username) and letters. Activities left out end with nobody "
            "assigned. All or nothing: an activity with anyone assigned needs exactly one "
            "A and at least one R; an unknown activity or person is refused (activities "
            "are added on the RACI page). People are users holding a role, or already "
            "in this pilot's matrix."
        ),
        parameters=[_PILOT_ID],
        request=RaciRowSerializer(many=True),
        responses={200: RaciActivitySerializer(many=True), **_errors(400, 403, 404, 409)},
        examples=[ex.RACI_REQUEST, ex.RACI_RESPONSE, ex.RACI_INVALID_RESPONSE],
    )
    @raci.mapping.put
    def raci_put(self, request: Request, pk: str | None = None) -> Response:
        pilot = self._pilot()
        body = RaciRowSerializer(data=request.data, many=True)
        body.is_valid(raise_exception=True)
        rows: list[dict[str, Any]] = body.validated_data
        matrix, names = _raci_matrix(pilot, rows)
        call_service(
            services.raci_set_matrix, pilot=pilot, actor=request.user, matrix=matrix, rename=names
        )
        return self._raci(pilot)

    # Readiness ---------------------------------------------------------------------

    def _readiness(self, pilot: Pilot) -> Response:
        return Response(readiness_data(list(pilot.readiness_answers.all())))

    @extend_schema(
        summary="Get a pilot's readiness checklist",
        description="The five readiness questions, their answers and the recommendation.",
        parameters=[_PILOT_ID],
        responses={200: ReadinessSerializer},
        examples=[ex.READINESS_RESPONSE],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="readiness",
        filter_backends=[],
        pagination_class=None,
        parser_classes=[JSONParser],
    )
    def readiness(self, request: Request, pk: str | None = None) -> Response:
        return self._readiness(self._pilot())

    @extend_schema(
        summary="Answer a pilot's readiness checklist",
        description=(
            "The whole checklist: each question once, with `yes`, `no` or `unknown` and "
            "an evidence note or link. Questions left out are `unknown` afterwards. All "
            "or nothing; unchanged answers keep who answered them and when."
        ),
        parameters=[_PILOT_ID],
        request=ReadinessItemSerializer(many=True),
        responses={200: ReadinessSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.READINESS_REQUEST, ex.READINESS_RESPONSE],
    )
    @readiness.mapping.put
    def readiness_put(self, request: Request, pk: str | None = None) -> Response:
        pilot = self._pilot()
        body = ReadinessItemSerializer(data=request.data, many=True)
        body.is_valid(raise_exception=True)
        given: dict[str, tuple[str, str]] = {}
        for item in body.validated_data:
            if item["question"] in given:
                raise ValidationError({"question": [f"{item['question']} is given twice."]})
            given[item["question"]] = (item["answer"], item["evidence"].strip())
        unknown = (ReadinessAnswer.Answer.UNKNOWN.value, "")
        answers = [(q, *given.get(q, unknown)) for q in ReadinessAnswer.Question.values]
        call_service(services.readiness_save, pilot=pilot, actor=request.user, answers=answers)
        return self._readiness(pilot)


def _raci_matrix(
    pilot: Pilot, rows: list[dict[str, Any]]
) -> tuple[dict[int, dict[int, str | None]], dict[str, str]]:
    """The service's ``{activity id: {user id: letter or None}}`` for a whole
    matrix given by activity key/name and username, and the API name of
    each activity id (for the service's errors). Only references are
    resolved here; the rules are the service's."""
    matrix_view = selectors.raci_matrix(pilot=pilot)
    activities = matrix_view.activities
    by_ref: dict[str, RaciActivity] = {}
    for activity in activities:
        by_ref[activity.name] = activity
        if activity.key:
            by_ref[activity.key] = activity
    people: dict[str, AbstractBaseUser] = {u.get_username(): u for u in matrix_view.people}

    errors: dict[str, list[str]] = {}
    chosen: dict[int, dict[int, str]] = {}
    names: dict[str, str] = {}
    for row in rows:
        ref = row["activity"]
        target = by_ref.get(ref)
        if target is None:
            errors.setdefault("activity", []).append(f"This pilot has no activity {ref!r}.")
            continue
        if target.pk in chosen:
            errors.setdefault("activity", []).append(f"{ref!r} is given twice.")
            continue
        names[str(target.pk)] = ref
        cells: dict[int, str] = {}
        for cell in row["assignments"]:
            person = people.get(cell["user"])
            if person is None:
                errors.setdefault("user", []).append(
                    f"{cell['user']!r} is not a user with a PilotGate role."
                )
            elif person.pk in cells:
                errors.setdefault("user", []).append(
                    f"{cell['user']!r} appears twice in {ref!r}: one letter per person."
                )
            else:
                cells[person.pk] = cell["letter"]
        chosen[target.pk] = cells
    if errors:
        if "activity" in errors:
            known = ", ".join(a.key or a.name for a in activities)
            errors["activity"].append(f"Its activities are: {known}.")
        raise ValidationError(errors)

    matrix: dict[int, dict[int, str | None]] = {}
    for activity in activities:
        names.setdefault(str(activity.pk), activity.key or activity.name)
        current = {uid for (aid, uid) in matrix_view.letters if aid == activity.pk}
        cells_for: dict[int, str | None] = dict.fromkeys(current)
        cells_for.update(chosen.get(activity.pk, {}))
        matrix[activity.pk] = cells_for
    return matrix, names


# --- phases and exit criteria --------------------------------------------------------

_PHASE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Phase id.")
_CRITERION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Exit criterion id.")


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a phase",
        description="One phase with its exit criteria and the id of its pilot.",
        parameters=[_PHASE_ID],
    ),
    partial_update=extend_schema(
        summary="Edit a planned phase",
        description=(
            "Change a planned phase's kind, name, order, planned dates or traffic share. "
            "Once a phase has started its plan is history (409)."
        ),
        parameters=[_PHASE_ID],
        request=PhaseUpdateSerializer,
        responses={200: PhaseDetailSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.PHASE_PATCH_REQUEST, ex.PHASE_RESPONSE, ex.CONFLICT_RESPONSE],
    ),
)
class PhaseViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Phase]):
    queryset = Phase.objects.prefetch_related("exit_criteria")
    lookup_value_regex = ID_REGEX
    serializer_class = PhaseDetailSerializer
    filter_backends: list[Any] = []
    capabilities = {
        "partial_update": PILOTS_WRITE,
        "exit_criteria": PILOTS_WRITE,
        "start": PILOTS_WRITE,
    }

    def _phase_response(self, phase: Phase, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=phase.pk)
        return Response(PhaseDetailSerializer(fresh).data, status=code)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        phase = self.get_object()
        body = PhaseUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        phase = call_service(
            services.phase_update, phase=phase, actor=request.user, data=body.validated_data
        )
        return self._phase_response(phase)

    @extend_schema(
        summary="Add an exit criterion",
        description=(
            "A threshold the phase's evidence must meet, while the phase is planned or "
            "active. Relative criteria compare with the baseline (a ratio); absolute ones "
            "the candidate's value. One criterion per metric and comparison."
        ),
        parameters=[_PHASE_ID],
        request=ExitCriterionWriteSerializer,
        responses={201: ExitCriterionSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.CRITERION_REQUEST, ex.CRITERION_RESPONSE, ex.CONFLICT_RESPONSE],
    )
    @action(detail=True, methods=["post"], url_path="exit-criteria")
    def exit_criteria(self, request: Request, pk: str | None = None) -> Response:
        phase = self.get_object()
        body = ExitCriterionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        criterion = call_service(
            services.exit_criterion_add, phase=phase, actor=request.user, **body.validated_data
        )
        return Response(ExitCriterionSerializer(criterion).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start a phase",
        description=(
            "Start the next planned phase (phases start in order, one at a time); the "
            "first start makes the pilot active. `started_at` records when it really "
            "began: in the past, not before the previous phase ended. Default: now."
        ),
        parameters=[_PHASE_ID],
        request=PhaseStartSerializer,
        responses={200: PhaseDetailSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.PHASE_START_REQUEST, ex.PHASE_RESPONSE, ex.CONFLICT_RESPONSE],
    )
    @action(detail=True, methods=["post"], url_path="start")
    def start(self, request: Request, pk: str | None = None) -> Response:
        phase = self.get_object()
        body = PhaseStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        phase = call_service(
            services.phase_start,
            phase=phase,
            actor=request.user,
            at=body.validated_data.get("started_at"),
            rename={"actual_start": "started_at"},
        )
        return self._phase_response(phase)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get an exit criterion",
        description="One exit criterion of a phase.",
        parameters=[_CRITERION_ID],
    ),
    partial_update=extend_schema(
        summary="Edit an exit criterion",
        description="Change any field while the phase is planned or active (else 409).",
        parameters=[_CRITERION_ID],
        request=ExitCriterionWriteSerializer,
        responses={200: ExitCriterionSerializer, **_errors(400, 403, 404, 409)},
        examples=[ex.CRITERION_PATCH_REQUEST, ex.CRITERION_RESPONSE, ex.CONFLICT_RESPONSE],
    ),
    destroy=extend_schema(
        summary="Remove an exit criterion",
        description="While the phase is planned or active (else 409). Answers 204.",
        parameters=[_CRITERION_ID],
        responses={204: None, **_errors(403, 404, 409)},
    ),
)
class ExitCriterionViewSet(
    mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[ExitCriterion]
):
    queryset = ExitCriterion.objects.select_related("phase__pilot")
    lookup_value_regex = ID_REGEX
    serializer_class = ExitCriterionSerializer
    filter_backends: list[Any] = []
    capabilities = {"partial_update": PILOTS_WRITE, "destroy": PILOTS_WRITE}

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        criterion = self.get_object()
        body = ExitCriterionWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        criterion = call_service(
            services.exit_criterion_update,
            criterion=criterion,
            actor=request.user,
            data=body.validated_data,
        )
        return Response(ExitCriterionSerializer(criterion).data)

    def perform_destroy(self, instance: ExitCriterion) -> None:
        call_service(services.exit_criterion_remove, criterion=instance, actor=self.request.user)


__all__ = [
    "BackendViewSet",
    "ExitCriterionViewSet",
    "PhaseViewSet",
    "PilotViewSet",
]
