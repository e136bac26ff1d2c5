"""Sites, parts, units, stock rows and the stock ledger (issue 12, §3).

On hand is the sum of a shelf's movements, never a stored count. A
movement that takes stock out locks the shelf's row first
(``select_for_update``), then sums and checks: two people taking the last
unit at the same moment are served one after the other, and the second is
refused with the count that is left (``InsufficientStock``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from pilots.models import Backend, MovementKind, Part, Site, StockLevel, StockMovement, Unit
from pilots.services._common import DomainError, audited_create, check_fields
from pilots.signals import send_vendor_data_changed
from portal.audit import Actor, acting_user, audited_update, record_change, snapshot
from portal.models import ChangeRecord
from portal.notifications import notify
from portal.roles import Role

__all__ = [
    "PART_FIELDS",
    "SIGN",
    "SITE_FIELDS",
    "STOCK_FIELDS",
    "UNIT_FIELDS",
    "InsufficientStock",
    "movement_record",
    "movement_reverse",
    "on_hand",
    "part_create",
    "part_update",
    "site_create",
    "site_update",
    "stock_create",
    "stock_update",
    "unit_create",
    "unit_update",
]


SITE_FIELDS: frozenset[str] = frozenset({"slug", "name"})
PART_FIELDS: frozenset[str] = frozenset(
    {"vendor", "part_number", "description", "criticality", "unit_cost", "annual_failure_rate"}
)
STOCK_FIELDS: frozenset[str] = frozenset(
    {"part", "site", "reorder_point", "lead_time_days", "repair_partner"}
)
UNIT_FIELDS: frozenset[str] = frozenset(
    {"serial", "part", "site", "status", "backend", "firmware_version"}
)

# The sign each kind gives the shelf's on-hand. A transfer is out of its
# site (and into ``to_site`` by a second line, +1).
SIGN: dict[str, int] = {
    MovementKind.RECEIVED: 1,
    MovementKind.CONSUMED: -1,
    MovementKind.SENT_TO_REPAIR: -1,
    MovementKind.RETURNED: 1,
    MovementKind.WRITTEN_OFF: -1,
    MovementKind.TRANSFERRED: -1,
}


class InsufficientStock(DomainError):
    """A movement would take more than the shelf holds (the API's 409)."""

    def __init__(self, *, stock: StockLevel, wanted: int, available: int) -> None:
        self.available = available
        self.wanted = wanted
        super().__init__(
            f"Not enough stock: {wanted} wanted, {available} on hand of "
            f"{stock.part.part_number} at {stock.site.name}.",
            code="insufficient_stock",
        )


def _site_backends(site_id: int) -> list[int]:
    return list(Backend.objects.filter(site_id=site_id).values_list("pk", flat=True))


# --- catalogue --------------------------------------------------------------------


@transaction.atomic
def site_create(*, actor: Actor, data: Mapping[str, Any]) -> Site:
    check_fields(data, SITE_FIELDS, "site")
    return audited_create(actor=actor, instance=Site(**data))


@transaction.atomic
def site_update(*, site: Site, actor: Actor, data: Mapping[str, Any]) -> Site:
    check_fields(data, SITE_FIELDS, "site")
    return audited_update(
        actor=actor, instance=Site.objects.select_for_update().get(pk=site.pk), data=data
    )


@transaction.atomic
def part_create(*, actor: Actor, data: Mapping[str, Any]) -> Part:
    check_fields(data, PART_FIELDS, "part")
    return audited_create(actor=actor, instance=Part(**data))


@transaction.atomic
def part_update(*, part: Part, actor: Actor, data: Mapping[str, Any]) -> Part:
    check_fields(data, PART_FIELDS, "part")
    part = audited_update(
        actor=actor, instance=Part.objects.select_for_update().get(pk=part.pk), data=data
    )
    # Criticality and failure rate size the spares of every backend using it.
    send_vendor_data_changed(backend_ids=None, sender=Part)
    return part


@transaction.atomic
def stock_create(*, actor: Actor, data: Mapping[str, Any]) -> StockLevel:
    check_fields(data, STOCK_FIELDS, "stock")
    stock = audited_create(actor=actor, instance=StockLevel(**data))
    send_vendor_data_changed(backend_ids=_site_backends(stock.site_id), sender=StockLevel)
    return stock


@transaction.atomic
def stock_update(*, stock: StockLevel, actor: Actor, data: Mapping[str, Any]) -> StockLevel:
    check_fields(data, STOCK_FIELDS - {"part", "site"}, "stock")
    stock = StockLevel.objects.select_for_update().get(pk=stock.pk)
    stock = audited_update(actor=actor, instance=stock, data=data)
    send_vendor_data_changed(backend_ids=_site_backends(stock.site_id), sender=StockLevel)
    return stock


def _check_unit(unit: Unit) -> None:
    if unit.backend is not None and unit.backend.site_id != unit.site_id:
        raise DomainError({"site": f"Backend {unit.backend.slug} is at another site."})


@transaction.atomic
def unit_create(*, actor: Actor, data: Mapping[str, Any]) -> Unit:
    check_fields(data, UNIT_FIELDS, "unit")
    unit = Unit(**data)
    unit.full_clean()
    _check_unit(unit)
    unit = audited_create(actor=actor, instance=unit)
    send_vendor_data_changed(backend_ids=[unit.backend_id] if unit.backend_id else [], sender=Unit)
    return unit


@transaction.atomic
def unit_update(*, unit: Unit, actor: Actor, data: Mapping[str, Any]) -> Unit:
    check_fields(data, UNIT_FIELDS - {"serial"}, "unit")
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    old_backend = unit.backend_id
    before = snapshot(unit)
    for field, value in data.items():
        setattr(unit, field, value)
    unit.full_clean()
    _check_unit(unit)
    unit.save()
    record_change(
        actor=actor,
        instance=unit,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(unit),
    )
    send_vendor_data_changed(
        backend_ids=[b for b in (old_backend, unit.backend_id) if b], sender=Unit
    )
    return unit


# --- the ledger -------------------------------------------------------------------


def on_hand(stock: StockLevel) -> int:
    """The shelf's on-hand: the sum of its ledger."""
    total = StockMovement.objects.filter(stock=stock).aggregate(total=Sum("delta"))["total"]
    return int(total or 0)


def _locked_shelf(*, actor: Actor, part: Part, site: Site) -> StockLevel:
    """The shelf's row, created on first use, locked until commit: every
    movement of the shelf queues behind it, so the sum it checks cannot
    change before its own line is in."""
    stock = StockLevel.objects.filter(part=part, site=site).first()
    if stock is None:
        try:
            with transaction.atomic():
                audited_create(actor=actor, instance=StockLevel(part=part, site=site))
        except (IntegrityError, ValidationError):
            pass  # a concurrent first movement created it: lock that one
    return (
        StockLevel.objects.select_for_update()
        .select_related("part", "site")
        .get(part=part, site=site)
    )


def _procurement_recipients() -> list[Any]:
    user_model = get_user_model()
    return list(user_model.objects.filter(groups__name=Role.PROCUREMENT, is_active=True))


def _line(
    *,
    actor: Actor,
    stock: StockLevel,
    kind: str,
    quantity: int,
    delta: int,
    note: str,
    counterpart: Site | None = None,
    reverses: StockMovement | None = None,
) -> StockMovement:
    before = on_hand(stock)
    after = before + delta
    if after < 0:
        raise InsufficientStock(stock=stock, wanted=-delta, available=before)
    movement = StockMovement(
        stock=stock,
        kind=kind,
        quantity=quantity,
        delta=delta,
        note=note,
        counterpart_site=counterpart,
        reverses=reverses,
        created_by=acting_user(actor),
    )
    movement.full_clean()
    movement.save()
    record_change(actor=actor, instance=movement, action=ChangeRecord.Action.CREATE)
    if before >= stock.reorder_point > after:
        # One message per crossing below the reorder point: the movement
        # that crossed is the event.
        notify(
            key=f"reorder:{stock.pk}:{movement.pk}",
            kind="reorder",
            recipients=_procurement_recipients(),
            template="spares_reorder",
            context={"stock": stock, "on_hand": after, "movement": movement},
        )
    return movement


@transaction.atomic
def movement_record(
    *,
    actor: Actor,
    part: Part,
    site: Site,
    kind: str,
    quantity: int,
    note: str = "",
    to_site: Site | None = None,
) -> list[StockMovement]:
    """Record a movement; a transfer gives two lines (out of ``site``, into
    ``to_site``). Raises InsufficientStock when the shelf holds too little,
    with nothing written."""
    if kind not in SIGN:
        raise DomainError({"kind": f"Unknown movement kind {kind!r}."})
    if quantity < 1:
        raise DomainError({"quantity": "A movement moves at least one unit."})
    if kind == MovementKind.TRANSFERRED:
        if to_site is None:
            raise DomainError({"to_site": "A transfer names the site it goes to."})
        if to_site.pk == site.pk:
            raise DomainError({"to_site": "A transfer goes to another site."})
    elif to_site is not None:
        raise DomainError({"to_site": "Only a transfer names another site."})
    # Shelves locked in id order so two opposite transfers cannot deadlock.
    shelves = {s.pk: s for s in (site, *([to_site] if to_site else []))}
    locked = {pk: _locked_shelf(actor=actor, part=part, site=shelves[pk]) for pk in sorted(shelves)}
    source = locked[site.pk]
    lines = [
        _line(
            actor=actor,
            stock=source,
            kind=kind,
            quantity=quantity,
            delta=SIGN[kind] * quantity,
            note=note,
            counterpart=to_site,
        )
    ]
    if to_site is not None:
        lines.append(
            _line(
                actor=actor,
                stock=locked[to_site.pk],
                kind=kind,
                quantity=quantity,
                delta=quantity,
                note=note,
                counterpart=site,
            )
        )
    backend_ids = [b for s in shelves for b in _site_backends(s)]
    send_vendor_data_changed(backend_ids=backend_ids, sender=StockMovement)
    return lines


def _transfer_pair(line: StockMovement) -> StockMovement | None:
    """The other line of a transfer. ``movement_record`` writes the outgoing
    line, then the incoming one, holding both shelves' locks until commit:
    no other line of either shelf can come between them, so the pair is the
    other shelf's first matching line after the outgoing one (or its last
    before the incoming one)."""
    if line.counterpart_site_id is None:
        return None
    candidates = StockMovement.objects.filter(
        stock__part_id=line.stock.part_id,
        stock__site_id=line.counterpart_site_id,
        kind=MovementKind.TRANSFERRED,
        counterpart_site_id=line.stock.site_id,
        quantity=line.quantity,
        delta=-line.delta,
        reverses__isnull=True,
    ).select_related("stock__part", "stock__site")
    if line.delta < 0:
        return candidates.filter(pk__gt=line.pk).order_by("pk").first()
    return candidates.filter(pk__lt=line.pk).order_by("-pk").first()


@transaction.atomic
def movement_reverse(*, actor: Actor, movement: StockMovement, note: str = "") -> StockMovement:
    """Undo a wrong movement with a new line of the opposite delta (the
    ledger is never edited); a transfer's two lines are undone together.
    Refused when that would leave a shelf negative, or when the movement
    was reversed already."""
    original = StockMovement.objects.select_related("stock__part", "stock__site").get(
        pk=movement.pk
    )
    if original.reverses_id is not None:
        raise DomainError("A reversal cannot itself be reversed; record a new movement.")
    lines = [original]
    if original.kind == MovementKind.TRANSFERRED:
        pair = _transfer_pair(original)
        if pair is None:
            raise DomainError(
                "The other line of this transfer is not found; record a transfer back."
            )
        lines.append(pair)
    # Shelves locked in id order, as movement_record does (no deadlock).
    locked = {
        line.stock.site_id: _locked_shelf(actor=actor, part=line.stock.part, site=line.stock.site)
        for line in sorted(lines, key=lambda line: line.stock.site_id)
    }
    if StockMovement.objects.filter(reverses__in=lines).exists():
        raise DomainError("This movement was reversed already.")
    # The shelf that gives the units back is checked first: a refusal names it.
    reversals: dict[int, StockMovement] = {}
    for line in sorted(lines, key=lambda line: line.delta, reverse=True):
        reversals[line.pk] = _line(
            actor=actor,
            stock=locked[line.stock.site_id],
            kind=line.kind,
            quantity=line.quantity,
            delta=-line.delta,
            note=note or f"reverses movement {line.pk}",
            counterpart=line.counterpart_site,
            reverses=line,
        )
    send_vendor_data_changed(
        backend_ids=[b for site in locked for b in _site_backends(site)], sender=StockMovement
    )
    return reversals[original.pk]
