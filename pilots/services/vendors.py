"""Vendors' risk assessments, contracts and SLA incidents (issue 12, §1-2).

Every write is atomic, runs full_clean() before saving, records a
ChangeRecord and, after commit, tells the red flags what changed
(``pilots.signals.vendor_data_changed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from pilots.models import Backend, Contract, Incident, Vendor
from pilots.services._common import DomainError, check_fields
from pilots.signals import send_vendor_data_changed
from portal.audit import Actor, acting_user, record_change, snapshot
from portal.models import ChangeRecord
from portal.notifications import notify
from portal.roles import Role

__all__ = [
    "CONTRACT_FIELDS",
    "INCIDENT_FIELDS",
    "RISK_FIELDS",
    "contract_create",
    "contract_notice_reminders",
    "contract_update",
    "incident_create",
    "incident_update",
    "stamp_assessments",
]

# The risk answers, each stamped with who gave it and when.
RISK_FIELDS: tuple[str, ...] = (
    "roadmap_confidence",
    "business_health",
    "escrowed_source",
    "multi_vendor_fallback",
    "risk_notes",
)

CONTRACT_FIELDS: frozenset[str] = frozenset(
    {
        "vendor",
        "reference",
        "start",
        "end",
        "notice_days",
        "auto_renewal",
        "renewal_term_months",
        "fee",
        "fee_period",
        "replacement_hours",
        "response_hours",
        "firmware_cadence_days",
        "patch_window_days",
        "uptime_percent",
        "support_tier",
        "credit_percent",
        "credit_basis",
        "credit_cap_percent",
    }
)
INCIDENT_FIELDS: frozenset[str] = frozenset(
    {
        "contract",
        "kind",
        "opened_at",
        "resolved_at",
        "part",
        "unit_serial",
        "external_ref",
        "summary",
    }
)


def stamp_assessments(*, vendor: Vendor, before: Mapping[str, Any] | None, actor: Actor) -> None:
    """Stamp each risk answer that changed (or was first given) with the
    actor and the time. Called by the vendor services before saving."""
    now = timezone.now()
    user = acting_user(actor)
    for name in RISK_FIELDS:
        value = getattr(vendor, name)
        old = None if before is None else before.get(name)
        unanswered = value in (None, "")
        if (before is None and unanswered) or (before is not None and old == value):
            continue
        setattr(vendor, f"{name}_assessed_by", user)
        setattr(vendor, f"{name}_assessed_at", now)


def _slugs(backends: Iterable[Backend]) -> list[str]:
    return sorted(b.slug for b in backends)


def _vendor_backend_ids(*vendor_ids: int) -> list[int]:
    """The backends of these vendors: the SLA-breach red flag is about the
    candidate backend's vendor, whichever backends the contract names."""
    return list(Backend.objects.filter(vendor_id__in=vendor_ids).values_list("pk", flat=True))


def _send_vendor_terms_changed(covered: Iterable[Backend], *vendor_ids: int) -> None:
    """After a contract write: its terms may change the SLA-breach flags of
    the pilots on any of its vendor's backends. The covered backends had
    their signal (with the days costs refreshes); this one is for the rest."""
    covered_ids = {b.pk for b in covered}
    others = [pk for pk in _vendor_backend_ids(*vendor_ids) if pk not in covered_ids]
    if others:
        send_vendor_data_changed(backend_ids=others, sender=Contract)


def _audit(
    *,
    actor: Actor,
    instance: Contract | Incident,
    action: str,
    before: dict[str, Any] | None,
    backends: list[str],
    old_backends: list[str] | None = None,
) -> None:
    after = {**snapshot(instance), "backends": backends}
    if before is not None:
        before = {**before, "backends": old_backends or []}
    record_change(actor=actor, instance=instance, action=action, before=before, after=after)


# --- contracts -------------------------------------------------------------------


@transaction.atomic
def contract_create(
    *, actor: Actor, data: Mapping[str, Any], backends: Iterable[Backend] = ()
) -> Contract:
    check_fields(data, CONTRACT_FIELDS, "contract")
    contract = Contract(**data)
    contract.full_clean()
    contract.save()
    covered = list(backends)
    contract.backends.set(covered)
    _audit(
        actor=actor,
        instance=contract,
        action=ChangeRecord.Action.CREATE,
        before=None,
        backends=_slugs(covered),
    )
    send_vendor_data_changed(
        backend_ids=[b.pk for b in covered], sender=Contract, days=(contract.start, contract.end)
    )
    _send_vendor_terms_changed(covered, contract.vendor_id)
    return contract


@transaction.atomic
def contract_update(
    *,
    contract: Contract,
    actor: Actor,
    data: Mapping[str, Any],
    backends: Iterable[Backend] | None = None,
) -> Contract:
    """Change a contract's terms; ``backends`` (when given) replaces the
    backends it covers."""
    check_fields(data, CONTRACT_FIELDS, "contract")
    # Two editors of one contract: the second sees the first's terms.
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    before = snapshot(contract)
    old_days = (contract.start, contract.end)
    old_vendor = contract.vendor_id
    old = list(contract.backends.all())
    for field, value in data.items():
        setattr(contract, field, value)
    contract.full_clean()
    contract.save()
    new = old if backends is None else list(backends)
    if backends is not None:
        contract.backends.set(new)
    _audit(
        actor=actor,
        instance=contract,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        backends=_slugs(new),
        old_backends=_slugs(old),
    )
    send_vendor_data_changed(
        backend_ids=[b.pk for b in [*old, *new]],
        sender=Contract,
        days=(min(old_days[0], contract.start), max(old_days[1], contract.end)),
    )
    _send_vendor_terms_changed([*old, *new], old_vendor, contract.vendor_id)
    return contract


# --- incidents -------------------------------------------------------------------


def _check_incident(incident: Incident, backends: list[Backend]) -> None:
    if backends and incident.kind != Incident.Kind.OUTAGE:
        raise DomainError({"backends": "Only an outage names the backends it took down."})
    if incident.kind == Incident.Kind.OUTAGE and backends:
        covered = set(incident.contract.backends.values_list("pk", flat=True))
        outside = sorted(b.slug for b in backends if b.pk not in covered)
        if outside:
            raise DomainError(
                {"backends": f"The contract does not cover these backends: {', '.join(outside)}."}
            )
    if incident.kind != Incident.Kind.RMA and (incident.part_id or incident.unit_serial):
        raise DomainError({"part": "Only an RMA names a part and unit serial."})
    if incident.resolved_at is not None and incident.resolved_at > timezone.now():
        raise DomainError({"resolved_at": "An incident cannot be resolved in the future."})


def _incident_backend_ids(incident: Incident, backends: Iterable[Backend]) -> list[int]:
    # The vendor's backends include the contract's in practice, but a
    # contract may name another vendor's backend.
    return [
        *incident.contract.backends.values_list("pk", flat=True),
        *(b.pk for b in backends),
        *_vendor_backend_ids(incident.contract.vendor_id),
    ]


@transaction.atomic
def incident_create(
    *, actor: Actor, data: Mapping[str, Any], backends: Iterable[Backend] = ()
) -> Incident:
    check_fields(data, INCIDENT_FIELDS, "incident")
    incident = Incident(**data, created_by=acting_user(actor))
    incident.full_clean()
    affected = list(backends)
    _check_incident(incident, affected)
    incident.save()
    incident.backends.set(affected)
    _audit(
        actor=actor,
        instance=incident,
        action=ChangeRecord.Action.CREATE,
        before=None,
        backends=_slugs(affected),
    )
    send_vendor_data_changed(backend_ids=_incident_backend_ids(incident, affected), sender=Incident)
    return incident


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    actor: Actor,
    data: Mapping[str, Any],
    backends: Iterable[Backend] | None = None,
) -> Incident:
    """Change an incident (resolve it, correct a time); ``backends`` (when
    given) replaces an outage's affected backends."""
    check_fields(data, INCIDENT_FIELDS - {"contract"}, "incident")
    incident = Incident.objects.select_for_update().select_related("contract").get(pk=incident.pk)
    before = snapshot(incident)
    old = list(incident.backends.all())
    for field, value in data.items():
        setattr(incident, field, value)
    incident.full_clean()
    new = old if backends is None else list(backends)
    _check_incident(incident, new)
    incident.save()
    if backends is not None:
        incident.backends.set(new)
    _audit(
        actor=actor,
        instance=incident,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        backends=_slugs(new),
        old_backends=_slugs(old),
    )
    send_vendor_data_changed(
        backend_ids=_incident_backend_ids(incident, [*old, *new]), sender=Incident
    )
    return incident


def contract_notice_reminders(*, today: dt.date) -> int:
    """Tell procurement by email about each contract whose notice date falls
    in the next 90 days: once per contract and notice date (the key), so
    the daily job may run any number of times. Returns the messages owed."""
    from pilots.selectors_vendors import NOTICE_HORIZON_DAYS, contracts_near_notice

    recipients = list(
        get_user_model().objects.filter(groups__name=Role.PROCUREMENT, is_active=True)
    )
    sent = 0
    for contract in contracts_near_notice(today=today, days=NOTICE_HORIZON_DAYS):
        created = notify(
            key=f"contract-notice:{contract.pk}:{contract.notice_date.isoformat()}",
            kind="contract_notice",
            recipients=recipients,
            template="contract_notice",
            context={"contract": contract, "days_left": (contract.notice_date - today).days},
        )
        sent += created is not None
    return sent
