#!/usr/bin/env python
"""Review evidence benchmark, end to end: figures, not a pass/fail test
(issue 11, section 9; target: under 1 s).

A 6-week phase of minute-resolution metrics (as the portal stores it: the
hourly rollups an import of minute samples produces, 60 samples an hour)
for the candidate and the baseline, 10 exit criteria (e2e p50/p95/p99/p99.9
and TTFT p99 with 1000 bootstrap resamples, error rate, tokens/s with the
slice bootstrap, max temperature, throttle events, $/1M tokens). Times the
evidence of a review (the reads from the rollups, the snapshot and
``evaluate``) and a whole ``review_submit`` (plus the insert) over
``--repeat`` runs, printing the median and the best, wall and CPU time.
Uses a throwaway SQLite database unless DATABASE_URL is set (then
pytest-style: a database named ``<name>_bench`` is NOT created; give one
you may fill, e.g. an empty one from ``createdb``).

Run: ``.venv/bin/python bench/evidence_bench.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.TemporaryDirectory()
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp.name}/bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from costs.models import CostCenter  # noqa: E402
from metrics import catalog  # noqa: E402
from metrics.models import HourlyRollup, MetricDefinition, Series  # noqa: E402
from metrics.storage import series_key_hash  # noqa: E402
from pilots.models import (  # noqa: E402
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    Site,
    Vendor,
)
from reviews import evidence  # noqa: E402
from reviews.models import Review  # noqa: E402
from reviews.services import evidence_seed, evidence_snapshot, review_submit  # noqa: E402

HOURS = 6 * 7 * 24
BOUNDS = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3),
    *(0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0, math.inf),
)
CRITERIA = [
    ("e2e_latency_p50", "relative", "at_most", "1.0"),
    ("e2e_latency_p95", "relative", "at_most", "1.0"),
    ("e2e_latency_p99", "relative", "at_most", "1.0"),
    ("e2e_latency_p999", "relative", "at_most", "1.1"),
    ("ttft_p99", "relative", "at_most", "1.0"),
    ("error_rate", "absolute", "at_most", "0.001"),
    ("tokens_per_second", "relative", "at_least", "1.0"),
    ("max_temperature", "absolute", "at_most", "85"),
    ("throttle_events", "absolute", "at_most", "0"),
    ("cost_per_1m_tokens", "relative", "at_most", "0.9"),
]


def _cdf(x: float, median: float, sigma: float) -> float:
    if math.isinf(x):
        return 1.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


def _fill(backend: Backend, start: dt.datetime, median: float) -> int:
    defs = {d.name: d for d in MetricDefinition.objects.all()}
    series: list[tuple[Series, float | None, str]] = []
    for family in (catalog.E2E_LATENCY, catalog.TTFT):
        for le in BOUNDS:
            s = Series(
                backend=backend, metric=defs[family], component=Series.Component.BUCKET, le=le
            )
            series.append((s, le, family))
    for name in (
        catalog.REQUESTS,
        catalog.ERRORS,
        catalog.GENERATION_TOKENS,
        catalog.TEMPERATURE,
        catalog.THROTTLE_EVENTS,
    ):
        series.append((Series(backend=backend, metric=defs[name]), None, name))
    for s, bound, _ in series:
        key = (s.metric.pk, s.component, bound, ())
        s.key_hash = series_key_hash(backend.pk, None, key)
    Series.objects.bulk_create([one for one, _, _ in series])
    rows: list[HourlyRollup] = []
    for h in range(HOURS):
        hour = start + dt.timedelta(hours=h)
        load = 0.625 + 0.375 * math.sin((hour.hour - 9) / 24 * 2 * math.pi)
        requests = 60 * 60 * 2.0 * load  # 2 req/s at peak, per minute sample
        for s, upper, name in series:
            if upper is not None:
                scale = 1.0 if name == catalog.E2E_LATENCY else 0.1
                value: float | None = requests * _cdf(
                    upper, median * scale * (0.9 + 0.2 * load), 0.5
                )
            elif name == catalog.REQUESTS:
                value = requests
            elif name == catalog.ERRORS:
                value = requests * 0.0004
            elif name == catalog.GENERATION_TOKENS:
                value = requests * 300
            elif name == catalog.TEMPERATURE:
                value = 0.0
            else:
                value = 0.0
            gauge = 40 + 30 * load if name == catalog.TEMPERATURE else 0.0
            rows.append(
                HourlyRollup(
                    series=s,
                    hour=hour,
                    count=60,
                    sum=gauge * 60,
                    min=gauge,
                    max=gauge,
                    first=gauge,
                    last=gauge,
                    first_ts=hour,
                    last_ts=hour + dt.timedelta(minutes=59),
                    increase=None if name == catalog.TEMPERATURE else value,
                )
            )
    HourlyRollup.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _world() -> tuple[Pilot, Phase, User, dt.datetime, int, float]:
    """The pilot, phase, team user, window start, rollup rows and fill time."""
    call_command("migrate", verbosity=0)
    catalog.seed_catalog()
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(hours=HOURS)
    with transaction.atomic():
        vendor = Vendor.objects.create(name="Bench vendor", slug="bench-vendor")
        site = Site.objects.create(slug="bench-site", name="Bench site")
        center = CostCenter.objects.create(code="CC-BENCH", name="Bench")
        candidate = Backend.objects.create(
            name="Bench candidate",
            slug="bench-candidate",
            kind="wafer_scale",
            vendor=vendor,
            device_model="x",
            device_count=1,
            site=site,
            region="r",
        )
        baseline = Backend.objects.create(
            name="Bench baseline",
            slug="bench-baseline",
            kind="gpu_cluster",
            vendor=vendor,
            device_model="y",
            device_count=8,
            site=site,
            region="r",
        )
        team = User.objects.create(username="bench-team")
        approver = User.objects.create(username="bench-approver")
        pilot = Pilot.objects.create(
            name="Bench pilot",
            model_name="m",
            candidate_backend=candidate,
            baseline_backend=baseline,
            team="t",
            cost_center=center,
            target_start=start.date(),
            target_end=end.date(),
            status=Pilot.Status.ACTIVE,
        )
        phase = Phase.objects.create(
            pilot=pilot,
            kind=Phase.Kind.CANARY,
            order=1,
            planned_start=start.date(),
            planned_end=end.date(),
            status=Phase.Status.ACTIVE,
            actual_start=start,
        )
        for metric, comparison, direction, threshold in CRITERIA:
            ExitCriterion.objects.create(
                phase=phase,
                metric=metric,
                comparison=comparison,
                direction=direction,
                threshold=Decimal(threshold),
            )
        activity = RaciActivity.objects.create(
            pilot=pilot, key=RaciActivity.Key.GO_NO_GO, name="Go/no-go decision"
        )
        RaciAssignment.objects.create(activity=activity, user=team, letter="R")
        RaciAssignment.objects.create(activity=activity, user=approver, letter="A")
        t0 = time.perf_counter()
        n = _fill(candidate, start, 1.0) + _fill(baseline, start, 1.2)
        fill = time.perf_counter() - t0
    return pilot, phase, team, start, n, fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pilot, phase, team, start, n, fill = _world()
    print(
        f"database: {connection.vendor}; {HOURS} hourly slices per side (6 weeks of "
        f"minute samples), {n:,} rollup rows written in {fill:.1f} s; 10 criteria"
    )

    # Per run: wall and CPU seconds of the reads + snapshot and of evaluate.
    snap_wall, snap_cpu, eval_wall, eval_cpu, submit_times = [], [], [], [], []
    result: dict[str, object] = {}
    for _ in range(args.repeat):
        at = dt.datetime.now(dt.UTC)
        seed = evidence_seed(pilot_id=pilot.pk, phase_id=phase.pk, submitted_at=at)
        c0, t0 = time.process_time(), time.perf_counter()
        snap = evidence_snapshot(pilot=pilot, phase=phase, start=start, end=at, seed=seed)
        c1, t1 = time.process_time(), time.perf_counter()
        result = evidence.evaluate(snap)
        c2, t2 = time.process_time(), time.perf_counter()
        snap_wall.append(t1 - t0)
        snap_cpu.append(c1 - c0)
        eval_wall.append(t2 - t1)
        eval_cpu.append(c2 - c1)
        with transaction.atomic():
            t3 = time.perf_counter()
            review = review_submit(pilot=pilot, actor=team, phase=phase, recommendation="go")
            submit_times.append(time.perf_counter() - t3)
            Review.objects.filter(pk=review.pk).delete()
    total_wall = [s + e for s, e in zip(snap_wall, eval_wall, strict=True)]
    total_cpu = [s + e for s, e in zip(snap_cpu, eval_cpu, strict=True)]

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.0f} ms, best {min(values) * 1000:.0f} ms"

    print(f"figures over {args.repeat} runs (wall = elapsed, CPU = this process's)")
    print(f"reads + snapshot: wall {ms(snap_wall)}; CPU {ms(snap_cpu)}")
    print(
        f"evaluate (10 criteria, 1000 resamples each bootstrap): wall {ms(eval_wall)}; "
        f"CPU {ms(eval_cpu)}"
    )
    median_wall = statistics.median(total_wall)
    print(
        f"evidence total: wall {ms(total_wall)}; CPU {ms(total_cpu)} "
        f"(median wall {'under' if median_wall < 1 else 'OVER'} the 1 s target; "
        "the machine is shared: wall time includes waiting for a core)"
    )
    print(f"review_submit (evidence + insert + audit + notification): wall {ms(submit_times)}")
    criteria: list[dict[str, object]] = result["criteria"]  # type: ignore[assignment]
    verdicts = [(c["metric"], c["verdict"]) for c in criteria]
    print(f"overall {result['verdict']} (score {result['score']}); {verdicts}")


if __name__ == "__main__":
    main()
