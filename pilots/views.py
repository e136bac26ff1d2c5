"""Pilot pages. Reading needs any role; changing needs a program manager
(or a platform admin). Views validate with a form, call one service and
show its errors inline."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from pilots import selectors, services
from pilots.charts import pilot_timeline
from pilots.filters import PilotFilter
from pilots.forms import (
    ActivityForm,
    ExitCriterionForm,
    PhaseForm,
    PilotForm,
    RaciMatrixForm,
    ReadinessForm,
)
from pilots.models import Backend, ExitCriterion, Phase, Pilot, RaciActivity
from portal import attention
from portal.changelog import change_rows
from portal.forms import apply_service_error
from portal.roles import PILOTS_WRITE, RoleRequiredMixin, may, refusal

PAGE_SIZE = 25


def can_edit(user: Any) -> bool:
    return may(user, PILOTS_WRITE)


class Page(RoleRequiredMixin, TemplateView):
    """A page any role may read. ``nav`` marks the active navigation link."""

    nav = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            nav=self.nav,
            can_edit=can_edit(self.request.user),
            DISPLAY_TIME_ZONE=settings.DISPLAY_TIME_ZONE,
        )
        return context

    def require_editor(self) -> None:
        if not can_edit(self.request.user):
            raise PermissionDenied(refusal(PILOTS_WRITE))


class EditorPage(Page):
    """A page only program managers (and admins) may open at all."""

    capability = PILOTS_WRITE


# --- home and lists -------------------------------------------------------------


class HomeView(Page):
    template_name = "pilots/home.html"
    nav = "home"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        groups, closed = selectors.open_pilot_groups()
        return super().get_context_data(
            # What needs this person's attention: every app's cards (portal.attention).
            cards=attention.cards_for(self.request.user),
            groups=groups,
            closed_count=closed,
            **kwargs,
        )


home = HomeView.as_view()


class PilotListView(Page):
    template_name = "pilots/pilot_list.html"
    nav = "pilots"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        filterset = PilotFilter(self.request.GET or None, queryset=selectors.pilot_list())
        pilots: QuerySet[Pilot] = filterset.qs
        page = Paginator(pilots, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(
            filter=filterset,
            page=page,
            query=query.urlencode(),
            filtered=any(v for k, v in self.request.GET.items() if k != "page"),
            **kwargs,
        )


class BackendListView(Page):
    template_name = "pilots/backend_list.html"
    nav = "backends"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(backends=selectors.backend_list(), **kwargs)


class BackendDetailView(Page):
    template_name = "pilots/backend_detail.html"
    nav = "backends"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        backend = get_object_or_404(
            Backend.objects.select_related("vendor", "site"), slug=kwargs["slug"]
        )
        return super().get_context_data(
            backend=backend, pilots=selectors.backend_pilots(backend=backend), **kwargs
        )


# --- pilot create / edit --------------------------------------------------------


class PilotCreateView(EditorPage):
    template_name = "pilots/pilot_form.html"
    nav = "pilots"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=PilotForm()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PilotForm(request.POST)
        if form.is_valid():
            try:
                pilot = services.pilot_create(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, f"Pilot {pilot.name} created.")
                return redirect("pilot-detail", pk=pilot.pk)
        return self.render_to_response(self.get_context_data(form=form))


class PilotPage(Page):
    """A page about one pilot (404 when it does not exist)."""

    nav = "pilots"
    tab = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.pilot: Pilot | None = None
        return super().dispatch(request, *args, **kwargs)

    def get_pilot(self) -> Pilot:
        if self.pilot is None:
            self.pilot = get_object_or_404(
                Pilot.objects.select_related(
                    "candidate_backend__vendor", "baseline_backend__vendor", "created_by"
                ),
                pk=self.kwargs["pk"],
            )
        return self.pilot

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        pilot = self.get_pilot()
        closed = pilot.is_closed
        context = super().get_context_data(pilot=pilot, tab=self.tab, **kwargs)
        context["can_change_pilot"] = context["can_edit"] and not closed
        return context


class PilotEditorPage(PilotPage):
    capability = PILOTS_WRITE


class PilotCommand(PilotEditorPage):
    """A POST-only command (start a phase, plan defaults...): program
    managers get 405 on GET, everyone else is refused first (403)."""

    http_method_names = ["post"]


class PilotEditView(PilotEditorPage):
    template_name = "pilots/pilot_form.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        form = PilotForm(instance=pilot, backends_locked=services.backends_locked(pilot))
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        # The form writes its values into the instance it validates: give it a
        # copy, so a page re-shown with errors still heads with the saved pilot.
        form = PilotForm(
            request.POST,
            instance=Pilot.objects.get(pk=pilot.pk),
            backends_locked=services.backends_locked(pilot),
        )
        if form.is_valid():
            try:
                services.pilot_update(pilot=pilot, actor=request.user, data=form.cleaned_data)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, "Pilot saved.")
                return redirect("pilot-detail", pk=pilot.pk)
        return self.render_to_response(self.get_context_data(form=form))


# --- pilot detail tabs ------------------------------------------------------------


class PilotDetailView(PilotPage):
    template_name = "pilots/pilot_detail.html"
    tab = "overview"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        pilot = self.get_pilot()
        phases = selectors.pilot_phases(pilot=pilot)
        tz = ZoneInfo(settings.DISPLAY_TIME_ZONE)
        answers = list(pilot.readiness_answers.all())
        return super().get_context_data(
            phases=phases,
            current=next((p for p in phases if p.status == Phase.Status.ACTIVE), None),
            timeline=pilot_timeline(phases, now=timezone.now(), tz=tz) if phases else None,
            recommendation=services.readiness_recommendation(answers),
            go_no_go=services.accountable_for(pilot),
            warnings=services.phase_plan_warnings(pilot=pilot, phases=phases),
            stopped_at=(
                next((p for p in phases if p.status == Phase.Status.FAILED), None)
                if pilot.status == Pilot.Status.STOPPED
                else None
            ),
            **kwargs,
        )


class PilotPhasesView(PilotPage):
    template_name = "pilots/pilot_phases.html"
    tab = "phases"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        pilot = self.get_pilot()
        phases = selectors.pilot_phases(pilot=pilot)
        planned = [p.status == Phase.Status.PLANNED for p in phases]
        # (phase, may move up, may move down): planned phases trade places
        # with planned neighbours only.
        last = len(phases) - 1
        plan = [
            (
                phase,
                planned[i] and i > 0 and planned[i - 1],
                planned[i] and i < last and planned[i + 1],
            )
            for i, phase in enumerate(phases)
        ]
        return super().get_context_data(
            phases=phases,
            plan=plan,
            startable=services.next_startable_phase(phases),
            warnings=services.phase_plan_warnings(pilot=pilot, phases=phases),
            default_plan_days=sum(spec.weeks * 7 for spec in services.DEFAULT_PLAN),
            **kwargs,
        )


def _back_to_phases(pilot: Pilot) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("pilot-phases", args=[pilot.pk]))


class PlanDefaultsView(PilotCommand):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        try:
            phases = services.phase_plan_defaults(pilot=pilot, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Planned {len(phases)} default phases.")
        return _back_to_phases(pilot)


class PhaseCreateView(PilotEditorPage):
    template_name = "pilots/phase_form.html"
    tab = "phases"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=PhaseForm()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        form = PhaseForm(request.POST, instance=Phase(pilot=pilot))
        if form.is_valid():
            try:
                services.phase_create(pilot=pilot, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, "Phase added.")
                return _back_to_phases(pilot)
        return self.render_to_response(self.get_context_data(form=form))


class PhaseMixin(PilotPage):
    """A page about one phase, addressed by the phase's id."""

    tab = "phases"

    def get_phase(self) -> Phase:
        phase = get_object_or_404(Phase.objects.select_related("pilot"), pk=self.kwargs["phase_pk"])
        self.kwargs["pk"] = phase.pilot_id
        self.pilot = phase.pilot
        return phase


class PhaseEditView(PhaseMixin, PilotEditorPage):
    template_name = "pilots/phase_form.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        return self.render_to_response(
            self.get_context_data(form=PhaseForm(instance=phase), phase=phase)
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        form = PhaseForm(request.POST, instance=Phase.objects.get(pk=phase.pk))
        if form.is_valid():
            try:
                services.phase_update(phase=phase, actor=request.user, data=form.cleaned_data)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, f"{phase.label} saved.")
                return _back_to_phases(phase.pilot)
        return self.render_to_response(self.get_context_data(form=form, phase=phase))


class PhaseStartView(PhaseMixin, PilotCommand):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        try:
            services.phase_start(phase=phase, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{phase.label} started.")
        return _back_to_phases(phase.pilot)


class PhaseRemoveView(PhaseMixin, PilotCommand):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        try:
            services.phase_remove(phase=phase, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{phase.label} removed.")
        return _back_to_phases(phase.pilot)


class PhaseMoveView(PhaseMixin, PilotCommand):
    """Move a planned phase one position up or down (``direction``)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        direction = request.POST.get("direction", "")
        if direction not in ("up", "down"):
            messages.error(request, "Move a phase up or down.")
            return _back_to_phases(phase.pilot)
        try:
            services.phase_reorder(
                phase=phase, actor=request.user, direction="up" if direction == "up" else "down"
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{phase.label} moved {direction}.")
        return _back_to_phases(phase.pilot)


class CriterionCreateView(PhaseMixin, PilotEditorPage):
    template_name = "pilots/criterion_form.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        return self.render_to_response(self.get_context_data(form=ExitCriterionForm(), phase=phase))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        phase = self.get_phase()
        form = ExitCriterionForm(request.POST, instance=ExitCriterion(phase=phase))
        if form.is_valid():
            try:
                services.exit_criterion_add(phase=phase, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, "Exit criterion added.")
                return _back_to_phases(phase.pilot)
        return self.render_to_response(self.get_context_data(form=form, phase=phase))


class CriterionMixin(PilotPage):
    tab = "phases"

    def get_criterion(self) -> ExitCriterion:
        criterion = get_object_or_404(
            ExitCriterion.objects.select_related("phase__pilot"), pk=self.kwargs["criterion_pk"]
        )
        self.kwargs["pk"] = criterion.phase.pilot_id
        self.pilot = criterion.phase.pilot
        return criterion


class CriterionEditView(CriterionMixin, PilotEditorPage):
    template_name = "pilots/criterion_form.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        criterion = self.get_criterion()
        return self.render_to_response(
            self.get_context_data(
                form=ExitCriterionForm(instance=criterion),
                phase=criterion.phase,
                criterion=criterion,
            )
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        criterion = self.get_criterion()
        form = ExitCriterionForm(request.POST, instance=ExitCriterion.objects.get(pk=criterion.pk))
        if form.is_valid():
            try:
                services.exit_criterion_update(
                    criterion=criterion, actor=request.user, data=form.cleaned_data
                )
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, "Exit criterion saved.")
                return _back_to_phases(criterion.phase.pilot)
        return self.render_to_response(
            self.get_context_data(form=form, phase=criterion.phase, criterion=criterion)
        )


class CriterionDeleteView(CriterionMixin, PilotCommand):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        criterion = self.get_criterion()
        pilot = criterion.phase.pilot
        try:
            services.exit_criterion_remove(criterion=criterion, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Exit criterion removed.")
        return _back_to_phases(pilot)


class PilotRaciView(PilotPage):
    """The RACI grid. Everyone reads it; program managers save it (plain POST,
    or HTMX which swaps just the grid)."""

    template_name = "pilots/pilot_raci.html"
    tab = "raci"

    def _form(self, data: Any = None) -> RaciMatrixForm:
        matrix = selectors.raci_matrix(pilot=self.get_pilot())
        return RaciMatrixForm(
            data,
            activities=matrix.activities,
            people=matrix.people,
            letters=matrix.letters,
        )

    def _render(
        self,
        form: RaciMatrixForm,
        row_errors: dict[str, list[str]] | None = None,
        activity_form: ActivityForm | None = None,
        **extra: Any,
    ) -> HttpResponse:
        row_errors = row_errors or {}
        grid = [
            (activity, cells, row_errors.get(str(activity.pk), []))
            for activity, cells in form.rows()
        ]
        context = self.get_context_data(
            form=form,
            grid=grid,
            row_errors=row_errors,
            activity_form=activity_form or ActivityForm(),
            **extra,
        )
        if getattr(self.request, "htmx", False):
            return self.response_class(
                request=self.request, template="pilots/_raci_grid.html", context=context
            )
        return self.render_to_response(context)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._render(self._form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.require_editor()
        pilot = self.get_pilot()
        form = self._form(request.POST)
        row_errors: dict[str, list[str]] = {}
        if form.is_valid():
            try:
                services.raci_set_matrix(pilot=pilot, actor=request.user, matrix=form.matrix())
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    row_errors = error.message_dict
                else:
                    form.add_error(None, error.messages)
            else:
                if getattr(request, "htmx", False):
                    return self._render(self._form(), saved=True)
                messages.success(request, "RACI matrix saved.")
                return redirect("pilot-raci", pk=pilot.pk)
        else:
            row_errors = form.row_errors
        return self._render(form, row_errors=row_errors)

    def _after_activity_change(
        self, note: str, *, ok: bool = True, activity_form: ActivityForm | None = None
    ) -> HttpResponse:
        """Show the grid again after adding or removing an activity. The
        grid's buttons post the whole grid: when it was edited, the edits
        are shown again, unsaved, rather than lost. Otherwise a plain POST
        goes back to the page (and HTMX gets the fresh grid)."""
        pilot = self.get_pilot()
        posted_grid = "grid" in self.request.POST
        form = self._form(self.request.POST if posted_grid else None)
        pending = posted_grid and form.has_changed()
        htmx = bool(getattr(self.request, "htmx", False))
        if not pending and not htmx and activity_form is None:
            (messages.success if ok else messages.error)(self.request, note)
            return redirect("pilot-raci", pk=pilot.pk)
        return self._render(
            form, activity_form=activity_form, note=note, note_ok=ok, pending=pending
        )


class ActivityAddView(PilotCommand, PilotRaciView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        activity_form = ActivityForm(request.POST)
        if activity_form.is_valid():
            try:
                activity = services.activity_add(
                    pilot=pilot, actor=request.user, name=activity_form.cleaned_data["name"]
                )
            except ValidationError as error:
                activity_form.add_error("name", error.messages)
            else:
                return self._after_activity_change(f"{activity.name} added.")
        return self._after_activity_change("", activity_form=activity_form)


class ActivityRemoveView(PilotCommand, PilotRaciView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pilot = self.get_pilot()
        activity = get_object_or_404(RaciActivity, pk=kwargs["activity_pk"], pilot=pilot)
        try:
            services.activity_remove(activity=activity, actor=request.user)
        except ValidationError as error:
            return self._after_activity_change(" ".join(error.messages), ok=False)
        return self._after_activity_change(f"{activity.name} removed.")


class PilotReadinessView(PilotPage):
    template_name = "pilots/pilot_readiness.html"
    tab = "readiness"

    def _answers(self) -> list[Any]:
        return list(self.get_pilot().readiness_answers.select_related("answered_by"))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        answers = self._answers()
        return self.render_to_response(
            self.get_context_data(
                form=ReadinessForm(answers=answers),
                recommendation=services.readiness_recommendation(answers),
            )
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.require_editor()
        pilot = self.get_pilot()
        answers = self._answers()
        form = ReadinessForm(request.POST, answers=answers)
        if form.is_valid():
            try:
                services.readiness_save(
                    pilot=pilot, actor=request.user, answers=form.answers_data()
                )
            except ValidationError as error:
                apply_service_error(form, error)
            else:
                messages.success(request, "Readiness checklist saved.")
                return redirect("pilot-readiness", pk=pilot.pk)
        return self.render_to_response(
            self.get_context_data(
                form=form, recommendation=services.readiness_recommendation(answers)
            )
        )


class PilotChangelogView(PilotPage):
    template_name = "pilots/pilot_changelog.html"
    tab = "changes"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        records = selectors.pilot_changelog(pilot=self.get_pilot())
        page = Paginator(records, 50).get_page(self.request.GET.get("page"))
        rows = change_rows(list(page), tz=ZoneInfo(settings.DISPLAY_TIME_ZONE))
        return super().get_context_data(page=page, rows=rows, **kwargs)
