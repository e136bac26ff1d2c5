"""The admin site: every pilots model is there, writes are recorded, the
change log and API tokens are read-only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from pilots import services
from pilots.models import Backend, ExitCriterion, Phase, Pilot, RaciAssignment
from portal.models import ApiToken, ChangeRecord
from tests.factories import (
    BackendFactory,
    CostCenterFactory,
    ExitCriterionFactory,
    PhaseFactory,
    PilotFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db

PILOT_MODELS = [
    "vendor",
    "backend",
    "pilot",
    "phase",
    "exitcriterion",
    "raciactivity",
    "raciassignment",
    "readinessanswer",
]


def test_every_pilots_model_is_registered():
    registered = {m._meta.model_name for m in admin.site._registry if m._meta.app_label == "pilots"}
    assert set(PILOT_MODELS) <= registered
    assert ChangeRecord in admin.site._registry
    assert ApiToken in admin.site._registry


@pytest.mark.parametrize("model", PILOT_MODELS)
def test_changelists_render_for_admin(as_user, admin_user, model):
    PhaseFactory.create()
    response = as_user(admin_user).get(reverse(f"admin:pilots_{model}_changelist"), {"q": "x"})
    assert response.status_code == 200


def test_admin_is_for_staff_only(as_user, pm):
    response = as_user(pm).get(reverse("admin:pilots_pilot_changelist"))
    assert response.status_code == 302


def test_admin_edit_is_recorded(as_user, admin_user):
    backend = BackendFactory.create(device_count=8)
    data = {
        "name": backend.name,
        "slug": backend.slug,
        "kind": backend.kind,
        "vendor": backend.vendor_id,
        "device_model": backend.device_model,
        "device_count": 16,
        "site": backend.site_id,
        "region": backend.region,
        "is_active": "on",
        "notes": "",
    }
    response = as_user(admin_user).post(
        reverse("admin:pilots_backend_change", args=[backend.pk]), data
    )
    assert response.status_code == 302
    record = ChangeRecord.objects.get(object_id=str(backend.pk), action="update")
    assert record.changes == {"device_count": [8, 16]}
    assert record.actor == admin_user
    assert Backend.objects.get(pk=backend.pk).device_count == 16


def test_admin_add_pilot_goes_through_the_service(as_user, admin_user):
    vendor = VendorFactory.create()
    a, b = BackendFactory.create(vendor=vendor), BackendFactory.create(vendor=vendor)
    CostCenterFactory.create(code="CC")
    data = {
        "name": "Admin pilot",
        "model_name": "m",
        "description": "",
        "candidate_backend": a.pk,
        "baseline_backend": b.pk,
        "team": "t",
        "cost_center": "CC",
        "traffic_slice": "",
        "target_start": "2026-01-01",
        "target_end": "2026-02-01",
        "phases-TOTAL_FORMS": "0",
        "phases-INITIAL_FORMS": "0",
        "phases-MIN_NUM_FORMS": "0",
        "phases-MAX_NUM_FORMS": "1000",
    }
    response = as_user(admin_user).post(reverse("admin:pilots_pilot_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    pilot = Pilot.objects.get(name="Admin pilot")
    assert pilot.raci_activities.count() == 5
    assert pilot.readiness_answers.count() == 5
    assert ChangeRecord.objects.filter(scope=pilot.scope, actor=admin_user).exists()


def test_change_records_and_tokens_are_read_only(as_user, admin_user):
    client = as_user(admin_user)
    assert client.get(reverse("admin:portal_changerecord_add")).status_code == 403
    assert client.get(reverse("admin:portal_apitoken_add")).status_code == 403
    assert client.get(reverse("admin:portal_changerecord_changelist")).status_code == 200


def test_raci_assignments_are_read_only_in_the_admin(as_user, admin_user, approver):
    # One row at a time could drop an activity's A or last R; the RACI page
    # checks the whole activity through the service.
    pilot = PhaseFactory.create().pilot
    activity = pilot.raci_activities.create(name="Ops", order=9)
    services.raci_set_matrix(
        pilot=pilot, actor=admin_user, matrix={activity.pk: {approver.pk: "A", admin_user.pk: "R"}}
    )
    assignment = RaciAssignment.objects.get(activity=activity, letter="A")
    client = as_user(admin_user)
    assert client.get(reverse("admin:pilots_raciassignment_add")).status_code == 403
    delete = reverse("admin:pilots_raciassignment_delete", args=[assignment.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert RaciAssignment.objects.filter(pk=assignment.pk).exists()
    view = client.get(reverse("admin:pilots_raciassignment_change", args=[assignment.pk]))
    assert view.status_code == 200
    assert b'name="letter"' not in view.content


def _form_data(response):
    """The admin change form's current values, as a browser would post them."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else getattr(value, "pk", value)
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
    return data


def _admin_edit(client, obj, **changes):
    url = reverse(f"admin:pilots_{obj._meta.model_name}_change", args=[obj.pk])
    data = _form_data(client.get(url)) | changes
    return client.post(url, data)


def test_admin_phase_inline_is_read_only(as_user, admin_user):
    phase = PhaseFactory.create()
    page = as_user(admin_user).get(reverse("admin:pilots_pilot_change", args=[phase.pilot.pk]))
    assert page.status_code == 200
    assert b"phases-0-planned_start" not in page.content


def test_admin_phase_edit_goes_through_the_service_and_is_in_the_pilots_log(as_user, admin_user):
    phase = PhaseFactory.create(traffic_percent=0)
    response = _admin_edit(as_user(admin_user), phase, traffic_percent="5")
    assert response.status_code == 302, response.content.decode()[:2000]
    phase.refresh_from_db()
    assert phase.traffic_percent == Decimal("5")
    record = ChangeRecord.objects.get(
        scope=phase.pilot.scope, object_id=str(phase.pk), action="update"
    )
    assert record.actor == admin_user
    assert [Decimal(v) for v in record.changes["traffic_percent"]] == [0, 5]


def test_admin_refuses_to_redate_a_passed_phase(as_user, admin_user):
    phase = PhaseFactory.create(status=Phase.Status.PASSED)
    original_end = phase.planned_end
    response = _admin_edit(
        as_user(admin_user),
        phase,
        planned_end=(original_end + dt.timedelta(days=9)).isoformat(),
    )
    assert response.status_code == 200
    assert "Only a planned phase can be edited" in response.content.decode()
    phase.refresh_from_db()
    assert phase.planned_end == original_end
    assert not ChangeRecord.objects.filter(object_id=str(phase.pk), action="update").exists()


def test_admin_refuses_a_threshold_change_on_a_passed_phase(as_user, admin_user):
    criterion = ExitCriterionFactory.create(phase__status=Phase.Status.PASSED)
    before = criterion.threshold
    response = _admin_edit(as_user(admin_user), criterion, threshold="7.5")
    assert response.status_code == 200
    assert "are fixed: the phase is passed" in response.content.decode()
    criterion.refresh_from_db()
    assert criterion.threshold == before


def test_admin_criterion_delete_on_a_passed_phase_is_refused(as_user, admin_user):
    criterion = ExitCriterionFactory.create(phase__status=Phase.Status.PASSED)
    url = reverse("admin:pilots_exitcriterion_delete", args=[criterion.pk])
    assert as_user(admin_user).post(url, {"post": "yes"}).status_code == 403
    assert ExitCriterion.objects.filter(pk=criterion.pk).exists()


def test_admin_criterion_edit_on_a_planned_phase_is_recorded(as_user, admin_user):
    criterion = ExitCriterionFactory.create()
    response = _admin_edit(as_user(admin_user), criterion, threshold="7.5")
    assert response.status_code == 302, response.content.decode()[:2000]
    criterion.refresh_from_db()
    assert criterion.threshold == Decimal("7.5")
    assert ChangeRecord.objects.filter(
        object_id=str(criterion.pk), action="update", actor=admin_user
    ).exists()


def test_admin_refuses_to_edit_a_stopped_pilot(as_user, admin_user):
    pilot = PilotFactory.create(status=Pilot.Status.STOPPED)
    response = _admin_edit(as_user(admin_user), pilot, team="another-team")
    assert response.status_code == 200
    assert "can no longer be edited" in response.content.decode()
    pilot.refresh_from_db()
    assert pilot.team != "another-team"


def test_admin_refuses_a_phase_added_to_a_completed_pilot(as_user, admin_user):
    pilot = PilotFactory.create(status=Pilot.Status.COMPLETED)
    data = {
        "pilot": pilot.pk,
        "order": 1,
        "kind": Phase.Kind.SHADOW,
        "name": "",
        "planned_start": "2026-01-01",
        "planned_end": "2026-01-31",
        "traffic_percent": "0",
    }
    response = as_user(admin_user).post(reverse("admin:pilots_phase_add"), data)
    assert response.status_code == 200
    assert "Cannot add a phase" in response.content.decode()
    assert not pilot.phases.exists()


def test_admin_raci_activity_is_added_through_the_service_and_not_edited(as_user, admin_user):
    pilot = PilotFactory.create()
    client = as_user(admin_user)
    response = client.post(
        reverse("admin:pilots_raciactivity_add"), {"pilot": pilot.pk, "name": "Capacity"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    activity = pilot.raci_activities.get(name="Capacity")
    assert activity.key == ""
    assert ChangeRecord.objects.filter(scope=pilot.scope, object_id=str(activity.pk)).exists()
    change = client.post(
        reverse("admin:pilots_raciactivity_change", args=[activity.pk]), {"name": "Other"}
    )
    assert change.status_code == 403
    activity.refresh_from_db()
    assert activity.name == "Capacity"


def test_admin_readiness_answer_is_recorded_with_who_answered(as_user, admin_user):
    CostCenterFactory.create(code="CC-1")
    pilot = services.pilot_create(
        actor=admin_user,
        name="Readiness pilot",
        model_name="m",
        candidate_backend=BackendFactory.create(),
        baseline_backend=BackendFactory.create(),
        team="t",
        cost_center="CC-1",
        target_start=dt.date(2026, 1, 1),
        target_end=dt.date(2026, 3, 1),
    )
    answer = pilot.readiness_answers.get(question="steady_qps")
    response = _admin_edit(as_user(admin_user), answer, answer="yes", evidence="load test")
    assert response.status_code == 302, response.content.decode()[:2000]
    answer.refresh_from_db()
    assert (answer.answer, answer.answered_by) == ("yes", admin_user)


def test_admin_backend_refuses_what_the_model_refuses(as_user, admin_user):
    backend = BackendFactory.create(device_count=8)
    response = _admin_edit(as_user(admin_user), backend, device_count="0")
    assert response.status_code == 200
    backend.refresh_from_db()
    assert backend.device_count == 8


def test_admin_cannot_delete_pilots_vendors_or_backends(as_user, admin_user):
    phase = PhaseFactory.create()
    client = as_user(admin_user)
    for obj in (phase.pilot, phase.pilot.candidate_backend, phase.pilot.candidate_backend.vendor):
        url = reverse(f"admin:pilots_{obj._meta.model_name}_delete", args=[obj.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403
