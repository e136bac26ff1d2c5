"""The metrics app's card on the home page (portal.attention): imports that
failed in the last week, for those who import. Admins see every failed
import; the pilot team and program managers see theirs (started by them, or
tagged to a pilot where they hold a RACI letter)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from metrics import selectors
from metrics.models import ImportJob
from portal.attention import Card, CardItem
from portal.roles import METRICS_IMPORT, Role, roles_for, user_roles

WINDOW = dt.timedelta(days=7)
SHOWN = 8


def _item(job: ImportJob) -> CardItem:
    name = job.original_filename or job.get_source_display()
    reason = job.error.strip().splitlines()[0] if job.error.strip() else ""
    note = f"{job.created_at:%Y-%m-%d %H:%M} UTC"
    if reason:
        note += f": {Truncator(reason).chars(100)}"
    return CardItem(
        text=f"#{job.pk} {name} → {job.backend.name}",
        url=reverse("import-detail", args=[job.pk]),
        note=note,
        tone="bad",
    )


def attention_cards(user: Any) -> list[Card]:
    roles = user_roles(user)
    if not roles & roles_for(METRICS_IMPORT):
        return []
    everyone = Role.ADMIN in roles
    failed = selectors.failed_imports(
        since=timezone.now() - WINDOW, user=None if everyone else user, limit=SHOWN
    )
    return [
        Card(
            key="metrics.failed_imports",
            title="Imports that failed (7 days)",
            items=[_item(job) for job in failed.jobs],
            more=failed.total - len(failed.jobs),
            empty="No import failed in the last 7 days."
            if everyone
            else "None of your imports failed in the last 7 days.",
            link_url=reverse("import-list") + "?status=failed",
            link_text="Failed imports",
            order=12,
        )
    ]
