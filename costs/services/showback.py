"""Writes of showback's configuration: cost centers, cost models and usage
mappings. Each write is validated (``full_clean``), recorded in the change
log in the same transaction, and enqueues the refresh of the open days it
touches after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from costs.models import CostCenter, CostModel, UsageMapping
from costs.services.allocation import allocation_refresh_later, is_day_closed, utc_today
from metrics import selectors as metrics_selectors
from portal.audit import Actor, audited_update, record_change, snapshot
from portal.models import ChangeRecord

__all__ = [
    "cost_center_create",
    "cost_center_delete",
    "cost_center_update",
    "cost_model_create",
    "cost_model_delete",
    "cost_model_update",
    "usage_mapping_create",
    "usage_mapping_delete",
    "usage_mapping_update",
]


def _refusal(message: str, field: str = "__all__") -> ValidationError:
    """A refusal naming its field: the API, forms and admin already show a
    ValidationError's fields."""
    return ValidationError({field: [message]})


COST_CENTER_FIELDS = frozenset({"code", "name", "owner", "is_active", "is_platform"})
COST_MODEL_FIELDS = frozenset(
    {
        "backend",
        "kind",
        "effective_from",
        "currency",
        "device_hour_rate",
        "capex",
        "amortization_months",
        "amortization_start",
        "opex_monthly",
        "opex_source",
        "pue",
        "energy_price_kwh",
        "nameplate_kw_per_device",
        "capacity_tokens_per_second",
        "output_token_weight",
        "latency_objective_seconds",
        "idle_policy",
        "basis",
        "notes",
    }
)
MAPPING_FIELDS = frozenset({"label", "value", "cost_center", "order"})


def _check_fields(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _refusal(f"These fields cannot be set here: {', '.join(unknown)}.", unknown[0])


def _cost_center_snapshot(center: CostCenter) -> dict[str, Any]:
    data = snapshot(center)
    data["members"] = sorted(center.members.values_list("username", flat=True))
    return data


# --- cost centers ---------------------------------------------------------------


def _take_platform_flag(*, actor: Actor, center: CostCenter) -> None:
    """Exactly one cost center is the platform's: marking one unmarks the
    previous one (recorded), under a lock so two marks cannot both win."""
    for other in (
        CostCenter.objects.select_for_update().filter(is_platform=True).exclude(pk=center.pk)
    ):
        before = snapshot(other)
        other.is_platform = False
        other.save(update_fields=["is_platform"])
        record_change(
            actor=actor,
            instance=other,
            action=ChangeRecord.Action.UPDATE,
            before=before,
            after=snapshot(other),
            message=f"platform cost center is now {center.code}",
        )


@transaction.atomic
def cost_center_create(
    *,
    actor: Actor,
    code: str,
    name: str = "",
    owner: User | None = None,
    members: Sequence[User] = (),
    is_active: bool = True,
    is_platform: bool = False,
) -> CostCenter:
    """A cost center. The first one marked platform becomes the platform's."""
    center = CostCenter(
        code=code, name=name or code, owner=owner, is_active=is_active, is_platform=is_platform
    )
    center.full_clean(validate_constraints=False)
    if is_platform:
        _take_platform_flag(actor=actor, center=center)
    center.full_clean()
    center.save()
    center.members.set(members)
    record_change(
        actor=actor,
        instance=center,
        action=ChangeRecord.Action.CREATE,
        after=_cost_center_snapshot(center),
    )
    return center


@transaction.atomic
def cost_center_update(
    *,
    actor: Actor,
    center: CostCenter,
    data: Mapping[str, Any],
    members: Sequence[User] | None = None,
) -> CostCenter:
    """Change a cost center's fields (and members when given). Its code is
    what pilots and mappings refer to: a code in use cannot change."""
    _check_fields(data, COST_CENTER_FIELDS)
    center = CostCenter.objects.select_for_update().get(pk=center.pk)
    before = _cost_center_snapshot(center)
    if "code" in data and data["code"] != center.code and center.pilots.exists():
        raise _refusal("Pilots use this code; create a new cost center instead.", "code")
    if center.is_platform and data.get("is_platform") is False:
        raise _refusal(
            "One cost center must be the platform's own: mark another one instead.",
            "is_platform",
        )
    for field, value in data.items():
        setattr(center, field, value)
    if not center.name:
        center.name = center.code
    center.full_clean(validate_constraints=False)
    if center.is_platform:
        _take_platform_flag(actor=actor, center=center)
    center.full_clean()
    center.save()
    if members is not None:
        center.members.set(members)
    record_change(
        actor=actor,
        instance=center,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=_cost_center_snapshot(center),
    )
    return center


@transaction.atomic
def cost_center_delete(*, actor: Actor, center: CostCenter) -> None:
    """Delete an unused cost center (pilots, mappings or allocations refuse)."""
    if center.is_platform:
        raise _refusal("The platform's cost center cannot be deleted.", "is_platform")
    before = _cost_center_snapshot(center)
    try:
        with transaction.atomic():
            record_change(
                actor=actor, instance=center, action=ChangeRecord.Action.DELETE, before=before
            )
            center.delete()
    except ProtectedError:
        raise _refusal(
            f"{center.code} is used by pilots, usage mappings or allocations; "
            "mark it inactive instead.",
            "code",
        ) from None


# --- cost models ----------------------------------------------------------------


def _model_span(model: CostModel) -> tuple[dt.date, dt.date]:
    """The days ``model`` prices: from its effective_from to the day before
    the backend's next model (or today)."""
    following = (
        CostModel.objects.filter(
            backend_id=model.backend_id, effective_from__gt=model.effective_from
        )
        .order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    end = following - dt.timedelta(days=1) if following else utc_today()
    return model.effective_from, max(end, model.effective_from)


def _refresh_model_days(model: CostModel, *spans: tuple[dt.date, dt.date]) -> None:
    start = min(span[0] for span in spans)
    end = max(span[1] for span in spans)
    if start <= utc_today():
        allocation_refresh_later(backend_ids=[model.backend_id], start=start, end=end)


def _check_open(model: CostModel) -> None:
    if is_day_closed(model.effective_from):
        raise _refusal(
            f"{model.effective_from:%Y-%m} is a closed period; its costs never change.",
            "effective_from",
        )


@transaction.atomic
def cost_model_create(*, actor: Actor, data: Mapping[str, Any]) -> CostModel:
    """A cost model for a backend from ``effective_from`` (until the next one)."""
    _check_fields(data, COST_MODEL_FIELDS)
    model = CostModel(**{"currency": settings.PILOTGATE_CURRENCY, **data})
    model.full_clean()
    _check_open(model)
    model.save()
    record_change(
        actor=actor,
        instance=model,
        action=ChangeRecord.Action.CREATE,
        scope=model.audit_scope(),
    )
    _refresh_model_days(model, _model_span(model))
    return model


@transaction.atomic
def cost_model_update(*, actor: Actor, model: CostModel, data: Mapping[str, Any]) -> CostModel:
    """Change a cost model; the days it priced before and prices now are
    recomputed (its backend is fixed: a model moves with its history)."""
    _check_fields(data, COST_MODEL_FIELDS)
    model = CostModel.objects.select_for_update().get(pk=model.pk)
    if "backend" in data and data["backend"].pk != model.backend_id:
        raise _refusal("A cost model belongs to its backend; add one to the other.", "backend")
    _check_open(model)
    before = snapshot(model)
    old_span = _model_span(model)
    for field, value in data.items():
        setattr(model, field, value)
    model.full_clean()
    _check_open(model)
    model.save()
    record_change(
        actor=actor,
        instance=model,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(model),
        scope=model.audit_scope(),
    )
    _refresh_model_days(model, old_span, _model_span(model))
    return model


@transaction.atomic
def cost_model_delete(*, actor: Actor, model: CostModel) -> None:
    """Remove a cost model: its days fall back to the previous model (or
    lose their cost when there is none)."""
    _check_open(model)
    span = _model_span(model)
    record_change(
        actor=actor, instance=model, action=ChangeRecord.Action.DELETE, scope=model.audit_scope()
    )
    model.delete()
    _refresh_model_days(model, span)


# --- usage mappings --------------------------------------------------------------


def _refresh_mapping_days(*pairs: tuple[str, str]) -> None:
    """Refresh the days with usage from series carrying any of the
    (label, value) pairs: the only days a mapping changes."""
    spans: dict[int, tuple[dt.date, dt.date]] = {}
    for label, value in pairs:
        for backend_id, (first, last) in metrics_selectors.labelled_usage_span(
            label=label, value=value
        ).items():
            old = spans.get(backend_id)
            spans[backend_id] = (
                (first, last) if old is None else (min(old[0], first), max(old[1], last))
            )
    for backend_id, (first, last) in spans.items():
        allocation_refresh_later(backend_ids=[backend_id], start=first, end=last)


@transaction.atomic
def usage_mapping_create(*, actor: Actor, data: Mapping[str, Any]) -> UsageMapping:
    """Map a series label value to a cost center."""
    _check_fields(data, MAPPING_FIELDS)
    mapping = UsageMapping(**data)
    mapping.full_clean()
    mapping.save()
    record_change(actor=actor, instance=mapping, action=ChangeRecord.Action.CREATE)
    _refresh_mapping_days((mapping.label, mapping.value))
    return mapping


@transaction.atomic
def usage_mapping_update(
    *, actor: Actor, mapping: UsageMapping, data: Mapping[str, Any]
) -> UsageMapping:
    _check_fields(data, MAPPING_FIELDS)
    mapping = UsageMapping.objects.select_for_update().get(pk=mapping.pk)
    old = (mapping.label, mapping.value)
    audited_update(actor=actor, instance=mapping, data=data)
    _refresh_mapping_days(old, (mapping.label, mapping.value))
    return mapping


@transaction.atomic
def usage_mapping_delete(*, actor: Actor, mapping: UsageMapping) -> None:
    pair = (mapping.label, mapping.value)
    record_change(actor=actor, instance=mapping, action=ChangeRecord.Action.DELETE)
    mapping.delete()
    _refresh_mapping_days(pair)
