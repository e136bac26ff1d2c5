"""Demo vendors data (issue 12, §6): two contracts (one with its notice date
inside 90 days), RMA and patch incidents with one breach and its credit,
spares at two sites with one part below its reorder point, and units whose
firmware differs, so the canary pilot shows open red flags. Runs after
``seed_demo`` (it needs its vendors and backends). Idempotent: once the
first contract exists, a second run writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from pilots.models import Backend, Contract, Vendor
from pilots.services import catalog, spares, vendors
from pilots.signals import send_vendor_data_changed

SUPPORT_REF = "DEMO-CS3-SUPPORT"


class Command(BaseCommand):
    help = "Load the demo contracts, incidents and spares (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Contract.objects.filter(reference=SUPPORT_REF).exists():
            self.stdout.write("vendor demo data already loaded")
            return
        try:
            cerebras = Vendor.objects.get(slug="cerebras")
            nvidia = Vendor.objects.get(slug="nvidia")
            wse = Backend.objects.select_related("site").get(slug="wse-3")
            h100 = Backend.objects.select_related("site").get(slug="h100-cluster")
        except (Vendor.DoesNotExist, Backend.DoesNotExist):
            raise CommandError(
                "run seed_demo first: the vendors and backends are missing"
            ) from None
        with transaction.atomic():
            self._load(cerebras, nvidia, wse, h100)
            # One evaluation of every pilot's red flags once this commits.
            send_vendor_data_changed(backend_ids=None, sender=Contract)
        self.stdout.write("loaded vendor demo data: 2 contracts, 4 incidents, spares at 2 sites")

    def _load(self, cerebras: Vendor, nvidia: Vendor, wse: Backend, h100: Backend) -> None:
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        today = now.date()
        catalog.vendor_update(
            vendor=cerebras,
            actor=None,
            data={
                "support_contacts": "support@cerebras.example (24x7)\nTAM: +31 20 000 0000",
                "roadmap_confidence": "medium",
                "business_health": "medium",
                "escrowed_source": False,
                "multi_vendor_fallback": True,
            },
        )
        support = vendors.contract_create(
            actor=None,
            data={
                "vendor": cerebras,
                "reference": SUPPORT_REF,
                "start": today - dt.timedelta(days=300),
                # Ends before the canary pilot's target end; notice in 30 days.
                "end": today + dt.timedelta(days=60),
                "notice_days": 30,
                "auto_renewal": True,
                "renewal_term_months": 12,
                "fee": Decimal("45000.00"),
                "fee_period": "monthly",
                "replacement_hours": Decimal("24"),
                "response_hours": Decimal("4"),
                "firmware_cadence_days": 90,
                "patch_window_days": 14,
                "uptime_percent": Decimal("99.5"),
                "support_tier": "24x7x4",
                "credit_percent": Decimal("5"),
                "credit_basis": "per_breach",
                "credit_cap_percent": Decimal("20"),
            },
            backends=[wse],
        )
        vendors.contract_create(
            actor=None,
            data={
                "vendor": nvidia,
                "reference": "DEMO-H100-ENTERPRISE",
                "start": today - dt.timedelta(days=200),
                "end": today + dt.timedelta(days=530),
                "notice_days": 90,
                "fee": Decimal("240000.00"),
                "fee_period": "yearly",
                "replacement_hours": Decimal("72"),
                "response_hours": Decimal("8"),
                "patch_window_days": 30,
                "uptime_percent": Decimal("99.9"),
                "support_tier": "next business day",
                "credit_percent": Decimal("2"),
                "credit_basis": "per_hour_late",
                "credit_cap_percent": Decimal("10"),
            },
            backends=[h100],
        )
        sysmod = spares.part_create(
            actor=None,
            data={
                "vendor": cerebras,
                "part_number": "CS3-SYSMOD",
                "description": "CS-3 system module (WSE-3 engine block)",
                "criticality": "critical",
                "unit_cost": Decimal("350000.00"),
                "annual_failure_rate": Decimal("0.08"),
            },
        )
        psu = spares.part_create(
            actor=None,
            data={
                "vendor": cerebras,
                "part_number": "CS3-PSU",
                "description": "CS-3 power supply",
                "criticality": "high",
                "unit_cost": Decimal("4200.00"),
                "annual_failure_rate": Decimal("0.05"),
            },
        )
        gpu = spares.part_create(
            actor=None,
            data={
                "vendor": nvidia,
                "part_number": "H100-SXM5",
                "description": "H100 SXM5 80 GB board",
                "criticality": "critical",
                "unit_cost": Decimal("28000.00"),
                "annual_failure_rate": Decimal("0.03"),
            },
        )
        incidents: list[dict[str, Any]] = [
            # Met: replaced within the 24 h.
            {
                "kind": "rma",
                "opened_at": now - dt.timedelta(days=40),
                "resolved_at": now - dt.timedelta(days=40) + dt.timedelta(hours=20),
                "part": sysmod,
                "unit_serial": "CS3-SM-0002",
                "summary": "System module fault; replaced from the shelf.",
            },
            # Breached: replaced after 30 h, 6 h late (one 5 % credit).
            {
                "kind": "rma",
                "opened_at": now - dt.timedelta(days=10),
                "resolved_at": now - dt.timedelta(days=10) + dt.timedelta(hours=30),
                "part": psu,
                "unit_serial": "CS3-PSU-0007",
                "summary": "PSU failed; the replacement shipped late.",
            },
            {
                "kind": "security_patch",
                "opened_at": now - dt.timedelta(days=20),
                "resolved_at": now - dt.timedelta(days=12),
                "summary": "CVE fix in the appliance OS, applied within the window.",
            },
            {
                "kind": "support_request",
                "opened_at": now - dt.timedelta(days=5),
                "resolved_at": now - dt.timedelta(days=5) + dt.timedelta(hours=1),
                "summary": "Compiler question on weight streaming.",
            },
        ]
        for body in incidents:
            vendors.incident_create(actor=None, data={"contract": support, **body})

        for part, site, reorder, lead, partner in (
            (sysmod, wse.site, 2, 60, "Cerebras EMEA depot"),
            (psu, wse.site, 2, 21, "Amsterdam Power Repair BV"),
            (gpu, h100.site, 4, 14, "NVIDIA RMA centre"),
        ):
            spares.stock_create(
                actor=None,
                data={
                    "part": part,
                    "site": site,
                    "reorder_point": reorder,
                    "lead_time_days": lead,
                    "repair_partner": partner,
                },
            )
        # The system-module shelf ends below its reorder point.
        for part, site, kind, quantity, note in (
            (sysmod, wse.site, "received", 2, "initial spares"),
            (sysmod, wse.site, "consumed", 1, "RMA CS3-SM-0002"),
            (psu, wse.site, "received", 4, "initial spares"),
            (gpu, h100.site, "received", 8, "initial spares"),
            (gpu, h100.site, "consumed", 1, "board swap"),
        ):
            spares.movement_record(
                actor=None, part=part, site=site, kind=kind, quantity=quantity, note=note
            )
        # Units in service; one system module still runs older firmware.
        for i in range(wse.device_count):
            spares.unit_create(
                actor=None,
                data={
                    "serial": f"CS3-SM-{i + 10:04d}",
                    "part": sysmod,
                    "site": wse.site,
                    "status": "in_service",
                    "backend": wse,
                    "firmware_version": "2.3.1" if i else "2.2.0",
                },
            )
        for i in range(wse.device_count * 3):
            spares.unit_create(
                actor=None,
                data={
                    "serial": f"CS3-PSU-{i + 100:04d}",
                    "part": psu,
                    "site": wse.site,
                    "status": "in_service",
                    "backend": wse,
                    "firmware_version": "1.0",
                },
            )
        for i in range(16):
            spares.unit_create(
                actor=None,
                data={
                    "serial": f"H100-{i:05d}",
                    "part": gpu,
                    "site": h100.site,
                    "status": "in_service",
                    "backend": h100,
                    "firmware_version": "96.00.99",
                },
            )
