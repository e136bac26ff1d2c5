"""``python manage.py seed_demo_metrics [--days N] [--until ISO]``

Synthetic metrics for the demo backends (run after ``seed_demo``), so the
backend and pilot pages have charts. One long-CSV file per backend goes
through the real import service, as an upload would.

Idempotent: every value is a function of the backend and the instant alone
(noise seeded by both; counters restart at midnight UTC, as after a nightly
redeploy, and the window always starts at a midnight), so running it again
stores nothing new, and running it later only adds the hours since.

The H100 cluster speaks vLLM and DCGM-exporter names (mapped on import);
the other backends send canonical names, as non-GPU exporters may.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.models import ImportJob
from metrics.services import import_job_create, import_job_run
from pilots.models import Backend

STEP = dt.timedelta(minutes=15)
# vLLM's own bucket bounds, so the quantiles are as coarse as real ones.
LATENCY_BUCKETS: tuple[float, ...] = (
    *(0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0),
    math.inf,
)
TTFT_BUCKETS: tuple[float, ...] = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
    math.inf,
)


@dataclass(frozen=True)
class Profile:
    """How one demo backend behaves: traffic at the daily peak, latency
    (log-normal: median and spread), and per-device power and heat."""

    devices: int
    peak_rps: float
    tokens_per_request: float
    prompt_per_request: float
    e2e_median: float
    ttft_median: float
    sigma: float
    error_rate: float
    util_peak: float
    power_idle: float
    power_peak: float
    temp_idle: float
    temp_peak: float
    # Chance per device and step of a power-cap throttle at peak load.
    throttle_chance: float
    gpu_names: bool = False


PROFILES: dict[str, Profile] = {
    # The baseline of every demo pilot.
    "h100-cluster": Profile(
        devices=4,
        peak_rps=6.0,
        tokens_per_request=450,
        prompt_per_request=900,
        e2e_median=4.2,
        ttft_median=0.32,
        sigma=0.55,
        error_rate=0.004,
        util_peak=92,
        power_idle=110,
        power_peak=690,
        temp_idle=38,
        temp_peak=79,
        throttle_chance=0.04,
        gpu_names=True,
    ),
    "wse-3": Profile(
        devices=1,
        peak_rps=60.0,
        tokens_per_request=450,
        prompt_per_request=900,
        e2e_median=1.1,
        ttft_median=0.09,
        sigma=0.35,
        error_rate=0.001,
        util_peak=71,
        power_idle=9_000,
        power_peak=23_000,
        temp_idle=24,
        temp_peak=31,
        throttle_chance=0.0,
    ),
    "tpu-v5e-slice": Profile(
        devices=4,
        peak_rps=14.0,
        tokens_per_request=40,
        prompt_per_request=350,
        e2e_median=0.18,
        ttft_median=0.05,
        sigma=0.4,
        error_rate=0.002,
        util_peak=85,
        power_idle=70,
        power_peak=210,
        temp_idle=35,
        temp_peak=62,
        throttle_chance=0.01,
    ),
    "alveo-fpga-farm": Profile(
        devices=4,
        peak_rps=3.0,
        tokens_per_request=120,
        prompt_per_request=0,
        e2e_median=2.4,
        ttft_median=0.6,
        sigma=0.45,
        error_rate=0.012,
        util_peak=78,
        power_idle=45,
        power_peak=180,
        temp_idle=40,
        temp_peak=74,
        throttle_chance=0.02,
    ),
    "epyc-cpu-pool": Profile(
        devices=4,
        peak_rps=20.0,
        # Embeddings: prompts in, no generated tokens.
        tokens_per_request=0,
        prompt_per_request=300,
        e2e_median=0.09,
        ttft_median=0.09,
        sigma=0.3,
        error_rate=0.0005,
        util_peak=66,
        power_idle=120,
        power_peak=360,
        temp_idle=45,
        temp_peak=70,
        throttle_chance=0.0,
    ),
}


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    if math.isinf(x):
        return 1.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


def _load(ts: dt.datetime) -> float:
    """Daily traffic shape, 0.25 at 03:00 UTC to 1.0 at 15:00 UTC."""
    hours = ts.hour + ts.minute / 60
    return 0.625 + 0.375 * math.sin((hours - 9.0) / 24.0 * 2.0 * math.pi)


def _labels(**pairs: str) -> str:
    return ";".join(f"{key}={value}" for key, value in pairs.items())


def _stamp(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(slug: str, p: Profile, start: dt.datetime, until: dt.datetime) -> Iterator[list[str]]:
    """(timestamp, metric, value, labels) rows every STEP from ``start`` (a
    midnight) up to, not including, ``until`` (a whole hour), so the last
    hour charted is a complete one."""
    n = {
        "e2e": "vllm:e2e_request_latency_seconds" if p.gpu_names else "request_latency_seconds",
        "ttft": "vllm:time_to_first_token_seconds"
        if p.gpu_names
        else "time_to_first_token_seconds",
        "req": "vllm:request_success_total" if p.gpu_names else "requests_total",
        "gen": "vllm:generation_tokens_total" if p.gpu_names else "generation_tokens_total",
        "prompt": "vllm:prompt_tokens_total" if p.gpu_names else "prompt_tokens_total",
    }
    counters: dict[tuple[str, str], float] = {}
    ts = start
    while ts < until:
        if ts.hour == 0 and ts.minute == 0:
            counters.clear()  # the nightly restart
        rng = random.Random(f"{slug}:{ts.isoformat()}")
        load = _load(ts) * rng.uniform(0.9, 1.1)
        requests = p.peak_rps * load * STEP.total_seconds()
        errors = requests * p.error_rate * rng.uniform(0.5, 1.5)
        when = _stamp(ts)

        def bump(metric: str, labels: str, by: float, when: str = when) -> list[str]:
            key = (metric, labels)
            counters[key] = counters.get(key, 0.0) + by
            return [when, metric, f"{counters[key]:.3f}", labels]

        model = "model_name=demo" if p.gpu_names else "model=demo"
        # Tail latency grows with load; the median a little.
        spread = p.sigma * (0.85 + 0.3 * load)
        for key, median, bounds in (
            ("e2e", p.e2e_median * (0.9 + 0.2 * load), LATENCY_BUCKETS),
            ("ttft", p.ttft_median * (0.85 + 0.3 * load), TTFT_BUCKETS),
        ):
            for le in bounds:
                share = _lognormal_cdf(le, median, spread)
                le_text = "+Inf" if math.isinf(le) else f"{le:g}"
                yield bump(f"{n[key]}_bucket", f"{model};le={le_text}", requests * share)
            yield bump(f"{n[key]}_sum", model, requests * median * math.exp(spread**2 / 2))
            yield bump(f"{n[key]}_count", model, requests)
        if p.gpu_names:
            yield bump(n["req"], f"{model};finished_reason=stop", requests - errors)
            yield bump(n["req"], f"{model};finished_reason=error", errors)
        else:
            yield bump(n["req"], model, requests)
            yield bump("errors_total", model, errors)
        if p.tokens_per_request:
            yield bump(n["gen"], model, requests * p.tokens_per_request)
        if p.prompt_per_request:
            yield bump(n["prompt"], model, requests * p.prompt_per_request)

        for device in range(p.devices):
            util = min(100.0, p.util_peak * load * rng.uniform(0.9, 1.08))
            power = p.power_idle + (p.power_peak - p.power_idle) * util / 100
            temp = p.temp_idle + (p.temp_peak - p.temp_idle) * util / 100 + rng.uniform(-1, 1)
            throttled = load > 0.85 and rng.random() < p.throttle_chance
            throttle_s = rng.uniform(20, 240) if throttled else 0.0
            if p.gpu_names:
                dev = _labels(gpu=str(device), UUID=f"GPU-demo-{device}", modelName="H100")
                yield [when, "DCGM_FI_DEV_GPU_UTIL", f"{util:.0f}", dev]
                yield [when, "DCGM_FI_DEV_POWER_USAGE", f"{power:.1f}", dev]
                yield [when, "DCGM_FI_DEV_GPU_TEMP", f"{temp:.0f}", dev]
                # mJ and ns, as the exporter reports them.
                yield bump(
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", dev, power * STEP.total_seconds() * 1e3
                )
                yield bump("DCGM_FI_DEV_POWER_VIOLATION", dev, throttle_s * 1e9)
                yield bump("DCGM_FI_DEV_THERMAL_VIOLATION", dev, 0.0)
                # 0x4: software power cap.
                yield [when, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "4" if throttled else "0", dev]
                yield [when, "DCGM_FI_DEV_XID_ERRORS", "0", dev]
            else:
                dev = _labels(device=str(device))
                yield [when, "device_utilization_percent", f"{util:.1f}", dev]
                yield [when, "power_watts", f"{power:.1f}", dev]
                yield [when, "temperature_celsius", f"{temp:.1f}", dev]
                yield bump("energy_joules_total", dev, power * STEP.total_seconds())
                yield bump("throttle_seconds_total", f"{dev};reason=power", throttle_s)
                yield bump("throttle_events_total", dev, 1.0 if throttled else 0.0)
        ts += STEP


class Command(BaseCommand):
    help = "Import a few days of synthetic metrics for the demo backends (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=6, help="Whole days before today (default 6)."
        )
        parser.add_argument(
            "--until",
            help="ISO-8601 end of the data (default: the current hour, UTC).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 0:
            raise CommandError("--days cannot be negative.")
        if options["until"]:
            try:
                until = dt.datetime.fromisoformat(options["until"])
            except ValueError:
                raise CommandError("--until is not an ISO-8601 time.") from None
            if until.tzinfo is None:
                until = until.replace(tzinfo=dt.UTC)
        else:
            until = dt.datetime.now(dt.UTC)
        until = until.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start = dt.datetime.combine(
            until.date() - dt.timedelta(days=options["days"]), dt.time(), tzinfo=dt.UTC
        )
        backends = Backend.objects.filter(slug__in=PROFILES).order_by("slug")
        if not backends:
            raise CommandError("No demo backends: run seed_demo first.")
        last_step = until - STEP
        with tempfile.TemporaryDirectory() as tmp:
            for backend in backends:
                name = f"demo-metrics-{backend.slug}.csv"
                # Job-level idempotence: `make run` runs this every time; a
                # demo import that already reaches the last step is not
                # repeated (no new job, not even one storing 0).
                done = ImportJob.objects.filter(
                    backend=backend,
                    source=ImportJob.Source.CLI,
                    original_filename=name,
                    status=ImportJob.Status.SUCCEEDED,
                    window_start__lte=start,
                    window_end__gte=last_step,
                ).first()
                if done is not None:
                    self.stdout.write(f"{backend.slug}: up to date (import #{done.pk})")
                    continue
                path = Path(tmp) / name
                with path.open("w", newline="") as out:
                    writer = csv.writer(out)
                    writer.writerow(["timestamp", "metric", "value", "labels"])
                    writer.writerows(_rows(backend.slug, PROFILES[backend.slug], start, until))
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
                    raise CommandError(f"{backend.slug}: import #{job.pk} failed: {job.error}")
                self.stdout.write(
                    f"{backend.slug}: import #{job.pk} stored {job.samples_stored}, "
                    f"duplicates {job.duplicates}, rejected {job.rejected}"
                )
