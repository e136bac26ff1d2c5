"""API list endpoints against hand-written Django (issue 8, section 4).

In one run, on gunicorn (2 sync workers, persistent database connections)
over a throwaway PostgreSQL database seeded with 50 pilots, 50 backends,
50 vendors and 50 import jobs, it loads for a fixed time with 16
connections:

* a bare JSON view (the server's ceiling);
* for each list (pilots, backends, vendors, imports) a hand-written twin
  (``bench/api_bench_urls.py``: the same queries, ``values()`` and
  ``JsonResponse``) and the real endpoint,

and prints requests per second and the 99th-percentile latency of each,
the endpoint against its twin. Target: each endpoint at least 80 % of its
twin's requests per second, p99 at most 1.5 times its twin's. It prints
figures; it asserts nothing but that each endpoint answers its twin's JSON.

Load: ``wrk`` when installed (Debian: ``apt-get install wrk``), else a
threaded Python client (slower: it takes CPU from the server).

Run: ``.venv/bin/python bench/api_bench.py`` (``--duration 10``,
``--connections 16``, ``--server-url postgres://postgres@127.0.0.1:5432/postgres``,
``--keep`` keeps the database).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
ROWS = 50
# The lists issue 8 names; vendors now come from the vendors API (issue 12).
LISTS = ("pilots", "backends", "imports")
TARGET_RPS = 0.80
TARGET_P99 = 1.5


# --- database ----------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def child_seed() -> dict[str, Any]:
    """In a child process with the bench's environment: 50 of each, and a
    session for a pilot-team user."""
    import datetime as dt
    from decimal import Decimal
    from importlib import import_module

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User

    from costs.models import CostCenter
    from metrics.models import ImportJob
    from pilots.models import Backend, ExitCriterion, Phase, Pilot, Site, Vendor
    from portal.roles import Role, sync_role_groups

    sync_role_groups()
    user = User.objects.create_user("bench-team", password="bench-team-pw")  # noqa: S106
    user.groups.set(Group.objects.filter(name=Role.PILOT_TEAM))
    kinds = [k for k, _ in Backend.Kind.choices]
    vendors = Vendor.objects.bulk_create(
        Vendor(
            name=f"Vendor {n:02d}",
            slug=f"vendor-{n:02d}",
            website=f"https://vendor{n}.example.com",
            risk_notes="Roadmap reviewed; source in escrow." if n % 3 == 0 else "",
        )
        for n in range(ROWS)
    )
    sites = Site.objects.bulk_create(Site(slug=f"dc-{n}", name=f"dc-{n}") for n in range(4))
    centers = CostCenter.objects.bulk_create(
        CostCenter(code=f"CC-{4100 + n}", name=f"Cost center {n}") for n in range(5)
    )
    backends = Backend.objects.bulk_create(
        Backend(
            name=f"Backend {n:02d}",
            slug=f"backend-{n:02d}",
            kind=kinds[n % len(kinds)],
            vendor=vendors[n],
            device_model="CS-3" if n % 2 else "H100 SXM",
            device_count=1 + n,
            site=sites[n % 4],
            region=("eu-west", "us-east")[n % 2],
            notes="",
        )
        for n in range(ROWS)
    )
    start = dt.date(2026, 1, 5)
    pilots = Pilot.objects.bulk_create(
        Pilot(
            name=f"Pilot {n:02d}",
            model_name="llama-3.1-70b",
            candidate_backend=backends[n],
            baseline_backend=backends[(n + 1) % ROWS],
            team=("chat", "search", "ads")[n % 3],
            cost_center=centers[n % 5],
            traffic_slice="chat, EU",
            target_start=start,
            target_end=start + dt.timedelta(weeks=23),
            status=Pilot.Status.ACTIVE,
        )
        for n in range(ROWS)
    )
    kinds_p = [Phase.Kind.LAB_VALIDATION, Phase.Kind.SHADOW, Phase.Kind.CANARY]
    phases = Phase.objects.bulk_create(
        Phase(
            pilot=pilot,
            kind=kind,
            order=order,
            planned_start=start + dt.timedelta(weeks=4 * (order - 1)),
            planned_end=start + dt.timedelta(weeks=4 * order, days=-1),
            status=("passed", "active", "planned")[order - 1],
            traffic_percent=Decimal(order),
        )
        for pilot in pilots
        for order, kind in enumerate(kinds_p, start=1)
    )
    ExitCriterion.objects.bulk_create(
        ExitCriterion(
            phase=phase,
            metric="e2e_latency_p99",
            comparison="relative",
            direction="at_most",
            threshold=Decimal("1.0"),
        )
        for phase in phases
    )
    now = dt.datetime.now(dt.UTC)
    ImportJob.objects.bulk_create(
        ImportJob(
            backend=backends[n],
            pilot=pilots[n],
            file_path=f"imports/bench-{n}.csv",
            original_filename=f"bench-{n}.csv",
            size_bytes=1_000_000 + n,
            scrape_time=now - dt.timedelta(hours=n),
            status=ImportJob.Status.SUCCEEDED,
            attempts=1,
            samples_read=10_000,
            samples_stored=9_990,
            rejected=10,
            rejects=[{"line": 7, "reason": "value is not a number"}],
            unmapped={"my_metric": 3},
            unmapped_count=3,
            bytes_done=1_000_000,
            bytes_total=1_000_000,
            window_start=now - dt.timedelta(hours=n + 1),
            window_end=now - dt.timedelta(hours=n),
            created_by=user,
            started_at=now - dt.timedelta(minutes=n + 1),
            finished_at=now - dt.timedelta(minutes=n),
        )
        for n in range(ROWS)
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}"}


def child_cpu(cookie: str, requests: int) -> dict[str, float]:
    """In a child process: the CPU time of one request, in process (Django's
    test client, the same settings and database), twin and endpoint
    alternating. CPU time of the Python process, unlike req/s, hardly moves
    with the load of a shared machine: it is what a list costs the server
    beyond its queries' waits."""
    import django

    django.setup()
    from django.test import Client

    name, _, value = cookie.partition("=")
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[name] = value
    paths = [p for n in LISTS for p in (f"/bench/twin/{n}/", f"/api/v1/{n}/")]
    for path in paths:
        for _ in range(20):
            assert client.get(path).status_code == 200, path
    spent = dict.fromkeys(paths, 0.0)
    for _ in range(10):
        for path in paths:
            began = time.process_time()
            for _ in range(requests // 10):
                client.get(path)
            spent[path] += time.process_time() - began
    return {path: 1000 * total / (requests // 10 * 10) for path, total in spent.items()}


# --- server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "512",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not come up within 30 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def fetch_json(url: str, cookie: str) -> Any:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
    try:
        conn.request("GET", parsed.path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


# --- load -------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def load_wrk(url: str, cookie: str, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",  # whole seconds only
            "--latency",
            "--timeout",
            "10s",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} responses were not 2xx\n{out}")
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)] if p99 else float("nan"),
        "socket_errors": 1.0 if errors else 0.0,
    }


def load_python(url: str, cookie: str, seconds: float, connections: int) -> dict[str, float]:
    parsed = urlparse(url)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures: list[int] = [0] * connections
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                break
            try:
                conn.request("GET", parsed.path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures[index] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except OSError:
                failures[index] += 1
                conn.close()
            latencies[index].append((time.perf_counter() - began) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = sorted(x for per in latencies for x in per)
    if sum(failures):
        raise SystemExit(f"{url}: {sum(failures)} requests failed")
    return {
        "rps": len(every) / elapsed,
        "p99_ms": every[min(len(every) - 1, int(len(every) * 0.99))],
        "socket_errors": 0.0,
    }


# --- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--database", default=f"pilotgate_api_bench_{os.getpid()}")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per endpoint (all rounds)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds a measurement is split into"
    )
    parser.add_argument("--python-client", action="store_true", help="even if wrk is installed")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--cpu-requests", type=int, default=300, help="per endpoint, in process")
    parser.add_argument("--child-seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-cpu", metavar="COOKIE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_seed:
        print(json.dumps(child_seed()))
        return 0
    if args.child_cpu:
        print(json.dumps(child_cpu(args.child_cpu, args.cpu_requests)))
        return 0

    load = load_python if args.python_client or not shutil.which("wrk") else load_wrk
    db_url = with_database(args.server_url, args.database)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "bench.api_bench_settings",
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "api-bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DB_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        # No collectstatic for a benchmark of JSON endpoints.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }
    _admin(args.server_url, f'DROP DATABASE IF EXISTS "{args.database}"')
    _admin(args.server_url, f'CREATE DATABASE "{args.database}"')
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        seeded = subprocess.run(
            [sys.executable, __file__, "--child-seed"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        cookie = json.loads(seeded.stdout.strip().splitlines()[-1])["cookie"]
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"

        for name in LISTS:
            twin = fetch_json(f"{base}/bench/twin/{name}/", cookie)
            real = fetch_json(f"{base}/api/v1/{name}/", cookie)
            if twin["results"] != real["results"] or set(twin) != set(real):
                raise SystemExit(f"/api/v1/{name}/ and its twin answer different JSON")
            if len(real["results"]) != ROWS:
                raise SystemExit(f"/api/v1/{name}/ has {len(real['results'])} rows, not {ROWS}")

        def run(path: str, seconds: float) -> dict[str, float]:
            return load(base + path, cookie, seconds, args.connections)

        client = load.__name__.removeprefix("load_")
        print(
            f"gunicorn 2 sync workers, PostgreSQL, {ROWS} rows per list, "
            f"{args.connections} connections, {args.duration:g} s each in {args.rounds} "
            f"alternating rounds, client {client}",
            flush=True,
        )
        run("/bench/bare/", args.warmup)
        bare = run("/bench/bare/", args.duration)
        print(f"bare JSON view: {bare['rps']:,.0f} req/s, p99 {bare['p99_ms']:.1f} ms", flush=True)
        print(
            f"{'list':<10} {'twin req/s':>10} {'twin p99':>9} {'API req/s':>10} "
            f"{'API p99':>8} {'req/s ×':>8} {'p99 ×':>6}  target"
        )
        all_met = True
        for name in LISTS:
            paths = (f"/bench/twin/{name}/", f"/api/v1/{name}/")
            for path in paths:
                run(path, args.warmup)
            # Twin and endpoint alternate, so a change in the machine's load
            # (it is shared) falls on both alike.
            rounds: dict[str, list[dict[str, float]]] = {path: [] for path in paths}
            for _ in range(args.rounds):
                for path in paths:
                    rounds[path].append(run(path, args.duration / args.rounds))
            twin, real = (
                {
                    "rps": statistics.fmean(r["rps"] for r in rounds[path]),
                    "p99_ms": statistics.median(r["p99_ms"] for r in rounds[path]),
                }
                for path in paths
            )
            rps_ratio = real["rps"] / twin["rps"]
            p99_ratio = real["p99_ms"] / twin["p99_ms"]
            met = rps_ratio >= TARGET_RPS and p99_ratio <= TARGET_P99
            all_met &= met
            print(
                f"{name:<10} {twin['rps']:>10,.0f} {twin['p99_ms']:>7.1f}ms {real['rps']:>10,.0f} "
                f"{real['p99_ms']:>6.1f}ms {rps_ratio:>8.2f} {p99_ratio:>6.2f}  "
                f"{'met' if met else 'NOT met'}",
                flush=True,
            )
        stop_server(server)
        server = None
        measured = subprocess.run(
            [
                *(sys.executable, __file__, "--child-cpu", cookie),
                *("--cpu-requests", str(args.cpu_requests)),
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        cpu = json.loads(measured.stdout.strip().splitlines()[-1])
        print(f"CPU time per request in process (Django test client, {args.cpu_requests} each):")
        for name in LISTS:
            twin_ms, real_ms = cpu[f"/bench/twin/{name}/"], cpu[f"/api/v1/{name}/"]
            print(
                f"{name:<10} twin {twin_ms:6.2f} ms   API {real_ms:6.2f} ms   "
                f"× {real_ms / twin_ms:.2f}",
                flush=True,
            )
        print(
            f"target: req/s ≥ {TARGET_RPS:.0%} of the twin, p99 ≤ {TARGET_P99}× the twin: "
            f"{'met by every list' if all_met else 'not met by every list'}"
        )
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep:
            _admin(args.server_url, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
