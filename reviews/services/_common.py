"""What the review services share: their errors and the audit call."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models

from portal.audit import Actor, record_change, snapshot
from portal.models import ChangeRecord


class ReviewError(ValidationError):
    """A review rule refused the write (the API answers 400 naming the field)."""


class ReviewConflict(ReviewError):
    """The write conflicts with the state of the data: an open review exists,
    the review was decided meanwhile, an objection is unresolved (409)."""


class ReviewForbidden(PermissionDenied):
    """The user holds a role but not the RACI letter this needs (403)."""


# The frozen evidence is kept on the review itself; the change log records
# the verdict and score fields instead of copying megabytes of inputs.
_LARGE_FIELDS = frozenset({"snapshot", "evidence", "body"})
# Shown in the change log as a keyed fingerprint, never as written: the log
# is read by everyone who reads the pilot, and a webhook's secret signs
# what its receiver trusts. The fingerprint changes when the secret does,
# so the log still says that (and when, and by whom) it was changed.
_SECRET_FIELDS = frozenset({"secret"})


def secret_fingerprint(value: str) -> str:
    if not value:
        return ""
    mac = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return f"hmac:{mac.hexdigest()[:12]}"


def fields_of(instance: models.Model) -> dict[str, Any]:
    """The change-log snapshot of ``instance``: no bulky JSON, no secret."""
    return {
        k: secret_fingerprint(v) if k in _SECRET_FIELDS else v
        for k, v in snapshot(instance).items()
        if k not in _LARGE_FIELDS
    }


def audit(
    *,
    actor: Actor,
    instance: models.Model,
    pilot_id: int,
    action: str,
    before: dict[str, Any] | None = None,
    message: str = "",
) -> None:
    record_change(
        actor=actor,
        instance=instance,
        action=action,
        before=before,
        after=None if action == ChangeRecord.Action.DELETE else fields_of(instance),
        scope=f"pilot:{pilot_id}",
        message=message,
    )
