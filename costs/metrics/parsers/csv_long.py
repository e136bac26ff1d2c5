"""The long CSV: one sample per line.

    timestamp,metric,value,labels
    2026-03-01T10:00:00Z,vllm:generation_tokens_total,1234,model_name=llama;engine=0
    1772359200,DCGM_FI_DEV_POWER_USAGE,215.5,gpu=0;UUID=GPU-1

- ``timestamp``: ISO-8601 with a zone (``Z`` or ``+hh:mm``; a timestamp
  without a zone is read as UTC) or Unix epoch seconds (fractions allowed).
  Empty: the import's scrape time applies.
- ``metric``: the source metric name (mapped like any other source) or a
  canonical name. Histogram buckets are ``<name>_bucket`` with an ``le``
  label, plus ``<name>_sum`` and ``<name>_count``.
- ``value``: a number (``NaN``/``+Inf`` are read, then rejected where not
  allowed).
- ``labels``: ``key=value`` pairs separated by ``;``; may be empty. A value
  may contain ``=`` (only the first one splits); it may not contain ``;``.
  Quote the field (RFC 4180) if it contains a comma.

The header row is optional. Rows are single lines (a quoted field cannot
span lines), so a bad row is a reject with its line number.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

from costs.metrics.parsers import MAX_LINE_BYTES, ParsedSample, Reject, skip_long_line

__all__ = ["HEADER", "parse_csv", "parse_timestamp"]

HEADER = ("timestamp", "metric", "value", "labels")


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds from ISO-8601 or epoch text; None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"label {part.strip()[:40]!r} is not key=value")
        key = key.strip()
        if key in labels:
            raise ValueError(f"label {key!r} given twice")
        labels[key] = value.strip()
    return labels


def parse_csv(f: BinaryIO) -> Iterator[ParsedSample | Reject]:
    # Many rows share a timestamp (one per series per step) and a label
    # text (one per series): both are parsed once and reused. The label
    # dict is shared between samples; nothing downstream mutates it.
    # The line loop is ``iter_lines`` inlined (a generator hop per row is a
    # measurable share of the import); lines too long go through it.
    label_cache: dict[str, dict[str, str] | str] = {}
    last_ts_text: str | None = None
    last_ts: float | None = None
    first = True
    readline = f.readline
    limit = MAX_LINE_BYTES + 1
    lineno = 0
    sample = ParsedSample
    while True:
        raw = readline(limit)
        if not raw:
            return
        lineno += 1
        if len(raw) == limit and not raw.endswith(b"\n"):
            yield Reject(lineno, skip_long_line(f, len(raw)))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Reject(lineno, f"not valid UTF-8 at byte {exc.start}")
            continue
        if '"' in text:
            try:
                row = next(csv.reader([text]))
            except (csv.Error, StopIteration) as exc:
                yield Reject(lineno, f"invalid CSV: {exc}")
                continue
        else:
            row = text.rstrip("\r\n").split(",")
            if len(row) == 1 and not row[0].strip():
                continue  # a blank line
        if first:
            first = False
            if [c.strip().lower() for c in row[:4]] == list(HEADER[: len(row[:4])]):
                continue
        if len(row) == 4:
            ts_text, name, value_text, label_text = row
        elif len(row) == 3:
            ts_text, name, value_text = row
            label_text = ""
        else:
            yield Reject(
                lineno,
                f"expected 3 or 4 columns (timestamp,metric,value,labels), got {len(row)}",
            )
            continue
        if ts_text != last_ts_text:
            try:
                last_ts = parse_timestamp(ts_text)
            except (ValueError, OverflowError):
                yield Reject(
                    lineno, f"timestamp {ts_text[:40]!r} is neither ISO-8601 nor epoch seconds"
                )
                continue
            last_ts_text = ts_text
        try:
            value = float(value_text)
        except ValueError:
            yield Reject(lineno, f"value {value_text[:40]!r} is not a number")
            continue
        labels = label_cache.get(label_text)
        if labels is None:
            try:
                labels = _labels(label_text)
            except ValueError as exc:
                labels = str(exc)
            if len(label_cache) < 100_000:  # bounded, whatever the file
                label_cache[label_text] = labels
        if type(labels) is str:
            yield Reject(lineno, labels)
            continue
        name = name.strip()
        if not name:
            yield Reject(lineno, "metric name is empty")
            continue
        yield sample(lineno, name, name, "unknown", labels, value, last_ts)  # type: ignore[arg-type]
