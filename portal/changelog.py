"""Change logs (a pilot's, a vendor's...): each ChangeRecord as lines a person reads.

Records store raw values (ids, choice codes, ISO timestamps) so they stay
true whatever is renamed later; this module turns them into names and labels
when the page is shown, with one query per related model on the page.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.dateparse import parse_datetime

from portal.models import ChangeRecord

ChangeLine = tuple[str, Any, Any]
_Names = dict[tuple[type[models.Model], Any], str]


def change_rows(
    records: list[ChangeRecord], *, tz: ZoneInfo
) -> list[tuple[ChangeRecord, list[ChangeLine]]]:
    """Each record with its ``(field label, old, new)`` lines; old is None on
    create and new is None on delete."""
    names = _related_names(records)
    return [(record, _lines(record, names, tz)) for record in records]


def _field(record: ChangeRecord, name: str) -> models.Field[Any, Any] | None:
    model = record.content_type.model_class()
    if model is None:
        return None
    with contextlib.suppress(FieldDoesNotExist):
        field = model._meta.get_field(name)
        return field if isinstance(field, models.Field) else None
    return None


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _related_names(records: list[ChangeRecord]) -> _Names:
    """Display names of every object the records point at by id."""
    # Keyed by (model, the field the foreign key points at): usually the
    # id, but Pilot.cost_center points at CostCenter.code.
    wanted: dict[tuple[type[models.Model], str], set[Any]] = defaultdict(set)
    for record in records:
        for name, value in record.changes.items():
            field = _field(record, name)
            if field is None or not field.many_to_one or field.related_model is None:
                continue
            related = field.related_model
            assert not isinstance(related, str)  # resolved once apps are loaded
            target = field.target_field.attname  # type: ignore[attr-defined]
            wanted[(related, target)].update(v for v in _values(value) if v is not None)
    names: _Names = {}
    for (model, target), ids in wanted.items():
        for obj in model._default_manager.filter(**{f"{target}__in": ids}):
            names[(model, getattr(obj, target))] = _display_name(obj)
    return names


def _display_name(obj: models.Model) -> str:
    if isinstance(obj, AbstractBaseUser):
        full: str = getattr(obj, "get_full_name", lambda: "")()
        return full or obj.get_username()
    # A model may name itself shorter in a log that is already its parent's.
    name = getattr(obj, "change_log_name", None)
    return str(name()) if callable(name) else str(obj)


def _readable(field: models.Field[Any, Any] | None, value: Any, names: _Names, tz: ZoneInfo) -> Any:
    if value is None or field is None:
        return value
    if field.many_to_one and field.related_model is not None:
        return names.get((field.related_model, value), value)  # type: ignore[arg-type]
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(field, models.BooleanField):
        return "yes" if value else "no"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if value == "":
        # An emptied text field should read as such, not as nothing.
        return "(empty)"
    return value


def _lines(record: ChangeRecord, names: _Names, tz: ZoneInfo) -> list[ChangeLine]:
    lines: list[ChangeLine] = []
    for name, value in record.changes.items():
        field = _field(record, name)
        label = str(field.verbose_name) if field is not None else name.replace("_", " ")
        if record.action == ChangeRecord.Action.UPDATE:
            old, new = value if isinstance(value, list) and len(value) == 2 else (None, value)
        elif record.action == ChangeRecord.Action.CREATE:
            old, new = None, value
        else:
            old, new = value, None
        lines.append((label, _readable(field, old, names, tz), _readable(field, new, names, tz)))
    return lines
