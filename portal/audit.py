"""Recording changes. Every service that writes a governed model calls this
in the same transaction as the write."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.db import models

from portal.models import ChangeRecord

# Who acts: the request's user (a token's owner on the API) or a command's
# user. None (or AnonymousUser) is the system itself — beat jobs, seeding,
# commands run without --user — and is recorded as no actor.
Actor: TypeAlias = User | AnonymousUser | None


def acting_user(actor: Actor) -> User | None:
    """The user to record as having acted, or None for the system."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The concrete field values of ``instance``, JSON-ready (FKs as ids)."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in {"id", "created_at", "updated_at"}:
            continue
        value = getattr(instance, field.attname)
        if isinstance(field, models.DecimalField) and isinstance(value, decimal.Decimal):
            # Rounded as the database stores it, without trailing zeros:
            # Decimal("5") set in code and 5.00 read back are one value, and
            # must not read as a change.
            stored = value.quantize(decimal.Decimal(1).scaleb(-(field.decimal_places or 0)))
            value = format(stored.normalize(), "f")
        data[field.name] = _jsonable(value)
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record_change(
    *,
    actor: Actor,
    instance: models.Model,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    scope: str = "",
    message: str = "",
) -> ChangeRecord | None:
    """Write a ChangeRecord. Updates that change nothing write nothing."""
    if action == ChangeRecord.Action.UPDATE:
        changes: dict[str, Any] = diff(before or {}, after or {})
        if not changes:
            return None
    elif action == ChangeRecord.Action.CREATE:
        changes = after if after is not None else snapshot(instance)
    else:
        changes = before if before is not None else snapshot(instance)
    return ChangeRecord.objects.create(
        actor=acting_user(actor),
        action=action,
        content_type=ContentType.objects.get_for_model(type(instance)),
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        scope=scope,
        changes=changes,
        message=message[:200],
    )


M = TypeVar("M", bound=models.Model)


def audited_update(*, actor: Actor, instance: M, data: Mapping[str, Any]) -> M:
    """Set ``data`` on ``instance``, validate, save and record old and new values."""
    before = snapshot(instance)
    for field, value in data.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    record_change(
        actor=actor,
        instance=instance,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(instance),
    )
    return instance
