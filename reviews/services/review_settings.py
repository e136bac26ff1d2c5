"""A pilot's review settings (issue 11, §3): the score thresholds of the
overall verdict (pass at ≥ 90, marginal at ≥ 75 unless the pilot says
otherwise), the bootstrap's resamples and the device temperature limit of
the thermal red flag.

They apply to reviews submitted from the change on: a submitted review's
evidence froze the settings it was computed with (its snapshot keeps the
parameters), so a change never alters a verdict already given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from pilots.models import Pilot
from portal.audit import Actor
from portal.models import ChangeRecord
from reviews.models import ReviewSettings
from reviews.services._common import ReviewError, audit, fields_of

__all__ = ["REVIEW_SETTINGS_FIELDS", "review_settings_update"]

REVIEW_SETTINGS_FIELDS = ("pass_score", "marginal_score", "resamples", "temperature_limit")


def review_settings_update(
    *, pilot: Pilot, actor: Actor, data: Mapping[str, Any]
) -> ReviewSettings:
    """Set some of ``REVIEW_SETTINGS_FIELDS`` of the pilot's settings (the
    defaults until the first change). Errors name the field; nothing is
    written when one is refused."""
    unknown = set(data) - set(REVIEW_SETTINGS_FIELDS)
    if unknown:
        raise ReviewError(f"These review settings cannot be edited: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        # The pilot's row lock: two first saves at once would both find no
        # settings row, and the second would hit the one-to-one's unique
        # index instead of changing the row the first one created.
        Pilot.objects.select_for_update().filter(pk=pilot.pk).values_list("pk").first()
        current = ReviewSettings.objects.filter(pilot_id=pilot.pk).first()
        created = current is None
        row = current if current is not None else ReviewSettings(pilot_id=pilot.pk)
        before = fields_of(row)
        for name, value in data.items():
            setattr(row, name, value)
        if row.marginal_score > row.pass_score:
            raise ReviewError(
                {"marginal_score": ["The marginal score cannot exceed the pass score."]}
            )
        row.full_clean()
        row.save()
        audit(
            actor=actor,
            instance=row,
            pilot_id=pilot.pk,
            action=ChangeRecord.Action.CREATE if created else ChangeRecord.Action.UPDATE,
            before=None if created else before,
            message="replaces the defaults" if created else "",
        )
    return row
