"""Reads of the metrics app shared by pages, the API, review evidence and
cost allocation. Metrics reads use hourly rollups only, never raw samples,
and run a constant number of queries whatever the data size.

Windows are aligned to whole UTC hours: ``start`` is floored to its hour
and every hour that begins before ``end`` is included.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, TruncDate
from django.utils.dateparse import parse_datetime

from metrics import catalog
from metrics.models import HourlyRollup, ImportJob, Series
from metrics.quantile import histogram_quantile
from pilots.models import CLOSED_PILOT_STATUSES, Backend, Pilot
from portal.roles import METRICS_IMPORT_ANYWHERE, may

__all__ = [
    "QUANTILES",
    "USAGE_METRICS",
    "BackendDayFigures",
    "MetricsSummary",
    "SeriesUsage",
    "backend_day_figures",
    "backends_with_pilot_series",
    "import_backends_for",
    "import_job_progress",
    "import_pilots_for",
    "labelled_usage_span",
    "metrics_summary",
    "metrics_timeseries",
    "series_usage",
    "summary_note",
    "throttle_devices",
    "usage_series",
]

SINGLE_SCRAPE_SUMMARY_NOTE = (
    "Every series has a single sample in this window (one scrape): counters need two "
    "scrapes or more to give requests, tokens and rates."
)

HOUR = dt.timedelta(hours=1)
# (field suffix, q): p50, p95, p99, p99.9
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.5),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)


@dataclass(frozen=True)
class MetricsSummary(Mapping[str, Any]):
    """Figures for one backend over a window. None means "no data", never 0.

    Also a read-only mapping of field name → value (templates, charts).

    - ``requests``: finished requests (counter increase, resets handled);
      ``errors``: requests that failed (vLLM ``finished_reason="error"``
      plus a source's own ``errors_total``); ``error_rate`` is the fraction
      errors / requests (0.001 = 0.1 %).
    - ``tokens_per_second``: generated tokens over the seconds between the
      first and last token-counter samples in the window.
    - ``e2e_*`` / ``ttft_*``: quantiles from bucket increases merged over
      every series and hour of the window (``histogram_quantile``), in s.
    - ``utilization_*`` in % (0-100), ``power_mean`` in W per device sample,
      ``energy_joules`` summed over devices, ``joules_per_token`` = energy /
      generated tokens, ``temperature_max`` in °C.
    - ``throttle_seconds``: time throttled for power or thermal reasons;
      ``throttle_events``: throttle events the exporter counted;
      ``throttled_samples``: samples whose clock-event bitmask had a
      throttle bit; ``xid_errors``: samples reporting an XID error.
    - ``covered_start``/``covered_end``: first and last sample actually
      found; ``sample_count``/``series_count``: how much data it rests on.
    """

    start: dt.datetime
    end: dt.datetime
    requests: float | None = None
    errors: float | None = None
    error_rate: float | None = None
    tokens_generated: float | None = None
    prompt_tokens: float | None = None
    tokens_per_second: float | None = None
    e2e_p50: float | None = None
    e2e_p95: float | None = None
    e2e_p99: float | None = None
    e2e_p999: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    ttft_p99: float | None = None
    ttft_p999: float | None = None
    utilization_mean: float | None = None
    utilization_max: float | None = None
    power_mean: float | None = None
    energy_joules: float | None = None
    joules_per_token: float | None = None
    temperature_max: float | None = None
    throttle_seconds: float | None = None
    throttle_events: float | None = None
    throttled_samples: float | None = None
    xid_errors: float | None = None
    sample_count: int = 0
    series_count: int = 0
    covered_start: dt.datetime | None = None
    covered_end: dt.datetime | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in _SUMMARY_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_SUMMARY_FIELDS)

    def __len__(self) -> int:
        return len(_SUMMARY_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SUMMARY_FIELDS}


_SUMMARY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MetricsSummary))


def _hour_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")
    return start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0), end


def _rollups(
    *,
    backend: Backend,
    start: dt.datetime,
    end: dt.datetime,
    pilot: Pilot | None = None,
    model: str | None = None,
    cost_center: str | None = None,
) -> QuerySet[HourlyRollup]:
    first_hour, end = _hour_range(start, end)
    rollups = HourlyRollup.objects.filter(
        series__backend=backend, hour__gte=first_hour, hour__lt=end
    )
    if pilot is not None:
        rollups = rollups.filter(series__pilot=pilot)
    if model:
        model_q = Q()
        for label in catalog.MODEL_LABELS:
            model_q |= Q(**{f"series__labels__{label}": model})
        rollups = rollups.filter(model_q)
    if cost_center:
        rollups = rollups.filter(**{f"series__labels__{catalog.COST_CENTER_LABEL}": cost_center})
    return rollups


_AGGREGATES: dict[str, Any] = {
    "inc": Sum("increase"),
    "err_inc": Sum(
        "increase",
        filter=Q(series__labels__finished_reason__in=list(catalog.ERROR_FINISH_REASONS)),
    ),
    "total": Sum("sum"),
    "n": Sum("count"),
    "lo": Min("min"),
    "hi": Max("max"),
    "first": Min("first_ts"),
    "last": Max("last_ts"),
}


class _Figures:
    """Aggregated rollup rows of one window (or one hour), by metric."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, dict[float, float]] = defaultdict(dict)

    def add(self, row: dict[str, Any]) -> None:
        name = row["series__metric__name"]
        if row["series__component"] == Series.Component.BUCKET:
            le = row["series__le"]
            self.buckets[name][le] = self.buckets[name].get(le, 0.0) + (row["inc"] or 0.0)
            return
        if row["series__component"] != Series.Component.VALUE:
            return
        self.values[name] = row

    def inc(self, name: str) -> float | None:
        row = self.values.get(name)
        return None if row is None or row["inc"] is None else float(row["inc"])

    def mean(self, name: str) -> float | None:
        row = self.values.get(name)
        if row is None or not row["n"]:
            return None
        return float(row["total"]) / float(row["n"])

    def get(self, name: str, key: str) -> Any:
        row = self.values.get(name)
        return None if row is None else row[key]

    def quantiles(self, name: str, prefix: str) -> dict[str, float | None]:
        buckets = self.buckets.get(name)
        out: dict[str, float | None] = {}
        for suffix, q in QUANTILES:
            value = histogram_quantile(q, buckets) if buckets else math.nan
            out[f"{prefix}_{suffix}"] = None if math.isnan(value) else value
        return out

    def rate(self, name: str) -> float | None:
        increase = self.inc(name)
        first, last = self.get(name, "first"), self.get(name, "last")
        if increase is None or first is None or last is None:
            return None
        seconds = (last - first).total_seconds()
        return increase / seconds if seconds > 0 else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _figures(f: _Figures) -> dict[str, Any]:
    """The per-window figures both selectors share."""
    requests = f.inc(catalog.REQUESTS)
    error_parts = [f.inc(catalog.ERRORS), f.get(catalog.REQUESTS, "err_inc")]
    known = [float(part) for part in error_parts if part is not None]
    errors = sum(known) if known else (0.0 if requests is not None else None)
    tokens = f.inc(catalog.GENERATION_TOKENS)
    energy = f.inc(catalog.ENERGY)
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": _ratio(errors, requests),
        "tokens_generated": tokens,
        "prompt_tokens": f.inc(catalog.PROMPT_TOKENS),
        "tokens_per_second": f.rate(catalog.GENERATION_TOKENS),
        **f.quantiles(catalog.E2E_LATENCY, "e2e"),
        **f.quantiles(catalog.TTFT, "ttft"),
        "utilization_mean": f.mean(catalog.UTILIZATION),
        "utilization_max": f.get(catalog.UTILIZATION, "hi"),
        "power_mean": f.mean(catalog.POWER),
        "energy_joules": energy,
        "joules_per_token": _ratio(energy, tokens),
        "temperature_max": f.get(catalog.TEMPERATURE, "hi"),
        "throttle_seconds": f.inc(catalog.THROTTLE_SECONDS),
        "throttle_events": f.inc(catalog.THROTTLE_EVENTS),
        "throttled_samples": f.get(catalog.THROTTLE_ACTIVE, "total"),
        "xid_errors": f.get(catalog.XID_ERRORS, "total"),
    }


def throttle_devices(
    *,
    backend: Backend,
    start: dt.datetime,
    end: dt.datetime,
    pilot: Pilot | None = None,
) -> int:
    """How many devices reported throttle time in [start, end): the
    throttle-time series with a rollup there, one device per label set once
    the throttle reason (power, thermal) is set aside. "Throttle time over
    1 % of the time" compares the summed throttle time with 1 % of these
    devices' time (a single backend-wide counter is one device). One query."""
    found = (
        _rollups(backend=backend, start=start, end=end, pilot=pilot)
        .filter(series__metric__name=catalog.THROTTLE_SECONDS)
        .values_list("series_id", "series__labels")
        .order_by()
        .distinct()
    )
    return len(
        {
            tuple(sorted((k, str(v)) for k, v in (labels or {}).items() if k != "reason"))
            for _, labels in found
        }
    )


def metrics_summary(
    *,
    backend: Backend,
    start: dt.datetime,
    end: dt.datetime,
    pilot: Pilot | None = None,
    model: str | None = None,
    cost_center: str | None = None,
    metrics: Collection[str] | None = None,
) -> MetricsSummary:
    """Summary of a backend's metrics over [start, end). One query.

    ``metrics`` (metric names) limits the read to those metrics: figures of
    other metrics are then None, and the ones read are exactly what the
    full summary gives (each metric is aggregated on its own), while the
    database reads only their rollups (the review evidence needs 5 of the
    catalog's metrics, not the ~40 bucket series of the histograms)."""
    rollups = _rollups(
        backend=backend, start=start, end=end, pilot=pilot, model=model, cost_center=cost_center
    )
    if metrics is not None:
        rollups = rollups.filter(series__metric__name__in=list(metrics))
    rows = (
        rollups.values("series__metric__name", "series__component", "series__le")
        .order_by()
        .annotate(series_n=Count("series", distinct=True), **_AGGREGATES)
    )
    f = _Figures()
    sample_count = series_count = 0
    covered_start: dt.datetime | None = None
    covered_end: dt.datetime | None = None
    for row in rows:
        f.add(row)
        sample_count += int(row["n"] or 0)
        series_count += int(row["series_n"] or 0)
        if row["first"] is not None and (covered_start is None or row["first"] < covered_start):
            covered_start = row["first"]
        if row["last"] is not None and (covered_end is None or row["last"] > covered_end):
            covered_end = row["last"]
    return MetricsSummary(
        start=start,
        end=end,
        sample_count=sample_count,
        series_count=series_count,
        covered_start=covered_start,
        covered_end=covered_end,
        **_figures(f),
    )


TIMESERIES_FIELDS: tuple[str, ...] = (
    "e2e_p50",
    "e2e_p95",
    "e2e_p99",
    "e2e_p999",
    "ttft_p50",
    "ttft_p95",
    "ttft_p99",
    "ttft_p999",
    "tokens_per_second",
    "requests_per_second",
    "error_rate",
    "utilization_mean",
    "utilization_max",
    "power_mean",
    "temperature_max",
    "throttle_seconds",
    "throttle_events",
)


def metrics_timeseries(
    *,
    backend: Backend,
    start: dt.datetime,
    end: dt.datetime,
    pilot: Pilot | None = None,
) -> list[dict[str, Any]]:
    """One row per UTC hour of the window, gaps included, for charts. One query.

    Each row: ``{"t": aware datetime (start of the hour), "e2e_p50",
    "e2e_p95", "e2e_p99", "e2e_p999", "ttft_p50" .. "ttft_p999" (s, from that
    hour's merged bucket increases), "tokens_per_second" and
    "requests_per_second" (the hour's increase / 3600), "error_rate",
    "utilization_mean", "utilization_max" (%), "power_mean" (W),
    "temperature_max" (°C), "throttle_seconds", "throttle_events"}``; a
    value is None when the hour has no data for it.
    """
    first_hour, end = _hour_range(start, end)
    rows = (
        _rollups(backend=backend, start=start, end=end, pilot=pilot)
        .values("hour", "series__metric__name", "series__component", "series__le")
        .order_by()
        .annotate(**_AGGREGATES)
    )
    per_hour: dict[dt.datetime, _Figures] = defaultdict(_Figures)
    for row in rows:
        per_hour[row["hour"].astimezone(dt.UTC)].add(row)
    out: list[dict[str, Any]] = []
    hour = first_hour
    while hour < end:
        figures = per_hour.get(hour)
        point: dict[str, Any] = {"t": hour}
        if figures is None:
            point.update(dict.fromkeys(TIMESERIES_FIELDS))
        else:
            values = _figures(figures)
            requests = figures.inc(catalog.REQUESTS)
            tokens = figures.inc(catalog.GENERATION_TOKENS)
            values["tokens_per_second"] = None if tokens is None else tokens / 3600
            values["requests_per_second"] = None if requests is None else requests / 3600
            point.update({name: values.get(name) for name in TIMESERIES_FIELDS})
        out.append(point)
        hour += HOUR
    return out


def import_job_progress(job: ImportJob) -> tuple[int, int]:
    """(bytes done, bytes total) of a job, for the page's progress bar.

    A running job's progress is published to the cache (and on PostgreSQL
    to the row through a second connection): see ``services._Progress``.
    """
    from metrics.services import import_job_progress_key

    total = job.bytes_total or job.size_bytes
    if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
        return (total if job.status == ImportJob.Status.SUCCEEDED else job.bytes_done), total
    cached = cache.get(import_job_progress_key(job.pk))
    done = max(job.bytes_done, int(cached) if cached is not None else 0)
    return min(done, total), total


@dataclass(frozen=True)
class FailedImports:
    """The newest failed import jobs and how many failed in all."""

    jobs: list[ImportJob]
    total: int


def failed_imports(*, since: dt.datetime, user: Any = None, limit: int = 8) -> FailedImports:
    """Import jobs that failed since ``since``, newest first, at most
    ``limit`` of them, with the total (1 query: the total is a window
    count). With ``user``, only theirs: jobs they started, or tagged to a
    pilot where they hold a RACI letter."""
    # Imported here to keep this addition apart from the module's imports.
    from django.db.models import Window

    from pilots.models import RaciAssignment

    jobs = ImportJob.objects.filter(status=ImportJob.Status.FAILED, created_at__gte=since)
    if user is not None:
        their_pilots = RaciAssignment.objects.filter(user=user).values("activity__pilot_id")
        jobs = jobs.filter(Q(created_by=user) | Q(pilot_id__in=their_pilots))
    rows: list[ImportJob] = list(
        jobs.select_related("backend", "pilot")
        .annotate(failed_total=Window(Count("id")))
        .order_by("-created_at", "-id")[:limit]
    )
    total = int(getattr(rows[0], "failed_total", 0)) if rows else 0
    return FailedImports(jobs=rows, total=total)


def import_pilots_for(user: Any) -> QuerySet[Pilot]:
    """The open pilots ``user`` may tag an import with: every one for program
    managers and admins; for anyone else those where they hold a RACI
    letter (any activity)."""
    pilots = Pilot.objects.exclude(status__in=CLOSED_PILOT_STATUSES)
    if may(user, METRICS_IMPORT_ANYWHERE):
        return pilots
    return pilots.filter(raci_activities__assignments__user=user).distinct()


def import_backends_for(user: Any) -> QuerySet[Backend]:
    """The active backends ``user`` may import into: all for program
    managers and admins; for anyone else the candidate and baseline
    backends of their pilots (``import_pilots_for``)."""
    backends = Backend.objects.filter(is_active=True)
    if may(user, METRICS_IMPORT_ANYWHERE):
        return backends
    mine = import_pilots_for(user)
    return backends.filter(
        Q(pk__in=mine.values("candidate_backend")) | Q(pk__in=mine.values("baseline_backend"))
    )


def summary_note(summary: MetricsSummary) -> str:
    """What a reader of ``summary`` should know that its figures do not say."""
    if summary.sample_count and summary.sample_count == summary.series_count:
        return SINGLE_SCRAPE_SUMMARY_NOTE
    return ""


def backends_with_pilot_series(*, pilot: Pilot) -> set[int]:
    """Ids of the backends holding series imported for ``pilot`` (one query)."""
    return set(
        Series.objects.filter(pilot=pilot)
        .order_by()
        .values_list("backend_id", flat=True)
        .distinct()
    )


# --- reads for cost allocation (costs.services.allocation) -------------------

# The canonical usage counters, by the name costs gives them.
USAGE_METRICS: dict[str, str] = {
    catalog.PROMPT_TOKENS: "prompt_tokens",
    catalog.GENERATION_TOKENS: "generated_tokens",
    catalog.REQUESTS: "requests",
}


@dataclass(frozen=True)
class SeriesUsage:
    """A usage counter series: who it belongs to and its labels."""

    series_id: int
    backend_id: int
    pilot_id: int | None
    labels: dict[str, str]
    quantity: str  # "prompt_tokens", "generated_tokens" or "requests"


def _day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Whole UTC days ``start``..``end`` (inclusive) as an hour range."""
    first = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    last = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return first, last


def _usage_rollups(
    backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> QuerySet[HourlyRollup]:
    first, last = _day_bounds(start, end)
    rollups = HourlyRollup.objects.filter(
        hour__gte=first,
        hour__lt=last,
        series__metric__name__in=list(USAGE_METRICS),
        series__component=Series.Component.VALUE,
    )
    if backend_ids is not None:
        rollups = rollups.filter(series__backend_id__in=list(backend_ids))
    return rollups


def usage_series(
    *, backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> tuple[
    dict[int, SeriesUsage], list[tuple[int, dt.date, float]], list[tuple[int, dt.datetime, float]]
]:
    """The usage counters of whole UTC days ``start``..``end``: (series by
    id, day increases of series without a pilot as (series, day, increase),
    hour increases of series tied to a pilot as (series, hour, increase)).

    Series tied to a pilot come by hour because the pilot's phase covering
    each hour decides whether the usage was shadow traffic. Three queries,
    whatever the number of series or days.
    """
    rollups = _usage_rollups(backend_ids, start, end)
    series_ids = rollups.values("series_id")
    info: dict[int, SeriesUsage] = {}
    for sid, backend_id, pilot_id, labels, name in Series.objects.filter(
        id__in=series_ids
    ).values_list("id", "backend_id", "pilot_id", "labels", "metric__name"):
        info[sid] = SeriesUsage(sid, backend_id, pilot_id, dict(labels or {}), USAGE_METRICS[name])
    days = [
        (sid, day, float(inc))
        for sid, day, inc in rollups.filter(series__pilot__isnull=True)
        .annotate(day=TruncDate("hour", tzinfo=dt.UTC))
        .values("series_id", "day")
        .order_by()
        .annotate(inc=Sum("increase"))
        .values_list("series_id", "day", "inc")
        if inc
    ]
    hours = [
        (sid, hour.astimezone(dt.UTC), float(inc))
        for sid, hour, inc in rollups.filter(series__pilot__isnull=False).values_list(
            "series_id", "hour", "increase"
        )
        if inc
    ]
    return info, days, hours


@dataclass
class BackendDayFigures:
    """What one backend measured on one UTC day besides usage: energy (the
    reset-aware increase of the canonical energy counter, J, None without
    samples), prefill and decode time (the histograms' sums, s) and the
    merged end-to-end latency histogram ({le: increase})."""

    energy_joules: float | None = None
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    latency_buckets: dict[float, float] | None = None


def backend_day_figures(
    *, backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> dict[tuple[int, dt.date], BackendDayFigures]:
    """Energy, prefill/decode time and latency buckets per (backend, day)
    over whole UTC days ``start``..``end``. One query."""
    first, last = _day_bounds(start, end)
    wanted = (
        Q(series__metric__name=catalog.ENERGY, series__component=Series.Component.VALUE)
        | Q(
            series__metric__name__in=[catalog.PREFILL_TIME, catalog.DECODE_TIME],
            series__component=Series.Component.SUM,
        )
        | Q(series__metric__name=catalog.E2E_LATENCY, series__component=Series.Component.BUCKET)
    )
    rollups = HourlyRollup.objects.filter(wanted, hour__gte=first, hour__lt=last)
    if backend_ids is not None:
        rollups = rollups.filter(series__backend_id__in=list(backend_ids))
    rows = (
        rollups.annotate(day=TruncDate("hour", tzinfo=dt.UTC))
        .values("series__backend_id", "day", "series__metric__name", "series__le")
        .order_by()
        .annotate(inc=Sum("increase"))
    )
    out: dict[tuple[int, dt.date], BackendDayFigures] = {}
    for row in rows:
        figures = out.setdefault((row["series__backend_id"], row["day"]), BackendDayFigures())
        name, inc = row["series__metric__name"], float(row["inc"] or 0.0)
        if name == catalog.ENERGY:
            figures.energy_joules = (figures.energy_joules or 0.0) + inc
        elif name == catalog.PREFILL_TIME:
            figures.prefill_seconds = (figures.prefill_seconds or 0.0) + inc
        elif name == catalog.DECODE_TIME:
            figures.decode_seconds = (figures.decode_seconds or 0.0) + inc
        else:
            buckets = figures.latency_buckets if figures.latency_buckets is not None else {}
            le = float(row["series__le"])
            buckets[le] = buckets.get(le, 0.0) + inc
            figures.latency_buckets = buckets
    return out


def series_usage(
    *, backend_ids: Collection[int] | None, start: dt.date, end: dt.date
) -> list[tuple[SeriesUsage, float]]:
    """Each usage counter series with its increase over whole UTC days
    ``start``..``end`` (the unmapped-usage page). Two queries."""
    rollups = _usage_rollups(backend_ids, start, end)
    totals = dict(
        rollups.values("series_id")
        .order_by()
        .annotate(inc=Sum("increase"))
        .values_list("series_id", "inc")
    )
    out: list[tuple[SeriesUsage, float]] = []
    for sid, backend_id, pilot_id, labels, name in Series.objects.filter(
        id__in=list(totals)
    ).values_list("id", "backend_id", "pilot_id", "labels", "metric__name"):
        usage = SeriesUsage(sid, backend_id, pilot_id, dict(labels or {}), USAGE_METRICS[name])
        out.append((usage, float(totals[sid] or 0.0)))
    return out


def labelled_usage_span(*, label: str, value: str) -> dict[int, tuple[dt.date, dt.date]]:
    """Per backend, the first and last UTC day with usage from series whose
    ``label`` is ``value`` (the days a usage mapping on it touches). One query."""
    rows = (
        HourlyRollup.objects.filter(
            series__metric__name__in=list(USAGE_METRICS),
            series__component=Series.Component.VALUE,
            **{f"series__labels__{label}": value},
        )
        .values("series__backend_id")
        .order_by()
        .annotate(first=Min("hour"), last=Max("hour"))
    )
    return {
        row["series__backend_id"]: (
            row["first"].astimezone(dt.UTC).date(),
            row["last"].astimezone(dt.UTC).date(),
        )
        for row in rows
    }


# --- Review evidence: per-hour slices (reviews app) ---------------------------


@dataclass(frozen=True)
class HourlySlices:
    """A backend's per-hour figures over a window, for the evidence of a
    go/no-go review (block bootstrap over hourly slices). Only hours with
    data appear; each list is ordered by hour.

    - ``e2e`` / ``ttft``: ``(hour, {le: bucket increase})``, the hour's
      buckets merged over every series, as the summary merges them over the
      window (so merging all the hours gives the summary's quantiles);
    - ``requests`` / ``errors`` / ``tokens``: ``(hour, increase)``, with
      errors counted as the summary counts them;
    - ``source``: ``"pilot"`` when only the pilot's own series were read,
      ``"backend"`` when the backend's whole traffic was.
    """

    source: str
    e2e: list[tuple[dt.datetime, dict[float, float]]]
    ttft: list[tuple[dt.datetime, dict[float, float]]]
    requests: list[tuple[dt.datetime, float]]
    errors: list[tuple[dt.datetime, float]]
    tokens: list[tuple[dt.datetime, float]]


def pilot_has_series(
    *, backend: Backend, pilot: Pilot, start: dt.datetime, end: dt.datetime
) -> bool:
    """Whether an import named the pilot for this backend's data in the
    window (then its evidence reads the pilot's series only). One query."""
    return _rollups(backend=backend, start=start, end=end, pilot=pilot).exists()


def _hour_from_text(text: str) -> dt.datetime:
    """An aware UTC datetime from a datetime column cast to text: SQLite's
    stored UTC text (naive) or PostgreSQL's ``timestamptz`` text (with its
    offset; Django's connections run in UTC)."""
    parsed = parse_datetime(text)
    if parsed is None:
        raise ValueError(f"not a datetime: {text!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def hourly_slices(
    *,
    backend: Backend,
    start: dt.datetime,
    end: dt.datetime,
    pilot: Pilot | None = None,
) -> HourlySlices:
    """Per-hour bucket increases (e2e, TTFT), requests, errors and generated
    tokens of ``backend`` over [start, end): the pilot's series when
    ``pilot`` is given, else the backend's whole traffic. Two queries: the
    series, then their rollups' increases (no GROUP BY: a 6-week window is
    ~1000 hours x ~50 series, summed here faster than the database groups
    them), counted as ``_figures`` counts them."""
    first_hour, end = _hour_range(start, end)
    names = [
        catalog.E2E_LATENCY,
        catalog.TTFT,
        catalog.REQUESTS,
        catalog.ERRORS,
        catalog.GENERATION_TOKENS,
    ]
    series = Series.objects.filter(backend=backend, metric__name__in=names)
    if pilot is not None:
        series = series.filter(pilot=pilot)
    error_reasons = set(catalog.ERROR_FINISH_REASONS)
    # series id -> (what it adds to, bucket bound or None)
    role: dict[int, tuple[str, float | None]] = {}
    is_error: set[int] = set()
    for sid, name, component, le, labels in series.values_list(
        "id", "metric__name", "component", "le", "labels"
    ):
        if name in (catalog.E2E_LATENCY, catalog.TTFT):
            if component == Series.Component.BUCKET and le is not None:
                role[sid] = (name, float(le))
        elif component == Series.Component.VALUE:
            role[sid] = (name, None)
            if name == catalog.REQUESTS and (labels or {}).get("finished_reason") in error_reasons:
                is_error.add(sid)
    buckets: dict[str, dict[dt.datetime, dict[float, float]]] = {
        catalog.E2E_LATENCY: defaultdict(dict),
        catalog.TTFT: defaultdict(dict),
    }
    totals: dict[str, dict[dt.datetime, float]] = {
        name: defaultdict(float) for name in (catalog.REQUESTS, "errors", catalog.GENERATION_TOKENS)
    }
    seen: dict[str, set[dt.datetime]] = {
        name: set() for name in (catalog.REQUESTS, catalog.GENERATION_TOKENS)
    }
    # The hour comes as the database's text and is parsed once per distinct
    # hour (~1000), not once per row (~50,000): the backend's datetime
    # converter was half the time of this read.
    rows = (
        HourlyRollup.objects.filter(series_id__in=list(role), hour__gte=first_hour, hour__lt=end)
        .order_by()
        .annotate(hour_text=Cast("hour", TextField()))
        .values_list("series_id", "hour_text", "increase")
    )
    hours: dict[str, dt.datetime] = {}
    for sid, text, increase in rows if role else ():
        name, le = role[sid]
        hour = hours.get(text)
        if hour is None:
            hour = hours[text] = _hour_from_text(text)
        value = float(increase or 0.0)
        if le is not None:
            per_hour = buckets[name][hour]
            per_hour[le] = per_hour.get(le, 0.0) + value
        elif name == catalog.ERRORS:
            totals["errors"][hour] += value
        elif increase is not None:
            totals[name][hour] += value
            seen[name].add(hour)
            if sid in is_error:
                totals["errors"][hour] += value
    e2e = sorted(buckets[catalog.E2E_LATENCY].items())
    ttft = sorted(buckets[catalog.TTFT].items())
    requests = [(h, totals[catalog.REQUESTS][h]) for h in sorted(seen[catalog.REQUESTS])]
    errors = [(h, totals["errors"].get(h, 0.0)) for h in sorted(seen[catalog.REQUESTS])]
    tokens = [
        (h, totals[catalog.GENERATION_TOKENS][h]) for h in sorted(seen[catalog.GENERATION_TOKENS])
    ]
    return HourlySlices(
        source="backend" if pilot is None else "pilot",
        e2e=e2e,
        ttft=ttft,
        requests=requests,
        errors=errors,
        tokens=tokens,
    )


__all__ += ["HourlySlices", "hourly_slices", "pilot_has_series"]
