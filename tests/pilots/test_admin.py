"""The admin site: every pilots model is there, writes are recorded, the
change log and API tokens are read-only."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from pilots import services
from pilots.models import Backend, Pilot, RaciAssignment
from portal.models import ApiToken, ChangeRecord
from tests.factories import BackendFactory, PhaseFactory, VendorFactory

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
        "site": backend.site,
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


def test_admin_inline_phase_edit_and_delete_are_recorded_in_the_pilots_log(as_user, admin_user):
    kept = PhaseFactory.create(order=1, traffic_percent=0)
    pilot = kept.pilot
    dropped = PhaseFactory.create(pilot=pilot, order=2)
    data = {
        "name": pilot.name,
        "model_name": pilot.model_name,
        "description": "",
        "candidate_backend": pilot.candidate_backend_id,
        "baseline_backend": pilot.baseline_backend_id,
        "team": pilot.team,
        "cost_center": pilot.cost_center,
        "traffic_slice": "",
        "target_start": pilot.target_start.isoformat(),
        "target_end": pilot.target_end.isoformat(),
        "phases-TOTAL_FORMS": "2",
        "phases-INITIAL_FORMS": "2",
        "phases-MIN_NUM_FORMS": "0",
        "phases-MAX_NUM_FORMS": "1000",
    }
    for i, phase in enumerate([kept, dropped]):
        data |= {
            f"phases-{i}-id": phase.pk,
            f"phases-{i}-pilot": pilot.pk,
            f"phases-{i}-order": phase.order,
            f"phases-{i}-kind": phase.kind,
            f"phases-{i}-name": phase.name,
            f"phases-{i}-planned_start": phase.planned_start.isoformat(),
            f"phases-{i}-planned_end": phase.planned_end.isoformat(),
            f"phases-{i}-traffic_percent": "5" if phase == kept else phase.traffic_percent,
        }
    data["phases-1-DELETE"] = "on"

    response = as_user(admin_user).post(reverse("admin:pilots_pilot_change", args=[pilot.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    log = ChangeRecord.objects.filter(
        scope=pilot.scope, actor=admin_user, message="admin", content_type__model="phase"
    )
    changes = log.get(object_id=str(kept.pk), action="update").changes
    assert list(changes) == ["traffic_percent"]
    assert [Decimal(v) for v in changes["traffic_percent"]] == [0, 5]
    assert log.get(object_id=str(dropped.pk), action="delete").changes["order"] == 2
    assert not pilot.phases.filter(pk=dropped.pk).exists()
