"""Vendors and backends: the catalogue pilots run on. Edits are recorded
like every other write (no pilot scope: the change log's own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from pilots.models import Backend, Vendor
from pilots.services._common import audited_create, check_fields
from pilots.services.vendors import stamp_assessments
from pilots.signals import send_vendor_data_changed
from portal.audit import Actor, audited_update, record_change, snapshot
from portal.models import ChangeRecord

VENDOR_FIELDS: frozenset[str] = frozenset(
    {"name", "slug", "website", "contact_email", "risk_notes"}
) | frozenset(
    # The vendors issue: support contacts and the risk answers
    # (pilots.services.vendors stamps who gave each and when).
    {"support_contacts", "roadmap_confidence", "business_health"}
    | {"escrowed_source", "multi_vendor_fallback"}
)
BACKEND_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "slug",
        "kind",
        "vendor",
        "device_model",
        "device_count",
        "site",
        "region",
        "is_active",
        "notes",
    }
)


@transaction.atomic
def vendor_create(*, actor: Actor, data: Mapping[str, Any]) -> Vendor:
    check_fields(data, VENDOR_FIELDS, "vendor")
    vendor = Vendor(**data)
    stamp_assessments(vendor=vendor, before=None, actor=actor)
    return audited_create(actor=actor, instance=vendor)


@transaction.atomic
def vendor_update(*, vendor: Vendor, actor: Actor, data: Mapping[str, Any]) -> Vendor:
    check_fields(data, VENDOR_FIELDS, "vendor")
    vendor = Vendor.objects.select_for_update().get(pk=vendor.pk)
    before = snapshot(vendor)
    for field, value in data.items():
        setattr(vendor, field, value)
    stamp_assessments(vendor=vendor, before=before, actor=actor)
    vendor.full_clean()
    vendor.save()
    record_change(
        actor=actor,
        instance=vendor,
        action=ChangeRecord.Action.UPDATE,
        before=before,
        after=snapshot(vendor),
    )
    return vendor


@transaction.atomic
def backend_create(*, actor: Actor, data: Mapping[str, Any]) -> Backend:
    check_fields(data, BACKEND_FIELDS, "backend")
    return audited_create(actor=actor, instance=Backend(**data))


@transaction.atomic
def backend_update(*, backend: Backend, actor: Actor, data: Mapping[str, Any]) -> Backend:
    check_fields(data, BACKEND_FIELDS, "backend")
    backend = Backend.objects.select_for_update().get(pk=backend.pk)
    backend = audited_update(actor=actor, instance=backend, data=data)
    # Its vendor, site and device count are what its pilots' red flags read.
    send_vendor_data_changed(backend_ids=[backend.pk], sender=Backend)
    return backend
