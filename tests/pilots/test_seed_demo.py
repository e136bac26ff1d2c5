"""seed_demo: the demo data it promises, and a second run changes nothing."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from pilots import services
from pilots.models import Backend, Phase, Pilot, RaciActivity, Vendor
from portal.models import ChangeRecord
from portal.roles import Role, user_roles

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"pilots", "portal", "auth"}
    }


def test_seed_demo_creates_the_promised_data():
    output = run()
    assert Backend.objects.count() == 5
    assert set(Backend.objects.values_list("kind", flat=True)) == set(Backend.Kind.values)
    assert Vendor.objects.count() == 4
    statuses = dict(Pilot.objects.values_list("name", "status"))
    assert sorted(statuses.values()) == ["active", "active", "completed", "stopped"]
    canary = Pilot.objects.get(phases__kind=Phase.Kind.CANARY, phases__status="active")
    shadow = Pilot.objects.get(phases__kind=Phase.Kind.SHADOW, phases__status="active")
    assert canary != shadow
    assert not canary.readiness_answers.filter(answer="unknown").exists()
    for activity in canary.raci_activities.all():
        letters = list(activity.assignments.values_list("letter", flat=True))
        assert letters.count("A") == 1, activity
        assert "R" in letters, activity
    holder = services.accountable_for(canary)
    assert holder is not None
    assert holder.username == "approver"
    assert ChangeRecord.objects.filter(scope=canary.scope).count() > 10
    for username, role in [
        ("pm", Role.PROGRAM_MANAGER),
        ("finance", Role.FINANCE),
        ("approver", Role.APPROVER),
        ("team", Role.PILOT_TEAM),
        ("procurement", Role.PROCUREMENT),
        ("admin", Role.ADMIN),
    ]:
        user = authenticate(username=username, password=f"demo-{username}-2026")
        assert user is not None, username
        assert role in user_roles(user)
        assert f"demo-{username}-2026" in output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser


def test_running_seed_demo_twice_changes_nothing():
    run()
    counts = row_counts()
    changes = ChangeRecord.objects.count()
    pilots = list(Pilot.objects.values())
    phases = list(Phase.objects.values())
    run()
    assert row_counts() == counts
    assert ChangeRecord.objects.count() == changes
    assert list(Pilot.objects.values()) == pilots
    assert list(Phase.objects.values()) == phases


def test_seed_demo_leaves_an_existing_pilot_alone():
    run()
    chat = Pilot.objects.get(raci_activities__key=RaciActivity.Key.VENDOR, name__startswith="Chat")
    services.pilot_update(pilot=chat, actor=None, data={"team": "edited"})
    run()
    chat.refresh_from_db()
    assert chat.team == "edited"


def test_seed_demo_refuses_production_without_being_told(monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setenv("DJANGO_DEBUG", "false")

    with pytest.raises(CommandError, match="--allow-production"):
        run()

    assert not get_user_model().objects.filter(username="admin").exists()


def test_seed_demo_runs_in_production_when_told_and_says_so(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    err = StringIO()

    call_command("seed_demo", "--allow-production", stdout=StringIO(), stderr=err)

    assert get_user_model().objects.filter(username="admin").exists()
    assert "DJANGO_DEBUG=false" in err.getvalue()
    assert "--allow-production" in err.getvalue()
