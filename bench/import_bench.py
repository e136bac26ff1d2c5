#!/usr/bin/env python
"""Import benchmark: figures, not a pass/fail test (issue 3, section 6).

For each format (CSV, Prometheus ``query_range`` JSON, Prometheus text) it
generates N samples into a temporary file, streaming, then in the same run:

* imports the file into a throwaway PostgreSQL database through the real path
  (``services.import_job_create`` + ``services.import_job_run``: parser, COPY,
  upsert, rollup refresh), in a child process so its peak RSS is its own;
* a raw ``COPY`` of the same rows (ts, series, value) into a bare table with a
  (series, ts) index: the floor any import is compared with;
* for Prometheus text, parsing alone with ``prometheus_client`` over the same
  file: its parser is the slow part, storage should add little on top.

Run: ``make bench`` or ``.venv/bin/python bench/import_bench.py --samples 200000``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
STEP_SECONDS = 15
LATENCY_BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")
GPUS = 8

# --------------------------------------------------------------------------
# Data: a GPU backend scraped every 15 s, one vLLM server per GPU.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesSpec:
    """One time series of the generated backend."""

    family: str  # the metric family (# TYPE line)
    kind: str  # gauge | counter | histogram
    name: str  # the sample name (family, or family_bucket/_sum/_count)
    labels: tuple[tuple[str, str], ...]
    value: Callable[[int], float]  # step index -> value


def _gauge(base: float, amplitude: float, period: int, phase: int) -> Callable[[int], float]:
    return lambda i: round(base + amplitude * math.sin((i + phase) / period), 3)


def _counter(rate: float, phase: int) -> Callable[[int], float]:
    # Monotonic with a little wobble, so deltas are not all equal.
    return lambda i: float(int(i * rate + (i * 7 + phase) % 13))


def series_specs() -> list[SeriesSpec]:
    """The series every format carries, in the same order."""
    specs: list[SeriesSpec] = []
    for gpu in range(GPUS):
        host = (("Hostname", "bench-node-0"), ("gpu", str(gpu)))
        specs += [
            SeriesSpec(
                "DCGM_FI_DEV_GPU_UTIL",
                "gauge",
                "DCGM_FI_DEV_GPU_UTIL",
                host,
                _gauge(70, 25, 40, gpu),
            ),
            SeriesSpec(
                "DCGM_FI_DEV_POWER_USAGE",
                "gauge",
                "DCGM_FI_DEV_POWER_USAGE",
                host,
                _gauge(300, 80, 55, gpu),
            ),
            SeriesSpec(
                "DCGM_FI_DEV_GPU_TEMP",
                "gauge",
                "DCGM_FI_DEV_GPU_TEMP",
                host,
                _gauge(62, 8, 90, gpu),
            ),
        ]
        model = (("engine", str(gpu)), ("model_name", "bench-model"))
        specs += [
            SeriesSpec(
                "vllm:generation_tokens_total",
                "counter",
                "vllm:generation_tokens_total",
                model,
                _counter(1500.0, gpu),
            ),
            SeriesSpec(
                "vllm:prompt_tokens_total",
                "counter",
                "vllm:prompt_tokens_total",
                model,
                _counter(900.0, gpu),
            ),
        ]
        family = "vllm:e2e_request_latency_seconds"
        for position, le in enumerate(LATENCY_BUCKETS):
            share = (position + 1) / len(LATENCY_BUCKETS)
            specs.append(
                SeriesSpec(
                    family,
                    "histogram",
                    family + "_bucket",
                    (*model, ("le", le)),
                    _counter(10.0 * share, 0),
                )
            )
        specs += [
            SeriesSpec(family, "histogram", family + "_sum", model, _counter(9.0, 0)),
            SeriesSpec(family, "histogram", family + "_count", model, _counter(10.0, 0)),
        ]
    # Grouped by family (stable, so GPUs stay in order), as an exporter would.
    return sorted(specs, key=lambda spec: spec.family)


def steps_for(samples: int, n_series: int) -> int:
    return math.ceil(samples / n_series)


def iter_rows(samples: int, specs: list[SeriesSpec]) -> Iterator[tuple[int, int, SeriesSpec]]:
    """(step, series index, spec) in time order, exactly ``samples`` of them."""
    emitted = 0
    for step in range(steps_for(samples, len(specs))):
        for index, spec in enumerate(specs):
            if emitted == samples:
                return
            yield step, index, spec
            emitted += 1


def epoch(step: int) -> float:
    return START.timestamp() + step * STEP_SECONDS


def _fmt(value: float) -> str:
    return repr(value)


def write_csv(path: Path, samples: int, specs: list[SeriesSpec]) -> None:
    """The documented long CSV: timestamp,metric,value,labels (k=v;k=v)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("timestamp,metric,value,labels\n")
        labels = [";".join(f"{k}={v}" for k, v in spec.labels) for spec in specs]
        for step, index, spec in iter_rows(samples, specs):
            ts = dt.datetime.fromtimestamp(epoch(step), tz=dt.UTC).isoformat()
            out.write(f"{ts},{spec.name},{_fmt(spec.value(step))},{labels[index]}\n")


def write_query_range(path: Path, samples: int, specs: list[SeriesSpec]) -> None:
    """A ``/api/v1/query_range`` matrix response, one result per series."""
    n_steps = steps_for(samples, len(specs))
    with path.open("w", encoding="utf-8") as out:
        out.write('{"status":"success","data":{"resultType":"matrix","result":[')
        remaining = samples
        for index, spec in enumerate(specs):
            # Series are full except the tail ones, which lose their last step.
            count = n_steps if index < samples - (n_steps - 1) * len(specs) else n_steps - 1
            count = min(count, remaining)
            remaining -= count
            metric = {"__name__": spec.name, **dict(spec.labels)}
            out.write(("," if index else "") + '{"metric":' + json.dumps(metric) + ',"values":[')
            out.write(
                ",".join(f'[{epoch(step):.3f},"{_fmt(spec.value(step))}"]' for step in range(count))
            )
            out.write("]}")
        out.write("]}}\n")
    assert remaining == 0, remaining


def write_prometheus_text(path: Path, samples: int, specs: list[SeriesSpec]) -> None:
    """Concatenated scrapes with explicit millisecond timestamps.

    One scrape per step repeats the ``# TYPE`` lines: that is what a file of
    saved scrapes looks like, and it lets a streaming parser finish each family
    quickly instead of holding one family with a million samples.
    """
    with path.open("w", encoding="utf-8") as out:
        last_step = -1
        last_family = ""
        for step, _index, spec in iter_rows(samples, specs):
            if step != last_step or spec.family != last_family:
                out.write(f"# TYPE {spec.family} {spec.kind}\n")
                last_step, last_family = step, spec.family
            labels = ",".join(f'{k}="{v}"' for k, v in spec.labels)
            millis = int(epoch(step) * 1000)
            out.write(f"{spec.name}{{{labels}}} {_fmt(spec.value(step))} {millis}\n")


def write_raw_rows(path: Path, samples: int, specs: list[SeriesSpec]) -> None:
    """The same rows as (ts, series, value) text for the raw COPY baseline."""
    with path.open("w", encoding="utf-8") as out:
        for step, index, spec in iter_rows(samples, specs):
            ts = dt.datetime.fromtimestamp(epoch(step), tz=dt.UTC).isoformat()
            out.write(f"{ts}\t{index}\t{_fmt(spec.value(step))}\n")


WRITERS: dict[str, Callable[[Path, int, list[SeriesSpec]], None]] = {
    "csv": write_csv,
    "json": write_query_range,
    "prometheus": write_prometheus_text,
}
FORMAT_NAMES = {"csv": "csv", "json": "query_range_json", "prometheus": "prometheus_text"}

# --------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/" + name))


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def create_database(server_url: str, name: str) -> None:
    with _connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server_url: str, name: str) -> None:
    with _connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def raw_copy_seconds(db_url: str, rows_path: Path, table: str, *, rows: bool) -> float:
    """COPY the rows into a bare logged table with a (series, ts) index.

    ``rows=False`` sends the file's bytes as they are (the server parses them):
    the floor. ``rows=True`` parses each line in Python and sends typed tuples
    through psycopg's ``write_row``, the way an importer has to.
    """
    with _connect(db_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (ts timestamptz NOT NULL, series integer NOT NULL,"
            " value double precision NOT NULL)"
        )
        conn.execute(f"CREATE INDEX {table}_series_ts ON {table} (series, ts)")
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY {table} (ts, series, value) FROM STDIN") as copy,
        ):
            if rows:
                copy.set_types(["timestamptz", "int4", "float8"])
                parse_ts = dt.datetime.fromisoformat
                with rows_path.open(encoding="utf-8") as lines:
                    for line in lines:
                        ts, series, value = line.split("\t")
                        copy.write_row((parse_ts(ts), int(series), float(value)))
            else:
                with rows_path.open("rb") as source:
                    while block := source.read(1 << 20):
                        copy.write(block)
        seconds = time.perf_counter() - started
        conn.execute(f"DROP TABLE {table}")
    return seconds


# --------------------------------------------------------------------------
# Child processes: each measured run is alone in its process, so ru_maxrss is
# the peak of that run (plus the interpreter and Django it needs).
# --------------------------------------------------------------------------


def child_parse_only(path: str) -> dict[str, Any]:
    from prometheus_client.parser import text_fd_to_metric_families

    # text_string_to_metric_families is this same parser over a StringIO;
    # reading the file through it keeps the baseline's memory honest.
    started = time.perf_counter()
    count = 0
    with open(path, encoding="utf-8") as source:
        for family in text_fd_to_metric_families(source):
            count += len(family.samples)
    return {"seconds": time.perf_counter() - started, "samples": count}


class ChildrenPeak(threading.Thread):
    """Polls the peak RSS (VmHWM) of this process's children: the parser
    processes of a Prometheus text import. (RUSAGE_CHILDREN cannot say: a
    spawned child's ru_maxrss starts at the parent's RSS before its exec.)"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks_kb: dict[str, int] = {}
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for children in Path("/proc/self/task").glob("*/children"):
                for pid in children.read_text().split():
                    try:
                        status = Path(f"/proc/{pid}/status").read_text()
                    except OSError:
                        continue
                    for line in status.splitlines():
                        if line.startswith("VmHWM:"):
                            self.peaks_kb[pid] = int(line.split()[1])

    def stop(self) -> None:
        self.done.set()
        self.join()

    def total_kb(self) -> int:
        return sum(self.peaks_kb.values())


def child_import(path: str, fmt: str, backend_slug: str) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()

    from django.contrib.auth import get_user_model

    from metrics.models import ImportJob
    from metrics.services import import_job_create
    from metrics.tasks import run_import_job
    from pilots.models import Backend, Site, Vendor

    user, _ = get_user_model().objects.get_or_create(username="bench")
    vendor, _ = Vendor.objects.get_or_create(name="Bench vendor", slug="bench-vendor")
    backend, _ = Backend.objects.get_or_create(
        slug=backend_slug,
        defaults={
            "name": backend_slug,
            "kind": Backend.Kind.GPU_CLUSTER,
            "vendor": vendor,
            "device_model": "bench",
            "device_count": GPUS,
            "site": Site.objects.get_or_create(slug="bench", defaults={"name": "bench"})[0],
            "region": "bench",
        },
    )
    watcher = ChildrenPeak()
    started = time.perf_counter()
    # What the upload page and the import_metrics command do: store the file,
    # create the job; then the Celery task's body, run here synchronously.
    job = import_job_create(
        actor=user,
        backend=backend,
        fmt=FORMAT_NAMES[fmt],
        source=ImportJob.Source.CLI,
        file=path,
        enqueue=False,
    )
    run_import_job.apply(args=(job.pk,))
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    watcher.stop()
    # Peak memory of the import as a whole: this process plus the parser
    # processes a Prometheus text import starts.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_rss_mb": (own + watcher.total_kb()) / 1024,
        "parser_processes": len(watcher.peaks_kb),
        "status": str(job.status),
        "samples": job.samples_read,
        "stored": job.samples_stored,
        "error": getattr(job, "error", ""),
    }


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run this script as a child; return its JSON answer and its peak RSS."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed with exit code {proc.returncode}")
    answer: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss is in kilobytes on Linux; an import reports its own total.
    answer.setdefault("peak_rss_mb", usage.ru_maxrss / 1024)
    return answer


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def timed(label: str, func: Callable[[], None]) -> None:
    started = time.perf_counter()
    func()
    print(f"  {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def print_table(results: list[dict[str, Any]], out: TextIO) -> None:
    """Imports carry ratios to the baselines measured just before them;
    baseline rows (indented) carry none."""
    headers = [
        "format",
        "samples",
        "seconds",
        "samples/s",
        "peak RSS MB",
        "x raw COPY",
        "x COPY write_row",
        "x parse-only",
    ]

    def ratio(r: dict[str, Any], key: str) -> str:
        return f"{r['seconds'] / r[key]:.2f}" if r.get(key) else "-"

    rows = [
        [
            r["label"],
            f"{r['samples']:,}",
            f"{r['seconds']:.1f}",
            f"{r['samples'] / r['seconds']:,.0f}" if r["seconds"] else "-",
            f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "-",
            ratio(r, "copy_seconds"),
            ratio(r, "copy_rows_seconds"),
            ratio(r, "parse_seconds"),
        ]
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells), file=out)


def bench_format(
    fmt: str,
    *,
    samples: int,
    specs: list[SeriesSpec],
    workdir: Path,
    db_url: str,
    env: dict[str, str],
    keep: bool,
) -> list[dict[str, Any]]:
    """Generate one format's file, measure its baselines, then import it."""
    suffix = {"csv": "csv", "json": "json", "prometheus": "prom"}[fmt]
    path = workdir / f"bench.{suffix}"
    rows_path = workdir / "rows.tsv"
    timed(f"generate {fmt}", lambda: WRITERS[fmt](path, samples, specs))
    size_mb = path.stat().st_size / 1e6
    copy_seconds = raw_copy_seconds(db_url, rows_path, f"bench_raw_{fmt}", rows=False)
    copy_rows_seconds = raw_copy_seconds(db_url, rows_path, f"bench_rows_{fmt}", rows=True)
    print(
        f"  raw COPY: {copy_seconds:.1f} s, write_row: {copy_rows_seconds:.1f} s", file=sys.stderr
    )
    out: list[dict[str, Any]] = []
    row: dict[str, Any] = {
        "label": f"{fmt} ({size_mb:.0f} MB)",
        "copy_seconds": copy_seconds,
        "copy_rows_seconds": copy_rows_seconds,
    }
    baselines = [
        {"label": "  raw COPY (file bytes)", "samples": samples, "seconds": copy_seconds},
        {"label": "  COPY write_row", "samples": samples, "seconds": copy_rows_seconds},
    ]
    if fmt == "prometheus":
        parsed = run_child(["--child", "parse", "--file", str(path)], env)
        print(f"  parse-only: {parsed['seconds']:.1f} s", file=sys.stderr)
        row["parse_seconds"] = parsed["seconds"]
        baselines.append({"label": "  prometheus_client parse", **parsed})
    answer = run_child(
        ["--child", "import", "--file", str(path), "--format", fmt, "--backend", f"bench-{fmt}"],
        env,
    )
    print(f"  import: {answer}", file=sys.stderr)
    if answer["status"] != "succeeded":
        print(f"  WARNING: the {fmt} import ended {answer['status']}", file=sys.stderr)
    row.update(answer)
    out.append(row)
    out.extend(baselines)
    if not keep:
        path.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--formats", default="csv,json,prometheus")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server to create the throwaway database on",
    )
    parser.add_argument("--database", default=f"pilotgate_bench_{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    parser.add_argument("--child", choices=["import", "parse"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "parse":
        print(json.dumps(child_parse_only(args.file)))
        return 0
    if args.child == "import":
        print(json.dumps(child_import(args.file, args.format, args.backend)))
        return 0

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(WRITERS)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    specs = series_specs()
    workdir = Path(tempfile.mkdtemp(prefix="pilotgate-bench-"))
    db_url = with_database(args.server_url, args.database)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "MEDIA_ROOT": str(workdir / "media"),
        # The task runs in the child's own process: no broker, no worker.
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    }
    print(
        f"{args.samples:,} samples per format, {len(specs)} series, "
        f"step {STEP_SECONDS} s; files in {workdir}; database {args.database}",
        file=sys.stderr,
    )
    results: list[dict[str, Any]] = []
    create_database(args.server_url, args.database)
    try:
        timed("migrate", lambda: migrate(env))
        rows_path = workdir / "rows.tsv"
        timed("generate raw rows", lambda: write_raw_rows(rows_path, args.samples, specs))
        for fmt in formats:
            results += bench_format(
                fmt,
                samples=args.samples,
                specs=specs,
                workdir=workdir,
                db_url=db_url,
                env=env,
                keep=args.keep,
            )
    finally:
        if not args.keep:
            drop_database(args.server_url, args.database)
            for leftover in sorted(workdir.rglob("*"), reverse=True):
                leftover.unlink() if leftover.is_file() else leftover.rmdir()
            workdir.rmdir()
    print()
    print_table(results, sys.stdout)
    print(
        "\nTargets: CSV and JSON <= 2x raw COPY; Prometheus text <= 1.25x parse-only;"
        " peak RSS < 300 MB."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
