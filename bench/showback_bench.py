"""Showback benchmark (issue 9, §9). Needs PostgreSQL.

    python bench/showback_bench.py [--months 12] [--backends 20] [--centers 50]

Builds, in a throwaway database, hourly usage of ``centers`` cost centers
on ``backends`` backends over ``months`` months (three canonical counters
per backend and cost center, each hourly rollup standing for
``--samples-per-hour`` samples), written straight into the series and
rollup tables with COPY; gives every backend a cost model and runs the
allocation service over every month. Then prints, for the showback page,
the showback API and the compare API, the server time (median of 5, in
process through Django's test client: the whole request, no network) and
the query count; and the time to recompute one month of one backend's
allocation after a cost-model change (what the task does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = "pilotgate_showback_bench"


def _database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(server_url)._replace(path="/" + name))


def _median_ms(func: Any) -> tuple[float, float]:
    """Median wall and CPU milliseconds (this process's) of 5 calls."""
    times, cpu = [], []
    for _ in range(5):
        started, started_cpu = time.perf_counter(), time.process_time()
        func()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--backends", type=int, default=20)
    parser.add_argument("--centers", type=int, default=50)
    parser.add_argument("--samples-per-hour", type=int, default=4)
    parser.add_argument(
        "--server-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--database", default=DB_NAME, help="throwaway database (dropped first)")
    args = parser.parse_args(argv)

    os.environ["DATABASE_URL"] = _database(args.server_url, args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {_load()}")

    from django.contrib.auth.models import Group, User

    from costs import selectors, services
    from costs.models import CostCenter, CostModel, UsageMapping
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
    UsageMapping.objects.bulk_create(
        UsageMapping(label="team", value=f"team-{i}", cost_center=c, order=10)
        for i, c in enumerate(centers)
    )
    today = dt.datetime.now(dt.UTC).date()
    last = selectors.Period(today.year, today.month).shift(-1)
    first = last.shift(-(args.months - 1))
    for i, backend in enumerate(backends):
        CostModel.objects.create(
            backend=backend,
            kind="cloud_rate" if i % 2 else "owned",
            effective_from=first.start,
            device_hour_rate=2 if i % 2 else None,
            capex=None if i % 2 else 500_000,
            amortization_months=None if i % 2 else 36,
            amortization_start=None if i % 2 else first.start,
            opex_monthly=0 if i % 2 else 4_000,
            pue=1.3,
            energy_price_kwh=0.12,
            nameplate_kw_per_device=1,
            capacity_tokens_per_second=50_000,
            idle_policy="platform" if i % 3 == 0 else "share",
        )

    metrics = {
        m.name: m.pk
        for m in MetricDefinition.objects.filter(
            name__in=["prompt_tokens_total", "generation_tokens_total", "requests_total"]
        )
    }
    started = time.perf_counter()
    series_rows = io.StringIO()
    series_ids: list[tuple[int, int]] = []  # (id, scale)
    next_id = 1
    for backend in backends:
        for i in range(args.centers):
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
    hours = int((last.end - first.start).days + 1) * 24
    n = args.samples_per_hour
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor().copy(
            "COPY metrics_series (id, backend_id, metric_id, component, labels, key_hash, "
            "created_at) FROM STDIN"
        ) as copy:
            copy.write(series_rows.getvalue())
        cursor.execute("SELECT setval('metrics_series_id_seq', %s)", [next_id])
        # The rollup table's secondary indexes are dropped while it is
        # filled and built again after (one sort each instead of 26 M
        # index insertions): the same table and indexes, sooner.
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'metrics_hourlyrollup'::regclass AND contype = 'u'"
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE metrics_hourlyrollup DROP CONSTRAINT "{name}"')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'metrics_hourlyrollup' "
            "AND indexname NOT LIKE '%%_pkey'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("CREATE TEMPORARY TABLE bench_scale (id integer, scale float8)")
        with raw.cursor().copy("COPY bench_scale (id, scale) FROM STDIN") as copy:
            for sid, scale in series_ids:
                copy.write_row((sid, scale))
        # The rollups are generated by the server, a month per statement:
        # 26 M rows through Python would take most of the run. Each hour's
        # increase is scale × (1 + hour of day / 24), n samples behind it.
        for m in range(args.months):
            period = first.shift(m)
            cursor.execute(
                """
                INSERT INTO metrics_hourlyrollup (series_id, hour, count, sum, min, max, first,
                    last, first_ts, last_ts, increase)
                SELECT s.id, h, %(n)s, inc * %(n)s, 0, inc, 0, inc, h,
                    h + interval '59 minutes', inc
                FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                    - interval '1 hour', interval '1 hour') AS h
                CROSS JOIN bench_scale AS s
                CROSS JOIN LATERAL (
                    SELECT s.scale * (1 + extract(hour FROM h AT TIME ZONE 'UTC')::float8 / 24)
                        AS inc
                ) AS x
                ORDER BY h, s.id
                """,
                {
                    "n": n,
                    "start": dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC),
                    "end": dt.datetime.combine(period.shift(1).start, dt.time(), tzinfo=dt.UTC),
                },
            )
            print(f"  rollups of {period}: {time.perf_counter() - started:.1f} s", flush=True)
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE metrics_hourlyrollup ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("ANALYZE metrics_hourlyrollup")
    rollups = hours * len(series_ids)
    build = time.perf_counter() - started
    print(
        f"built {len(series_ids)} series, {rollups:,} hourly rollups "
        f"({rollups * args.samples_per_hour:,} samples behind them) in {build:.1f} s"
    )

    started = time.perf_counter()
    for m in range(args.months):
        period = first.shift(m)
        services.allocation_refresh(backend_ids=None, start=period.start, end=period.end)
    elapsed = time.perf_counter() - started
    print(f"allocated {args.months} months x {args.backends} backends in {elapsed:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    # One month's recompute after a cost-model change (the task's work).
    model = CostModel.objects.filter(backend=backends[1]).get()
    model.device_hour_rate = 3
    model.save()
    started = time.perf_counter()
    services.allocation_refresh(backend_ids=[backends[1].pk], start=last.start, end=last.end)
    one_backend = time.perf_counter() - started
    started = time.perf_counter()
    services.allocation_refresh(backend_ids=None, start=last.start, end=last.end)
    all_backends = time.perf_counter() - started

    # Keep one connection across requests (as production's CONN_MAX_AGE
    # does), so the query log survives and counts each request's queries.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    client = Client()
    client.force_login(finance)
    month = str(last)
    print()
    print(_load())
    print(f"{'what':<32} {'median ms (5)':>14} {'CPU ms':>8} {'queries':>8}")
    for label, url in (
        ("showback page", f"/costs/showback/?period={month}"),
        ("GET /api/v1/showback/", f"/api/v1/showback/?period={month}"),
        ("GET /api/v1/backends/compare/", f"/api/v1/backends/compare/?period={month}"),
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        # The log is a deque of at most 9,000 queries, full after the
        # allocation runs: emptied, so the capture counts this request's.
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        ms, cpu = _median_ms(lambda url=url: client.get(url))
        print(f"{label:<32} {ms:>14.1f} {cpu:>8.1f} {len(queries):>8}")
    print()
    print(_load())
    print(f"recompute one month, one backend (cost-model change): {one_backend:.2f} s")
    print(
        f"recompute one month, all {args.backends} backends (mapping change): {all_backends:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
