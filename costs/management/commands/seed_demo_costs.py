"""``python manage.py seed_demo_costs`` (after ``seed_demo`` and
``seed_demo_metrics``): the showback demo.

Every demo backend gets a cost model (the wafer-scale system and the FPGA
farm and CPU pool owned, the GPU cluster and TPU pod at cloud rates), the
eight cost centers get members and usage mappings, and each backend gets
hourly usage counters per team over the previous and the current month
(two team label values are left unmapped on purpose), imported through
the real import service. Idempotent: models and mappings are found by
their natural keys, and every counter value is a function of the backend,
team and hour alone, so a second run stores nothing new.

Demo figures, chosen so the break-even chart says something true: the
wafer-scale system costs about $117 an hour (capex $2.4M over 36 months,
$15k/month opex, 23 kW at PUE 1.3) for 150,000 tokens/s of rated capacity;
the 64-GPU H100 cluster $160 an hour ($2.50 per GPU-hour) for 64,000
tokens/s. With §5's formula each backend's curve is hourly cost /
(capacity × u), so two curves never cross each other on a utilization
axis; what crosses is the wafer-scale curve and the GPU cluster's measured
$/1M tokens (its dotted line): above roughly 15 % utilization steady
traffic is cheaper on wafer-scale than on the GPUs as they run today.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from costs import services
from costs.models import CostCenter, CostModel, UsageMapping
from metrics.models import ImportJob
from metrics.services import import_job_create, import_job_run
from pilots.models import Backend

D = Decimal

# slug -> (cost model fields, {team: mean tokens per second})
DEMO: dict[str, tuple[dict[str, Any], dict[str, float]]] = {
    "wse-3": (
        {
            "kind": "owned",
            "capex": D("2400000"),
            "amortization_months": 36,
            "amortization_start": dt.date(2025, 6, 1),
            "opex_monthly": D("15000"),
            "pue": D("1.3"),
            "energy_price_kwh": D("0.12"),
            "nameplate_kw_per_device": D("23"),
            "capacity_tokens_per_second": D("150000"),
            "idle_policy": "platform",
            "latency_objective_seconds": D("2"),
        },
        {"chat": 26_000, "support-bot": 9_000, "codegen": 4_000, "growth-experiments": 1_000},
    ),
    "h100-cluster": (
        {
            "kind": "cloud_rate",
            "device_hour_rate": D("2.50"),
            "capacity_tokens_per_second": D("64000"),
            "latency_objective_seconds": D("2"),
        },
        {"chat": 12_000, "search": 8_000, "ads": 6_000, "legacy-batch": 2_000},
    ),
    "tpu-v5e-slice": (
        {
            "kind": "cloud_rate",
            "device_hour_rate": D("1.20"),
            "capacity_tokens_per_second": D("8000"),
            "latency_objective_seconds": D("0.5"),
        },
        {"search": 3_000, "ads": 1_500},
    ),
    "alveo-fpga-farm": (
        {
            "kind": "owned",
            "capex": D("120000"),
            "amortization_months": 36,
            "amortization_start": dt.date(2025, 3, 1),
            "opex_monthly": D("1500"),
            "pue": D("1.4"),
            "energy_price_kwh": D("0.12"),
            "nameplate_kw_per_device": D("0.225"),
            "capacity_tokens_per_second": D("2000"),
        },
        {"speech": 700, "legacy-batch": 100},
    ),
    "epyc-cpu-pool": (
        {
            "kind": "owned",
            "capex": D("60000"),
            "amortization_months": 48,
            "amortization_start": dt.date(2024, 9, 1),
            "opex_monthly": D("800"),
            "pue": D("1.5"),
            "energy_price_kwh": D("0.12"),
            "nameplate_kw_per_device": D("0.36"),
            "capacity_tokens_per_second": D("9000"),
            "idle_policy": "platform",
        },
        {"retrieval": 3_500, "search": 800},
    ),
}
TEAM_COST_CENTERS = {
    "search": "CC-2200",
    "retrieval": "CC-3300",
    "chat": "CC-4100",
    "speech": "CC-5100",
    "ads": "CC-6100",
    "codegen": "CC-7200",
    "support-bot": "CC-8300",
}
# The demo traffic seed_demo_metrics imports carries model=demo (vLLM:
# model_name=demo): the chat team's.
MODEL_MAPPINGS = (("model", "demo", "CC-4100"), ("model_name", "demo", "CC-4100"))
TOKENS_PER_REQUEST = 1350
PROMPT_SHARE = 0.66


def _load(hour: dt.datetime) -> float:
    """Daily shape: busy afternoons (UTC), quiet nights, 0.35..1.65."""
    return 1.0 + 0.65 * math.sin((hour.hour - 8) / 24 * 2 * math.pi)


class Command(BaseCommand):
    help = "Cost models, cost-center mappings and per-team usage for the demo (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        backends = {b.slug: b for b in Backend.objects.filter(slug__in=DEMO)}
        if not backends:
            raise CommandError("No demo backends: run seed_demo first.")
        now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        this_month = now.date().replace(day=1)
        start_day = (this_month - dt.timedelta(days=1)).replace(day=1)
        self._cost_centers()
        self._mappings()
        for slug, backend in sorted(backends.items()):
            self._cost_model(backend, DEMO[slug][0], start_day)
        start = dt.datetime.combine(start_day, dt.time(), tzinfo=dt.UTC)
        with tempfile.TemporaryDirectory() as tmp:
            for slug, backend in sorted(backends.items()):
                self._usage(backend, DEMO[slug][1], start, now, Path(tmp))
        result = services.allocation_refresh(backend_ids=None, start=start_day, end=now.date())
        self.stdout.write(
            f"showback: {result.backend_days} backend-days, {result.lines} allocation lines"
        )

    def _cost_centers(self) -> None:
        from django.contrib.auth import get_user_model

        users = {u.username: u for u in get_user_model().objects.all()}
        for code in ("CC-2200", "CC-3300", "CC-5100"):
            center = CostCenter.objects.filter(code=code).first()
            if center is not None and "team" in users:
                center.members.add(users["team"])

    def _mappings(self) -> None:
        for team, code in sorted(TEAM_COST_CENTERS.items()):
            if not UsageMapping.objects.filter(label="team", value=team).exists():
                services.usage_mapping_create(
                    actor=None,
                    data={
                        "label": "team",
                        "value": team,
                        "cost_center": CostCenter.objects.get(code=code),
                        "order": 10,
                    },
                )
        for label, value, code in MODEL_MAPPINGS:
            if not UsageMapping.objects.filter(label=label, value=value).exists():
                services.usage_mapping_create(
                    actor=None,
                    data={
                        "label": label,
                        "value": value,
                        "cost_center": CostCenter.objects.get(code=code),
                        "order": 100,
                    },
                )

    def _cost_model(self, backend: Backend, fields: dict[str, Any], start: dt.date) -> None:
        if CostModel.objects.filter(backend=backend).exists():
            return
        services.cost_model_create(
            actor=None, data={"backend": backend, "effective_from": start, **fields}
        )
        self.stdout.write(f"{backend.slug}: {fields['kind']} cost model from {start}")

    def _usage(
        self,
        backend: Backend,
        teams: dict[str, float],
        start: dt.datetime,
        until: dt.datetime,
        tmp: Path,
    ) -> None:
        path = tmp / f"demo-usage-{backend.slug}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["timestamp", "metric", "value", "labels"])
            for team, rate in sorted(teams.items()):
                prompt = generated = requests = 0.0
                hour = start
                while hour <= until:
                    stamp = hour.strftime("%Y-%m-%dT%H:%M:%SZ")
                    labels = f"team={team}"
                    writer.writerow([stamp, "prompt_tokens_total", f"{prompt:.0f}", labels])
                    writer.writerow([stamp, "generation_tokens_total", f"{generated:.0f}", labels])
                    writer.writerow([stamp, "requests_total", f"{requests:.0f}", labels])
                    rng = random.Random(f"{backend.slug}:{team}:{stamp}")
                    tokens = rate * 3600 * _load(hour) * rng.uniform(0.9, 1.1)
                    prompt += round(tokens * PROMPT_SHARE)
                    generated += round(tokens * (1 - PROMPT_SHARE))
                    requests += round(tokens / TOKENS_PER_REQUEST)
                    hour += dt.timedelta(hours=1)
        job = import_job_create(
            actor=None,
            backend=backend,
            fmt=ImportJob.Format.CSV,
            source=ImportJob.Source.CLI,
            file=path,
            enqueue=False,
        )
        import_job_run(job_id=job.pk)
        job.refresh_from_db()
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"{backend.slug}: usage import #{job.pk} failed: {job.error}")
        self.stdout.write(
            f"{backend.slug}: usage import #{job.pk} stored {job.samples_stored}, "
            f"duplicates {job.duplicates}"
        )
