"""From parsed samples to series keys: name mapping, label sanitising and
value checks. Everything that is not stored is counted: unmapped names per
name, rejects with line and reason.

Counting identity (shown on the job): ``read = stored + duplicates +
rejected + unmapped``, where ``read`` is every sample line or point seen,
including lines the parser refused.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from metrics import catalog
from metrics.models import MetricDefinition, MetricMapping, Series
from metrics.parsers import ParsedBatch, ParsedSample, Reject
from metrics.storage import SampleWriter, SeriesKey

__all__ = [
    "FUTURE_TOLERANCE_SECONDS",
    "Ingestor",
    "Mapper",
    "RejectGroups",
    "Resolved",
    "gc_frozen",
]

FUTURE_TOLERANCE_SECONDS = 3600
MAX_LABEL_VALUE_CHARS = 1024
MAX_LABELS = 64
MAX_CACHED_SERIES = 200_000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# dcgm-exporter renamed Hostname to hostname; keep one spelling.
_LABEL_RENAMES = {"Hostname": "hostname"}
_HISTOGRAM_SUFFIXES = (
    ("_bucket", Series.Component.BUCKET),
    ("_sum", Series.Component.SUM),
    ("_count", Series.Component.COUNT),
)


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Keep the objects that exist before an import (Django, the app) out
    of the cyclic garbage collector's passes while it runs.

    An import allocates millions of small containers (samples, label
    dicts); the collector's full passes then walk the whole pre-existing
    heap again and again: about 7 % of a Prometheus text import, measured.
    Objects made during the import are still collected as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class Resolved:
    metric_id: int
    metric_name: str
    component: str
    scale: float
    transform: str
    counter_like: bool  # may not go down except on reset; never negative
    extra_labels: tuple[tuple[str, str], ...] = ()
    # No transform and no scale: the value is stored as read.
    plain: bool = field(init=False)

    def __post_init__(self) -> None:
        plain = self.transform == MetricMapping.Transform.NONE and self.scale == 1.0
        object.__setattr__(self, "plain", plain)


class Mapper:
    """Source name → canonical metric, from the catalog tables (2 queries)."""

    def __init__(self) -> None:
        self.definitions = {d.name: d for d in MetricDefinition.objects.all()}
        by_id = {d.id: d for d in self.definitions.values()}
        self.mappings: dict[str, tuple[MetricDefinition, float, str]] = {}
        self.extra_labels: dict[str, tuple[tuple[str, str], ...]] = {}
        for m in MetricMapping.objects.all():
            self.mappings[m.source_name] = (by_id[m.metric_id], m.scale, m.transform)
            self.extra_labels[m.source_name] = tuple(
                sorted((str(k), str(v)) for k, v in (m.extra_labels or {}).items())
            )
        self.cache: dict[str, Resolved | None] = {}

    def _target(self, name: str) -> tuple[MetricDefinition, float, str] | None:
        if name in self.mappings:
            return self.mappings[name]
        if name in self.definitions:
            return self.definitions[name], 1.0, MetricMapping.Transform.NONE
        return None

    def resolve(self, name: str) -> Resolved | None:
        if name in self.cache:
            return self.cache[name]
        resolved: Resolved | None = None
        target = self._target(name)
        if target is not None and target[0].kind != MetricDefinition.Kind.HISTOGRAM:
            definition, scale, transform = target
            resolved = Resolved(
                definition.id,
                definition.name,
                Series.Component.VALUE,
                scale,
                transform,
                definition.kind == MetricDefinition.Kind.COUNTER,
                self.extra_labels.get(name, ()),
            )
        else:
            for suffix, component in _HISTOGRAM_SUFFIXES:
                if not name.endswith(suffix):
                    continue
                base = self._target(name[: -len(suffix)])
                if base is not None and base[0].kind == MetricDefinition.Kind.HISTOGRAM:
                    definition, scale, transform = base
                    # The sum of observations may be negative; buckets and counts not.
                    resolved = Resolved(
                        definition.id,
                        definition.name,
                        component,
                        scale,
                        transform,
                        component != Series.Component.SUM,
                        self.extra_labels.get(name[: -len(suffix)], ()),
                    )
                break
        if resolved is None and name.endswith("_total"):
            # prometheus_client appends _total to the samples of a counter
            # family declared without it (DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION).
            resolved = self.resolve(name[: -len("_total")])
        self.cache[name] = resolved
        return resolved


@dataclass
class Ingestor:
    """Feeds parser output into a ``SampleWriter``, counting as it goes."""

    writer: SampleWriter
    mapper: Mapper
    scrape_ts: float
    now_ts: float
    max_rejects: int = 1000
    read: int = 0
    rejected: int = 0
    unmapped_count: int = 0
    rejects: list[dict[str, object]] = field(default_factory=list)
    unmapped: dict[str, int] = field(default_factory=dict)
    groups: RejectGroups = field(default_factory=lambda: RejectGroups())
    # (source name, raw label items) -> what every sample of it becomes:
    # (resolved mapping, key index) or (None, unmapped name) or
    # (resolved, refusal reason); so a repeated series costs one lookup.
    _entries: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Resolved | None, int | str]] = (
        field(default_factory=dict)
    )

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        # A reason may quote the line; control characters (a NUL) cannot go
        # into a JSON column, and nobody can read them anyway.
        if _CONTROL.search(reason):
            reason = _CONTROL.sub("\ufffd", reason)
        if len(self.rejects) < self.max_rejects:
            self.rejects.append({"line": line, "reason": reason})
        self.groups.add(line, reason)

    def _entry(self, name: str, raw_labels: dict[str, str]) -> tuple[Resolved | None, int | str]:
        if "__name__" in raw_labels:
            name = raw_labels["__name__"] or name
        if _CONTROL.search(name):
            # Never an "unmapped" name: it would be stored as a JSON key.
            return _REFUSED, "metric name contains control characters"
        resolved = self.mapper.resolve(name)
        if resolved is None:
            return None, name
        key = _series_key(raw_labels, resolved)
        if isinstance(key, str):
            return resolved, key
        return resolved, self.writer.intern(key)

    def _feed_batch(self, batch: ParsedBatch) -> None:
        """A run of samples of one series: one lookup, the checks
        vectorised. Anything unusual in it (a value or timestamp to refuse,
        a refused label set, a transform) goes sample by sample instead, so
        the outcome and the rejects are exactly the per-sample ones."""
        n = len(batch.ts)
        cache_key = (batch.name, tuple(batch.labels.items()))
        entry = self._entries.get(cache_key)
        if entry is None:
            entry = self._entry(batch.name, batch.labels)
            if len(self._entries) < MAX_CACHED_SERIES:
                self._entries[cache_key] = entry
        resolved, index = entry
        if resolved is None:
            self.read += n
            self.unmapped_count += n
            self.unmapped[str(index)] = self.unmapped.get(str(index), 0) + n
            return
        if type(index) is str or resolved.transform != MetricMapping.Transform.NONE:
            self.feed(batch.expand())
            return
        ts = np.asarray(batch.ts, dtype=np.float64)
        values = np.asarray(batch.values, dtype=np.float64)
        bad = (
            ~np.isfinite(values)
            | ~np.isfinite(ts)
            | (ts > self.now_ts + FUTURE_TOLERANCE_SECONDS)
            | (ts < 0)
        )
        if catalog.DCGM_SENTINELS:
            bad |= np.isin(values, list(catalog.DCGM_SENTINELS))
        if resolved.counter_like:
            bad |= values < 0
        if bad.any():
            self.feed(batch.expand())
            return
        writer = self.writer
        writer.pending_keys.extend(repeat(index, n))  # type: ignore[arg-type]
        writer.pending_ts.extend(batch.ts)
        if resolved.scale != 1.0:
            writer.pending_values.extend((values * resolved.scale).tolist())
        else:
            writer.pending_values.extend(batch.values)
        self.read += n
        if len(writer.pending_keys) >= writer.batch_size:
            writer.flush()

    def feed(self, items: Iterable[ParsedSample | ParsedBatch | Reject]) -> None:
        """The hot loop: one dict lookup per sample for everything that
        depends on its name and labels, then the value and time checks."""
        max_ts = self.now_ts + FUTURE_TOLERANCE_SECONDS
        scrape_ts = self.scrape_ts
        writer = self.writer
        pending_keys = writer.pending_keys
        pending_ts = writer.pending_ts
        pending_values = writer.pending_values
        batch_size = writer.batch_size
        entries = self._entries
        entry_for = self._entry
        unmapped = self.unmapped
        reject = self.reject
        sentinels = catalog.DCGM_SENTINELS
        inf = math.inf
        sample_type = ParsedSample
        read = 0
        for item in items:
            read += 1
            if type(item) is not sample_type:  # one identity test on the hot path
                if isinstance(item, Reject):
                    reject(item.line, item.reason)
                    continue
                if isinstance(item, ParsedBatch):
                    read -= 1  # counted by _feed_batch
                    self._feed_batch(item)
                    pending_keys = writer.pending_keys
                    pending_ts = writer.pending_ts
                    pending_values = writer.pending_values
                    continue
            line, name, _family, _type, raw_labels, value, ts = item
            cache_key = (name, tuple(raw_labels.items()))
            entry = entries.get(cache_key)
            if entry is None:
                entry = entry_for(name, raw_labels)
                if len(entries) < MAX_CACHED_SERIES:  # bounded, whatever the file
                    entries[cache_key] = entry
            resolved, index = entry
            if resolved is None:
                self.unmapped_count += 1
                unmapped_name = str(index)
                unmapped[unmapped_name] = unmapped.get(unmapped_name, 0) + 1
                continue
            if (
                value != value
                or value == inf
                or value == -inf
                or value in sentinels
                or (value < 0 and resolved.counter_like)
            ) and (problem := _value_problem(raw_labels.get("__name__") or name, resolved, value)):
                reject(line, problem)
                continue
            if not resolved.plain:
                value = _transform(resolved, value)
            if ts is None:
                ts = scrape_ts
            elif ts != ts or ts == inf or ts == -inf:
                # NaN compares false with everything: it would pass the
                # range checks below and be stored as year 294247.
                reject(line, f"timestamp {ts} is not a finite number")
                continue
            elif ts > max_ts:
                reject(line, f"timestamp {_when(ts)} is more than 1 h in the future")
                continue
            elif ts < 0:
                reject(line, f"timestamp {_when(ts)} is before 1970")
                continue
            if type(index) is str:
                reject(line, index)
                continue
            pending_keys.append(index)  # type: ignore[arg-type]
            pending_ts.append(ts)
            pending_values.append(value)
            if len(pending_keys) >= batch_size:
                writer.flush()
                pending_keys = writer.pending_keys
                pending_ts = writer.pending_ts
                pending_values = writer.pending_values
        self.read += read


# What a sample whose series is refused outright resolves to: it is never
# stored, so its fields do not matter; the reason travels in the entry.
_REFUSED = Resolved(0, "", Series.Component.VALUE, 1.0, MetricMapping.Transform.NONE, False)

MAX_REJECT_GROUPS = 50
EXAMPLE_LINES = 5
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|[-+]?\d[\d.:eE+-]*")


class RejectGroups:
    """Rejects grouped by reason, over the whole file: count and the first
    line numbers of each. Reasons that differ only in a quoted text or a
    number (a timestamp, a value) are one group, shown by its first reason;
    past ``MAX_REJECT_GROUPS`` groups the rest go under "other reasons"."""

    OTHER = "other reasons"

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, object]] = {}

    def add(self, line: int, reason: str) -> None:
        key = _VARIABLE.sub("#", reason)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_REJECT_GROUPS:
                key, reason = self.OTHER, self.OTHER
                group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = {"reason": reason, "count": 0, "lines": []}
        group["count"] = int(group["count"]) + 1  # type: ignore[call-overload]
        lines = group["lines"]
        assert isinstance(lines, list)
        if len(lines) < EXAMPLE_LINES:
            lines.append(line)

    def as_list(self) -> list[dict[str, object]]:
        """Largest group first."""
        return sorted(
            self.groups.values(),
            key=lambda g: (-int(g["count"]), str(g["reason"])),  # type: ignore[call-overload]
        )


def _when(ts: float) -> str:
    """A refused timestamp as people read it (UTC), and as written."""
    try:
        moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ts:.3f}"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({ts:.3f})"


def _series_key(raw: dict[str, str], resolved: Resolved) -> SeriesKey | str:
    labels = _sanitise(raw, resolved)
    if isinstance(labels, str):
        return labels
    label_items, le = labels
    return (resolved.metric_id, resolved.component, le, label_items)


def _value_problem(name: str, resolved: Resolved, value: float) -> str:
    """Why a value is refused; a value that passes gets ""."""
    if math.isnan(value):
        return f"NaN is not allowed for {name} ({resolved.metric_name})"
    if math.isinf(value):
        return f"infinite value is not allowed for {name}"
    if value in catalog.DCGM_SENTINELS and name.upper().startswith("DCGM"):
        return f"DCGM sentinel {value:.0f} (field blank or not supported): not a measurement"
    if resolved.counter_like and value < 0:
        return f"negative value {value} for counter {name}"
    return ""


def _transform(resolved: Resolved, value: float) -> float:
    transform = resolved.transform
    if transform == MetricMapping.Transform.THROTTLE_MASK:
        return 1.0 if int(value) & catalog.THROTTLE_MASK_BITS else 0.0
    if transform == MetricMapping.Transform.NONZERO:
        return 1.0 if value != 0 else 0.0
    return value * resolved.scale if resolved.scale != 1.0 else value


def _sanitise(
    raw: dict[str, str], resolved: Resolved
) -> tuple[tuple[tuple[str, str], ...], float | None] | str:
    """Sorted label items without ``__name__``/``le`` and the bucket bound,
    or the reason the label set is refused."""
    le: float | None = None
    items: list[tuple[str, str]] = []
    for name, value in raw.items():
        if name == "__name__":
            continue
        if name == "le" and resolved.component == Series.Component.BUCKET:
            try:
                le = float(value)
            except ValueError:
                return f"bucket bound le={value[:40]!r} is not a number"
            if math.isnan(le):
                return "bucket bound le=NaN"
            le = le * resolved.scale if not math.isinf(le) else le
            continue
        if not _LABEL_NAME.match(name):
            return f"label name {name[:40]!r} is not [a-zA-Z_][a-zA-Z0-9_]*"
        if len(value) > MAX_LABEL_VALUE_CHARS:
            return f"label {name} value longer than {MAX_LABEL_VALUE_CHARS} characters"
        if _CONTROL.search(value):
            return f"label {name} value contains control characters"
        if value == "":
            continue  # Prometheus: an empty label is an absent label
        items.append((_LABEL_RENAMES.get(name, name), value))
    if resolved.extra_labels:
        present = {name for name, _ in items}
        items.extend(item for item in resolved.extra_labels if item[0] not in present)
    if resolved.component == Series.Component.BUCKET and le is None:
        return "histogram bucket without an le label"
    if len(items) > MAX_LABELS:
        return f"more than {MAX_LABELS} labels"
    return tuple(sorted(items)), le
