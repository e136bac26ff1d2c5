"""The home page shows each role what needs its attention (portal.attention
cards from the pilots and metrics apps), in a constant number of queries."""

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from metrics.models import ImportJob
from pilots import services
from pilots.models import Phase, Pilot, RaciActivity
from portal import attention
from portal.roles import Role
from tests.factories import ImportJobFactory, PhaseFactory, PilotFactory, UserFactory

pytestmark = pytest.mark.django_db

GO = RaciActivity.Key.GO_NO_GO


def today() -> dt.date:
    from pilots.attention import local_today

    return local_today()


def cards(response: Any) -> dict[str, list[str]]:
    """Card key -> the texts of its items."""
    return {card.key: [item.text for item in card.items] for card in response.context["cards"]}


def give(pilot: Pilot, letters: dict[Any, str], actor: Any = None) -> None:
    """Set go/no-go letters on ``pilot`` (a factory pilot gets the activity first)."""
    go, _ = pilot.raci_activities.get_or_create(key=GO, defaults={"name": "Go/no-go decision"})
    services.raci_set_matrix(
        pilot=pilot, actor=actor, matrix={go.pk: {u.pk: letter for u, letter in letters.items()}}
    )


@pytest.fixture
def world(pm, approver, pilot_team) -> dict[str, Any]:
    """Three open pilots: one overdue, one ending soon (the team's, decided
    by the approver), one with nothing due and no go/no-go A."""
    now = today()
    late = PilotFactory.create(name="Late pilot", status=Pilot.Status.ACTIVE)
    PhaseFactory.create(
        pilot=late,
        order=1,
        status=Phase.Status.ACTIVE,
        planned_start=now - dt.timedelta(days=30),
        planned_end=now - dt.timedelta(days=2),
    )
    give(late, {pm: "A", approver: "R"})
    soon = PilotFactory.create(name="Soon pilot")
    PhaseFactory.create(
        pilot=soon,
        order=1,
        kind=Phase.Kind.SHADOW,
        planned_start=now - dt.timedelta(days=3),
        planned_end=now + dt.timedelta(days=5),
    )
    give(soon, {approver: "A", pilot_team: "R"})
    quiet = PilotFactory.create(name="Quiet pilot")
    PhaseFactory.create(
        pilot=quiet,
        order=1,
        planned_start=now + dt.timedelta(days=60),
        planned_end=now + dt.timedelta(days=90),
    )
    stopped = PilotFactory.create(name="Stopped pilot", status=Pilot.Status.STOPPED)
    PhaseFactory.create(
        pilot=stopped,
        order=1,
        planned_start=now - dt.timedelta(days=30),
        planned_end=now - dt.timedelta(days=1),
    )
    return {"late": late, "soon": soon, "quiet": quiet}


def test_program_manager_sees_overdue_ending_soon_and_missing_accountables(as_user, pm, world):
    seen = cards(as_user(pm).get(reverse("home")))
    assert seen["pilots.overdue"] == ["Late pilot · Lab validation"]
    assert seen["pilots.ending_soon"] == ["Soon pilot · Shadow"]
    assert seen["pilots.no_go_no_go_accountable"] == ["Quiet pilot"]
    assert "pilots.my_decisions" not in seen


def test_pilot_team_sees_only_their_pilots_phases(as_user, pilot_team, world):
    seen = cards(as_user(pilot_team).get(reverse("home")))
    assert seen["pilots.my_phases"] == ["Soon pilot · Shadow"]
    assert "pilots.overdue" not in seen
    assert "pilots.no_go_no_go_accountable" not in seen


def test_approver_sees_the_pilots_they_decide(as_user, approver, world):
    response = as_user(approver).get(reverse("home"))
    seen = cards(response)
    assert seen == {"pilots.my_decisions": ["Soon pilot"]}
    assert "Shadow (planned)" in response.content.decode()


def test_finance_and_procurement_get_a_card_pointing_to_their_pages(
    as_user, finance, procurement, world
):
    response = as_user(finance).get(reverse("home"))
    assert cards(response) == {"costs.start": []}
    assert "Showback and chargeback pages come with the costs release" in (
        response.content.decode()
    )
    response = as_user(procurement).get(reverse("home"))
    assert cards(response) == {"vendors.start": []}
    assert reverse("backend-list") in response.content.decode()


def test_failed_imports_card_shows_the_teams_own_failures_of_the_last_week(
    as_user, pilot_team, admin_user, world
):
    mine = ImportJobFactory.create(
        status=ImportJob.Status.FAILED,
        created_by=pilot_team,
        original_filename="mine.prom",
        error="Line 3: not a number",
    )
    tagged = ImportJobFactory.create(
        status=ImportJob.Status.FAILED, pilot=world["soon"], original_filename="tagged.prom"
    )
    ImportJobFactory.create(status=ImportJob.Status.FAILED, original_filename="others.prom")
    ImportJobFactory.create(status=ImportJob.Status.SUCCEEDED, created_by=pilot_team)
    old = ImportJobFactory.create(
        status=ImportJob.Status.FAILED, created_by=pilot_team, original_filename="old.prom"
    )
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))

    response = as_user(pilot_team).get(reverse("home"))
    seen = cards(response)["metrics.failed_imports"]
    assert sorted(seen) == sorted(
        [
            f"#{mine.pk} mine.prom → {mine.backend.name}",
            f"#{tagged.pk} tagged.prom → {tagged.backend.name}",
        ]
    )
    assert "Line 3: not a number" in response.content.decode()
    everything = cards(as_user(admin_user).get(reverse("home")))["metrics.failed_imports"]
    assert len(everything) == 3


def test_no_failed_imports_says_so(as_user, pilot_team):
    response = as_user(pilot_team).get(reverse("home"))
    assert cards(response)["metrics.failed_imports"] == []
    assert "None of your imports failed in the last 7 days." in response.content.decode()


def test_the_approver_gets_no_imports_card(as_user, approver):
    assert "metrics.failed_imports" not in cards(as_user(approver).get(reverse("home")))


def test_an_app_adds_cards_through_the_registry(as_user, finance):
    def provider(user: Any) -> list[attention.Card]:
        return [
            attention.Card(
                key="test.budget",
                title="Budgets over plan",
                items=[attention.CardItem(text="CC-7 at 130 %", tone="bad")],
                order=1,
            ),
            # A second provider's duplicate key shows once.
            attention.Card(key="costs.start", title="Duplicate"),
        ]

    attention.register("test", provider)
    try:
        response = as_user(finance).get(reverse("home"))
    finally:
        attention.unregister("test")
    titles = [card.title for card in response.context["cards"]]
    assert titles[0] == "Budgets over plan"
    assert titles.count("Costs") + titles.count("Duplicate") == 1
    assert "CC-7 at 130 %" in response.content.decode()


def test_cards_list_a_few_items_and_count_the_rest(as_user, pm):
    now = today()
    for i in range(12):
        pilot = PilotFactory.create(name=f"Pilot {i:02}")
        PhaseFactory.create(
            pilot=pilot, order=1, planned_start=now - dt.timedelta(days=9), planned_end=now
        )
    response = as_user(pm).get(reverse("home"))
    (card,) = [c for c in response.context["cards"] if c.key == "pilots.ending_soon"]
    assert len(card.items) == 8 and card.more == 4
    assert "and 4 more" in response.content.decode()


def make_open_pilots(count: int, team: Any, approver: Any) -> None:
    now = today()
    for i in range(count):
        pilot = PilotFactory.create(name=f"Busy {i}", status=Pilot.Status.ACTIVE)
        PhaseFactory.create(
            pilot=pilot,
            order=1,
            status=Phase.Status.ACTIVE,
            planned_start=now - dt.timedelta(days=20),
            planned_end=now - dt.timedelta(days=1) if i % 2 else now + dt.timedelta(days=3),
        )
        if i % 3:
            give(pilot, {approver: "A", team: "R"})
        ImportJobFactory.create(status=ImportJob.Status.FAILED, pilot=pilot, created_by=team)


# Home page queries by role (each after session, user and the user's groups,
# and the open pilots grouped by current phase: 4):
#   program manager: + phases due, pilots without go/no-go A, failed imports = 7
#   pilot team:      + their phases due, failed imports                     = 6
#   approver:        + pilots they decide                                   = 5
#   finance:         nothing more (a card pointing to the pilot list)        = 4
#   admin: a superuser holds every role without a groups query (3), then
#          + phases due, no A, their phases due, decided, all failed imports = 8
HOME_QUERIES = {"pm": 7, "pilot_team": 6, "approver": 5, "finance": 4, "admin_user": 8}


@pytest.mark.parametrize("persona", sorted(HOME_QUERIES))
@pytest.mark.parametrize("count", [3, 30])
def test_home_query_count_is_constant_for_every_role(
    request, as_user, pilot_team, approver, persona, count, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    make_open_pilots(count, pilot_team, approver)
    UserFactory.create_batch(3, roles=[Role.FINANCE])
    client = as_user(user)
    with django_assert_num_queries(HOME_QUERIES[persona]):
        response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["cards"]
