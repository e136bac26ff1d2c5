"""The change log on the pilot page: who, when, old and new, in words."""

import pytest
from django.urls import reverse

from pilots import services
from pilots.models import RaciActivity, ReadinessAnswer
from portal.models import ChangeRecord
from tests.factories import BackendFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pilot(draft_pilot):
    return draft_pilot


def lines_of(response):
    return [line for _, lines in response.context["rows"] for line in lines]


def test_changelog_names_related_objects_and_labels_choices(as_user, pm, approver, pilot):
    tpu = BackendFactory.create(name="TPU slice", slug="tpu")
    services.pilot_update(pilot=pilot, actor=pm, data={"candidate_backend": tpu})
    go = pilot.raci_activities.get(key=RaciActivity.Key.GO_NO_GO)
    services.raci_set_matrix(pilot=pilot, actor=pm, matrix={go.pk: {approver.pk: "A", pm.pk: "R"}})
    services.phase_plan_defaults(pilot=pilot, actor=pm)

    lines = lines_of(as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk])))

    assert ("candidate backend", "WSE-3 rack", "TPU slice") in lines
    assert ("activity", None, "Go/no-go decision") in lines
    assert ("letter", None, "Accountable") in lines
    assert ("kind", None, "Lab validation") in lines
    assert ("phase", None, "1. Lab validation") in lines
    assert ("metric", None, "End-to-end latency p99") in lines
    assert ("critical", None, "yes") in lines
    assert not any(old == go.pk or new == go.pk for label, old, new in lines if label == "activity")


def test_changelog_shows_answer_labels_and_answer_time_in_display_zone(
    as_user, pm, pilot, settings
):
    settings.DISPLAY_TIME_ZONE = "Asia/Tokyo"
    services.readiness_answer(
        pilot=pilot, actor=pm, question="steady_qps", answer="yes", evidence="1.8k req/s"
    )
    ReadinessAnswer.objects.filter(pilot=pilot).update(answered_at=None)
    record = ChangeRecord.objects.get(scope=pilot.scope, action="update")
    record.changes["answered_at"][1] = "2026-01-01T00:30:00+00:00"
    record.save()

    response = as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk]))
    lines = lines_of(response)

    assert ("answer", "Unknown", "Yes") in lines
    assert ("answered at", None, "2026-01-01 09:30") in lines
    assert ("evidence", "(empty)", "1.8k req/s") in lines
    assert "Do you have steady high QPS? Yes" in response.content.decode()


def test_changelog_keeps_the_id_of_an_object_since_deleted(as_user, pm, pilot):
    activity = services.activity_add(pilot=pilot, actor=pm, name="Capacity planning")
    record = ChangeRecord.objects.get(scope=pilot.scope, object_repr="Capacity planning")
    ChangeRecord.objects.create(
        action=ChangeRecord.Action.CREATE,
        content_type=record.content_type.__class__.objects.get(model="raciassignment"),
        object_id="999",
        object_repr="gone",
        scope=pilot.scope,
        changes={"activity": activity.pk + 1000, "letter": "R"},
    )
    lines = lines_of(as_user(pm).get(reverse("pilot-changelog", args=[pilot.pk])))
    assert ("activity", None, activity.pk + 1000) in lines


# The change log page:
#   1-3. session, user, user's groups
#   4. the pilot (backends, vendors, creator joined)
#   5. COUNT(*) for the paginator
#   6. one page of records, actor and content type joined
#   7-11. names of what the page's records point at, one query per model:
#         activities, users, backends, pilots, phases
CHANGELOG_QUERIES = 11
#   12. cost centers, when the pilot's creation (which names one) is on the page


@pytest.mark.parametrize("people", [1, 6])
def test_changelog_query_count_is_constant(
    as_user, pm, make_user, pilot, people, django_assert_num_queries
):
    services.phase_plan_defaults(pilot=pilot, actor=pm)
    backend = BackendFactory.create(name="Other rack", slug="other")
    services.pilot_update(pilot=pilot, actor=pm, data={"candidate_backend": backend})
    activities = list(pilot.raci_activities.all())
    users = [make_user(f"u{i}", "pilot_team") for i in range(people)]
    matrix = {
        a.pk: {u.pk: ("A" if i == 0 else "R") for i, u in enumerate(users)} for a in activities
    }
    if people == 1:
        matrix = {a.pk: {users[0].pk: "A", pm.pk: "R"} for a in activities}
    services.raci_set_matrix(pilot=pilot, actor=pm, matrix=matrix)
    client = as_user(pm)
    creation_on_page = people == 1
    with django_assert_num_queries(CHANGELOG_QUERIES + creation_on_page):
        response = client.get(reverse("pilot-changelog", args=[pilot.pk]))
    recorded = ChangeRecord.objects.filter(scope=pilot.scope).count()
    assert len(response.context["rows"]) == min(recorded, 50)
    assert recorded > (50 if people == 6 else 20)
