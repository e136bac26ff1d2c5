"""The pilots app's cards on the home page (portal.attention), by role.

- program managers (and admins): overdue phases, phases ending soon, open
  pilots without an Accountable for the go/no-go decision;
- the pilot team: the phases of the pilots where they hold a RACI letter;
- approvers: the pilots whose go/no-go A they hold;
- finance and procurement: where their pages are, until their apps bring
  their own cards.

Each card is one query, whatever the number of pilots.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from pilots import selectors
from pilots.models import Phase, Pilot
from portal.attention import Card, CardItem
from portal.roles import Role, user_roles

# Phases ending within this many days are "ending soon".
HORIZON_DAYS = 14
# Items shown per card; the rest are counted.
SHOWN = 8

MANAGERS = frozenset({Role.PROGRAM_MANAGER, Role.ADMIN})


def local_today() -> dt.date:
    return timezone.now().astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE)).date()


def _phase_item(phase: Phase, today: dt.date) -> CardItem:
    url = reverse("pilot-phases", args=[phase.pilot_id])
    text = f"{phase.pilot.name} · {phase.label}"
    if phase.planned_end < today:
        days = (today - phase.planned_end).days
        return CardItem(
            text=text,
            url=url,
            note=f"{phase.get_status_display().lower()}, planned end "
            f"{phase.planned_end.isoformat()} ({days} day{'s' if days != 1 else ''} ago)",
            tone="bad",
        )
    days = (phase.planned_end - today).days
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    return CardItem(
        text=text,
        url=url,
        note=f"{phase.get_status_display().lower()}, ends {phase.planned_end.isoformat()} ({when})",
        tone="warn" if days <= 3 else "",
    )


def _pilot_item(pilot: Pilot, note: str = "", tone: str = "") -> CardItem:
    label = getattr(pilot, "current_phase_label", None)
    status = getattr(pilot, "current_phase_status", None)
    where = f"{label} ({status})" if label and status else "no phase planned"
    return CardItem(
        text=pilot.name,
        url=reverse("pilot-detail", args=[pilot.pk]),
        note=note or where,
        tone=tone,
    )


def _card(key: str, title: str, items: list[CardItem], **extra: Any) -> Card:
    return Card(key=key, title=title, items=items[:SHOWN], more=max(0, len(items) - SHOWN), **extra)


def attention_cards(user: Any) -> list[Card]:
    roles = user_roles(user)
    today = local_today()
    cards: list[Card] = []
    if roles & MANAGERS:
        due = selectors.phases_due(today=today, horizon_days=HORIZON_DAYS)
        cards.append(
            _card(
                "pilots.overdue",
                "Overdue phases",
                [_phase_item(p, today) for p in due.overdue],
                empty="Nothing overdue.",
                order=10,
            )
        )
        cards.append(
            _card(
                "pilots.ending_soon",
                f"Ending in the next {HORIZON_DAYS} days",
                [_phase_item(p, today) for p in due.ending_soon],
                empty="No phase ends in the next two weeks.",
                order=20,
            )
        )
        cards.append(
            _card(
                "pilots.no_go_no_go_accountable",
                "No Accountable for go/no-go",
                [
                    CardItem(
                        text=p.name,
                        url=reverse("pilot-raci", args=[p.pk]),
                        note="nobody may decide its reviews: set the A",
                        tone="warn",
                    )
                    for p in selectors.pilots_without_go_no_go_accountable()
                ],
                empty="Every open pilot has an Accountable for go/no-go.",
                order=30,
            )
        )
    if Role.PILOT_TEAM in roles:
        due = selectors.phases_due(today=today, horizon_days=HORIZON_DAYS, user=user)
        cards.append(
            _card(
                "pilots.my_phases",
                "Your pilots' phases due",
                [_phase_item(p, today) for p in [*due.overdue, *due.ending_soon]],
                empty=(
                    "No phase of your pilots is overdue or ends in the next two weeks "
                    "(your pilots are those where you hold a RACI letter)."
                ),
                order=15,
            )
        )
    if Role.APPROVER in roles:
        cards.append(
            _card(
                "pilots.my_decisions",
                "Pilots you decide",
                [_pilot_item(p) for p in selectors.pilots_decided_by(user=user)],
                empty="You hold the go/no-go A of no open pilot.",
                order=25,
            )
        )
    if Role.FINANCE in roles:
        cards.append(
            Card(
                key="costs.start",
                title="Costs",
                empty=(
                    "Showback and chargeback pages come with the costs release; until then "
                    "the pilot list shows each pilot's cost center."
                ),
                link_url=reverse("pilot-list"),
                link_text="Pilots and cost centers",
                order=80,
            )
        )
    if Role.PROCUREMENT in roles:
        cards.append(
            Card(
                key="vendors.start",
                title="Vendors and backends",
                empty=(
                    "Contracts, SLA incidents and spares pages come with the vendors release; "
                    "until then the backends list shows each vendor's hardware."
                ),
                link_url=reverse("backend-list"),
                link_text="Backends and vendors",
                order=80,
            )
        )
    return cards
