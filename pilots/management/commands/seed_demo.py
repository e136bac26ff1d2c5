"""Demo data: five backends, four vendors, four pilots in different states
and one user per role. Idempotent: every object is found by its natural key
(username, slug, pilot name) and a pilot that exists is left alone, so a
second run writes nothing at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from pilots import services
from pilots.models import Backend, Phase, Pilot, RaciActivity, ReadinessAnswer, Site, Vendor
from portal.audit import Actor, record_change
from portal.env import env_bool
from portal.models import ChangeRecord
from portal.roles import Role, sync_role_groups

# (code, name, owner's username, platform's own): eight teams' cost centers.
DEMO_COST_CENTERS: tuple[tuple[str, str, str, bool], ...] = (
    ("CC-2200", "Search", "team", False),
    ("CC-3300", "Retrieval", "team", False),
    ("CC-4100", "Conversational AI", "pm", False),
    ("CC-5100", "Speech", "team", False),
    ("CC-6100", "Ads ranking", "finance", False),
    ("CC-7200", "Developer tools", "pm", False),
    ("CC-8300", "Support automation", "approver", False),
    ("CC-9000", "AI platform", "admin", True),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str

    @property
    def password(self) -> str:
        return f"demo-{self.username}-2026"


USERS = (
    DemoUser("pm", Role.PROGRAM_MANAGER, "Priya", "Manager"),
    DemoUser("finance", Role.FINANCE, "Felix", "Finance"),
    DemoUser("approver", Role.APPROVER, "Ana", "Approver"),
    DemoUser("team", Role.PILOT_TEAM, "Theo", "Platform"),
    DemoUser("procurement", Role.PROCUREMENT, "Paula", "Procurement"),
    DemoUser("admin", Role.ADMIN, "Adam", "Admin"),
)

VENDORS = (
    (
        "cerebras",
        "Cerebras Systems",
        "https://www.cerebras.ai",
        "Single-source wafer-scale "
        "supplier: roadmap and business health reviewed quarterly; escrowed compiler source "
        "requested; GPU capacity kept as fallback.",
    ),
    (
        "nvidia",
        "NVIDIA",
        "https://www.nvidia.com",
        "Incumbent GPU vendor; multi-vendor fallback through two cloud providers.",
    ),
    (
        "google-cloud",
        "Google Cloud",
        "https://cloud.google.com",
        "TPU capacity by reservation; pricing per chip-hour.",
    ),
    ("amd", "AMD", "https://www.amd.com", "FPGA (Alveo) and EPYC CPUs; long support windows."),
)

# slug, name, kind, vendor slug, device model, count, site, region
BACKENDS = (
    (
        "wse-3",
        "CS-3 wafer-scale system",
        Backend.Kind.WAFER_SCALE,
        "cerebras",
        "CS-3 (WSE-3)",
        4,
        "ams-dc2",
        "eu-west",
    ),
    (
        "h100-cluster",
        "H100 GPU cluster",
        Backend.Kind.GPU_CLUSTER,
        "nvidia",
        "H100 SXM5 80 GB",
        64,
        "ams-dc1",
        "eu-west",
    ),
    (
        "tpu-v5e-slice",
        "TPU v5e pod slice",
        Backend.Kind.TPU_POD,
        "google-cloud",
        "TPU v5e",
        16,
        "europe-west4",
        "eu-west",
    ),
    (
        "alveo-fpga-farm",
        "Alveo FPGA farm",
        Backend.Kind.FPGA,
        "amd",
        "Alveo V80",
        32,
        "fra-dc1",
        "eu-central",
    ),
    (
        "epyc-cpu-pool",
        "EPYC CPU pool",
        Backend.Kind.CPU,
        "amd",
        "EPYC 9654",
        48,
        "fra-dc1",
        "eu-central",
    ),
)


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with DJANGO_DEBUG=false (the demo passwords are public)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The environment, not settings.DEBUG: that is what the deployment
        # says (test runners switch settings.DEBUG off on their own).
        if not env_bool("DJANGO_DEBUG", True):
            if not options["allow_production"]:
                raise CommandError(
                    "seed_demo refuses to run with DJANGO_DEBUG=false: it creates users whose "
                    "passwords are in the README. Pass --allow-production if you really mean it."
                )
            self.stderr.write(
                "seed_demo ran with DJANGO_DEBUG=false because --allow-production was given: "
                "the demo users' passwords are public; change or remove them."
            )
        with transaction.atomic():
            users = self._users()
            vendors = self._vendors()
            backends = self._backends(vendors)
            self._cost_centers(users)
            self._pilots(users, backends)
        self.stdout.write("")
        self.stdout.write("Demo logins (username / password):")
        for spec in USERS:
            self.stdout.write(f"  {spec.username:<12} {spec.password:<26} {spec.role}")

    # --- reference data -------------------------------------------------------

    def _users(self) -> dict[str, Any]:
        sync_role_groups()
        user_model = get_user_model()
        users: dict[str, Any] = {}
        for spec in USERS:
            user, created = user_model.objects.get_or_create(
                username=spec.username,
                defaults={
                    "first_name": spec.first_name,
                    "last_name": spec.last_name,
                    "email": f"{spec.username}@pilotgate.example",
                    "is_staff": spec.role == Role.ADMIN,
                    "is_superuser": spec.role == Role.ADMIN,
                },
            )
            if created:
                user.set_password(spec.password)
                user.save(update_fields=["password"])
                user.groups.add(Group.objects.get(name=spec.role))
                self.stdout.write(f"created user {spec.username}")
            users[spec.username] = user
        return users

    def _vendors(self) -> dict[str, Vendor]:
        vendors: dict[str, Vendor] = {}
        for slug, name, website, risk in VENDORS:
            vendor, created = Vendor.objects.get_or_create(
                slug=slug, defaults={"name": name, "website": website, "risk_notes": risk}
            )
            if created:
                record_change(
                    actor=None,
                    instance=vendor,
                    action=ChangeRecord.Action.CREATE,
                    message="seed_demo",
                )
                self.stdout.write(f"created vendor {name}")
            vendors[slug] = vendor
        return vendors

    def _backends(self, vendors: dict[str, Vendor]) -> dict[str, Backend]:
        backends: dict[str, Backend] = {}
        for slug, name, kind, vendor, model, count, site, region in BACKENDS:
            backend, created = Backend.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "kind": kind,
                    "vendor": vendors[vendor],
                    "device_model": model,
                    "device_count": count,
                    "site": Site.objects.get_or_create(slug=site, defaults={"name": site})[0],
                    "region": region,
                },
            )
            if created:
                record_change(
                    actor=None,
                    instance=backend,
                    action=ChangeRecord.Action.CREATE,
                    message="seed_demo",
                )
                self.stdout.write(f"created backend {name}")
            backends[slug] = backend
        return backends

    # --- pilots -----------------------------------------------------------------

    def _cost_centers(self, users: dict[str, Any]) -> None:
        """The demo's cost centers (pilots name theirs by code). Pilots sit
        below costs and never import it: the model comes from the foreign
        key. ``seed_demo_costs`` adds owners' members, mappings and models."""
        cost_center: Any = Pilot._meta.get_field("cost_center").related_model
        for code, name, owner, platform in DEMO_COST_CENTERS:
            center, created = cost_center.objects.get_or_create(
                code=code,
                defaults={"name": name, "owner": users.get(owner), "is_platform": platform},
            )
            if created:
                record_change(actor=None, instance=center, action=ChangeRecord.Action.CREATE)
                self.stdout.write(f"created cost center {code}")

    def _pilots(self, users: dict[str, Any], backends: dict[str, Backend]) -> None:
        today = timezone.now().date()
        pm = users["pm"]
        specs: list[dict[str, Any]] = [
            {
                "name": "Chat assistant on wafer-scale",
                "model_name": "llama-3.1-70b-instruct",
                "candidate_backend": backends["wse-3"],
                "baseline_backend": backends["h100-cluster"],
                "team": "conversational-ai",
                "cost_center": "CC-4100",
                "traffic_slice": "chat completions, EU",
                "description": "Steady high-QPS chat traffic; model fits on one CS-3 with "
                "weight streaming. Goal: lower tail latency and $/1M tokens.",
                # Two phases done, canary running.
                "target_start": today - dt.timedelta(weeks=12),
                "passed": 2,
                "then": "start",
            },
            {
                "name": "Search ranking on TPU",
                "model_name": "ranker-t5-xl",
                "candidate_backend": backends["tpu-v5e-slice"],
                "baseline_backend": backends["h100-cluster"],
                "team": "search",
                "cost_center": "CC-2200",
                "traffic_slice": "web search re-ranking, all regions",
                "target_start": today - dt.timedelta(weeks=6),
                "passed": 1,
                "then": "start",
            },
            {
                "name": "Embeddings on CPU",
                "model_name": "bge-large-en-v1.5",
                "candidate_backend": backends["epyc-cpu-pool"],
                "baseline_backend": backends["h100-cluster"],
                "team": "retrieval",
                "cost_center": "CC-3300",
                "traffic_slice": "offline and online embeddings",
                "target_start": today - dt.timedelta(weeks=30),
                "passed": 5,
                "then": "",
            },
            {
                "name": "Speech recognition on FPGA",
                "model_name": "whisper-large-v3",
                "candidate_backend": backends["alveo-fpga-farm"],
                "baseline_backend": backends["h100-cluster"],
                "team": "speech",
                "cost_center": "CC-5100",
                "traffic_slice": "voice notes transcription",
                "target_start": today - dt.timedelta(weeks=20),
                "passed": 1,
                "then": "fail",
            },
        ]
        for spec in specs:
            if Pilot.objects.filter(name=spec["name"]).exists():
                continue
            passed, then = spec.pop("passed"), spec.pop("then")
            start = spec["target_start"]
            spec["target_end"] = start + dt.timedelta(weeks=23)
            pilot = services.pilot_create(actor=pm, **spec)
            phases = services.phase_plan_defaults(pilot=pilot, actor=pm)
            self._run_phases(pilot, phases, passed=passed, then=then, actor=pm, today=today)
            self.stdout.write(f"created pilot {pilot.name}")
            if pilot.name.startswith("Chat"):
                self._full_raci(pilot, users)
                self._readiness(pilot, pm)
            else:
                self._go_no_go_only(pilot, users)

    def _run_phases(
        self,
        pilot: Pilot,
        phases: list[Phase],
        *,
        passed: int,
        then: str,
        actor: Actor,
        today: dt.date,
    ) -> None:
        for phase in phases[:passed]:
            services.phase_start(phase=phase, actor=actor, at=_at(phase.planned_start))
            end = min(phase.planned_end, today - dt.timedelta(days=1))
            services.phase_pass(phase=phase, actor=actor, at=_at(end, 17))
        if then and passed < len(phases):
            phase = phases[passed]
            services.phase_start(phase=phase, actor=actor, at=_at(phase.planned_start))
            if then == "fail":
                services.phase_fail(
                    phase=phase,
                    actor=actor,
                    at=_at(phase.planned_start + dt.timedelta(days=17), 15),
                    message="p99 latency regression under mixed load",
                )

    def _assign(self, pilot: Pilot, users: dict[str, Any], plan: dict[str, dict[str, str]]) -> None:
        by_key = {a.key: a for a in pilot.raci_activities.all()}
        matrix = {
            by_key[key].pk: {users[name].pk: letter for name, letter in cells.items()}
            for key, cells in plan.items()
        }
        services.raci_set_matrix(pilot=pilot, actor=users["pm"], matrix=matrix)

    def _full_raci(self, pilot: Pilot, users: dict[str, Any]) -> None:
        k = RaciActivity.Key
        self._assign(
            pilot,
            users,
            {
                k.RUNTIME: {"team": "R", "admin": "A", "procurement": "C", "pm": "I"},
                k.SLO: {"team": "R", "pm": "A", "approver": "C", "finance": "I"},
                k.VALIDATION: {"team": "R", "pm": "A", "approver": "C", "finance": "I"},
                k.VENDOR: {"procurement": "R", "pm": "A", "team": "C", "finance": "I"},
                k.GO_NO_GO: {
                    "pm": "R",
                    "approver": "A",
                    "team": "C",
                    "finance": "C",
                    "procurement": "I",
                },
            },
        )

    def _go_no_go_only(self, pilot: Pilot, users: dict[str, Any]) -> None:
        self._assign(
            pilot, users, {RaciActivity.Key.GO_NO_GO: {"pm": "R", "approver": "A", "team": "C"}}
        )

    def _readiness(self, pilot: Pilot, actor: Actor) -> None:
        q, a = ReadinessAnswer.Question, ReadinessAnswer.Answer
        services.readiness_save(
            pilot=pilot,
            actor=actor,
            answers=[
                (
                    q.STEADY_QPS,
                    a.YES,
                    "~1.8k req/s daytime, flat weekly profile (capacity dashboard).",
                ),
                (q.MODEL_FITS, a.YES, "70B fits one CS-3 with weight streaming; no sharding."),
                (q.POWER_DENSITY, a.YES, "ams-dc2 hall B rated 30 kW/rack; facilities sign-off."),
                (q.VENDOR_SLAS, a.NO, "RMA replacement time 10 business days; we need 5."),
                (q.FALLBACK_GPU, a.YES, "H100 cluster keeps 20 % headroom for the chat slice."),
            ],
        )
