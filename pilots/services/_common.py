"""What every pilot service shares: the domain error and the audit call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models

from pilots.models import Pilot
from portal.audit import Actor, record_change, snapshot
from portal.models import ChangeRecord


class DomainError(ValidationError):
    """A rule of the pilot domain refused the write. It is a ValidationError
    so forms and views show it inline like any other validation message."""


# Phase transitions raise it too; the second name reads better there.
TransitionError = DomainError


def audit_create(*, actor: Actor, instance: models.Model, pilot: Pilot, message: str = "") -> None:
    record_change(
        actor=actor,
        instance=instance,
        action=ChangeRecord.Action.CREATE,
        after=snapshot(instance),
        scope=pilot.scope,
        message=message,
    )


def audit_update(
    *,
    actor: Actor,
    instance: models.Model,
    pilot: Pilot,
    before: dict[str, Any],
    message: str = "",
) -> None:
    record_change(
        actor=actor,
        instance=instance,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(instance),
        scope=pilot.scope,
        message=message,
    )


def audit_delete(
    *, actor: Actor, instance: models.Model, pilot: Pilot, before: dict[str, Any], message: str = ""
) -> None:
    record_change(
        actor=actor,
        instance=instance,
        action=ChangeRecord.Action.DELETE,
        before=before,
        scope=pilot.scope,
        message=message,
    )


def display_name(user: Any) -> str:
    full: str = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or str(user.get_username())


M = TypeVar("M", bound=models.Model)


def check_fields(data: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    """Refuse fields a service does not set (``status`` moves by transitions)."""
    unknown = set(data) - allowed
    if unknown:
        raise DomainError(f"These {what} fields cannot be set: {', '.join(sorted(unknown))}.")


def audited_create(*, actor: Actor, instance: M) -> M:
    """Validate, save and record a new object (no pilot scope)."""
    instance.full_clean()
    instance.save()
    record_change(actor=actor, instance=instance, action=ChangeRecord.Action.CREATE)
    return instance
