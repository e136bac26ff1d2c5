"""Chargeback close benchmark (issue 10, §1). Needs PostgreSQL.

    python bench/close_bench.py [--backends 20] [--centers 50] [--with-refresh]

Builds, in a throwaway database, last month's stored daily rows for
``backends`` backends and ``centers`` cost centers directly in bulk (one
``BackendDay`` per backend-day and, per backend-day, a usage line per cost
center, an unmapped line and an idle line for the platform, split exactly
by ``costs.allocation.allocate_day``), then closes the month through the
service and prints the time: showback read, statements drafted, one
statement per cost center frozen with its lines and content hash.

``--with-refresh`` instead writes the month's hourly usage rollups (three
counters per backend and cost center, COPY) and closes with the allocation
refresh included, as the close button does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = "pilotgate_close_bench"


def _database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(server_url)._replace(path="/" + name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", type=int, default=20)
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--with-refresh", action="store_true")
    parser.add_argument(
        "--server-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    args = parser.parse_args(argv)

    os.environ["DATABASE_URL"] = _database(args.server_url, DB_NAME)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from django.contrib.auth.models import Group, User

    from costs.allocation import allocate_day
    from costs.models import (
        BackendDay,
        CostCenter,
        CostModel,
        DailyAllocation,
        Statement,
        StatementLine,
        UsageMapping,
    )
    from costs.selectors import Period
    from costs.services import period_close
    from metrics.models import MetricDefinition
    from pilots.models import Backend, Site, Vendor
    from portal.roles import Role, sync_role_groups

    sync_role_groups()
    finance = User.objects.create_user("bench-finance", password="bench-only")  # noqa: S106 - a throwaway database
    finance.groups.set(Group.objects.filter(name=Role.FINANCE))
    vendor = Vendor.objects.create(name="Bench", slug="bench")
    site = Site.objects.create(slug="bench", name="Bench")
    backends = [
        Backend.objects.create(
            name=f"Backend {i:02d}",
            slug=f"backend-{i:02d}",
            kind=Backend.Kind.GPU_CLUSTER,
            vendor=vendor,
            site=site,
            device_count=8,
        )
        for i in range(args.backends)
    ]
    centers = [
        CostCenter.objects.create(code=f"CC-{1000 + i}", name=f"Team {i}")
        for i in range(args.centers)
    ]
    CostCenter.objects.filter(pk=centers[0].pk).update(is_platform=True)
    platform = centers[0].pk
    UsageMapping.objects.bulk_create(
        UsageMapping(label="team", value=f"team-{i}", cost_center=c, order=10)
        for i, c in enumerate(centers)
    )
    today = dt.datetime.now(dt.UTC).date()
    last = Period(today.year, today.month).shift(-1)
    models = {
        backend.pk: CostModel.objects.create(
            backend=backend,
            kind="cloud_rate",
            effective_from=last.start,
            device_hour_rate=Decimal("2.137"),
            capacity_tokens_per_second=50_000,
            idle_policy="platform",
        )
        for backend in backends
    }
    days = [last.start + dt.timedelta(days=d) for d in range(last.end.day)]

    started = time.perf_counter()
    if args.with_refresh:
        metrics = {
            m.name: m.pk
            for m in MetricDefinition.objects.filter(
                name__in=["prompt_tokens_total", "generation_tokens_total", "requests_total"]
            )
        }
        series_rows = io.StringIO()
        series_ids: list[tuple[int, int]] = []
        next_id = 1
        for backend in backends:
            for i in range(args.centers + 1):  # the last team is unmapped
                for name, scale in (
                    ("prompt_tokens_total", 600),
                    ("generation_tokens_total", 300),
                    ("requests_total", 1),
                ):
                    key = hashlib.sha256(f"{backend.pk}:{i}:{name}".encode()).hexdigest()
                    series_rows.write(
                        f"{next_id}\t{backend.pk}\t{metrics[name]}\tvalue\t"
                        f'{{"team": "team-{i}"}}\t{key}\t{dt.datetime.now(dt.UTC).isoformat()}\n'
                    )
                    series_ids.append((next_id, scale * (1 + i % 7)))
                    next_id += 1
        start_hour = dt.datetime.combine(last.start, dt.time(), tzinfo=dt.UTC)
        with connection.cursor() as cursor:
            raw = cursor.connection
            with raw.cursor().copy(
                "COPY metrics_series (id, backend_id, metric_id, component, labels, key_hash, "
                "created_at) FROM STDIN"
            ) as copy:
                copy.write(series_rows.getvalue())
            cursor.execute("SELECT setval('metrics_series_id_seq', %s)", [next_id])
            with raw.cursor().copy(
                "COPY metrics_hourlyrollup (series_id, hour, count, sum, min, max, first, last, "
                "first_ts, last_ts, increase) FROM STDIN"
            ) as copy:
                for h in range(len(days) * 24):
                    hour = start_hour + dt.timedelta(hours=h)
                    stamp, end = hour.isoformat(), (hour + dt.timedelta(minutes=59)).isoformat()
                    load = 1 + (h % 24) / 24
                    for sid, scale in series_ids:
                        inc = scale * load
                        copy.write(
                            f"{sid}\t{stamp}\t4\t{inc * 4}\t0\t{inc}\t0\t{inc}\t"
                            f"{stamp}\t{end}\t{inc}\n"
                        )
        built = f"{len(series_ids)} series, {len(series_ids) * len(days) * 24:,} hourly rollups"
    else:
        day_rows: list[BackendDay] = []
        lines: list[DailyAllocation] = []
        for b, backend in enumerate(backends):
            cost = (Decimal("2.137") * 8 * 24).quantize(Decimal(1).scaleb(-12))
            for d, day in enumerate(days):
                usage: dict[tuple[int | None, str], Decimal] = {
                    (c.pk, "usage"): Decimal(900 * (1 + (i + b + d) % 7) * 24)
                    for i, c in enumerate(centers)
                }
                usage[(None, "unmapped")] = Decimal(900 * 24)
                tokens = sum(usage.values(), Decimal(0))
                split = allocate_day(
                    cost=cost,
                    usage=usage,
                    total_tokens=tokens,
                    capacity_tokens_per_second=Decimal(50_000),
                    idle_policy="platform",
                    places=12,
                )
                day_rows.append(
                    BackendDay(
                        day=day,
                        backend=backend,
                        cost_model=models[backend.pk],
                        cost=cost,
                        rental=cost,
                        utilization=split.utilization.quantize(Decimal(1).scaleb(-12)),
                        idle_policy="platform",
                        basis="tokens",
                        basis_total=tokens,
                        capacity_tokens=Decimal(50_000 * 86_400),
                        capacity_tokens_per_second=Decimal(50_000),
                        output_token_weight=Decimal("2.5"),
                        prompt_tokens=tokens,
                    )
                )
                lines.extend(
                    DailyAllocation(
                        day=day,
                        backend=backend,
                        cost_center_id=center,
                        kind=kind,
                        quantity=usage[(center, kind)],
                        amount=amount,
                    )
                    for (center, kind), amount in split.lines.items()
                )
                lines.append(
                    DailyAllocation(
                        day=day,
                        backend=backend,
                        cost_center_id=platform,
                        kind="idle",
                        quantity=None,
                        amount=split.idle,
                    )
                )
        BackendDay.objects.bulk_create(day_rows, batch_size=2000)
        DailyAllocation.objects.bulk_create(lines, batch_size=5000)
        built = f"{len(day_rows):,} backend-days, {len(lines):,} daily allocation lines"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built {built} for {last} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    row = period_close(period=last, actor=finance, refresh=args.with_refresh)
    elapsed = time.perf_counter() - started
    statements = Statement.objects.filter(period=row).count()
    lines_frozen = StatementLine.objects.filter(statement__period=row).count()
    what = "with the allocation refresh" if args.with_refresh else "from the stored daily rows"
    print(
        f"closed {last} ({args.backends} backends x {args.centers} cost centers, {what}): "
        f"{elapsed:.2f} s — {statements} statements, {lines_frozen:,} lines, "
        f"total {row.showback_total}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
