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
span lines), so a bad row is a reject with its line number, and the file
can be cut into chunks of lines anywhere: ``csv_chunks`` reads them (a line
too long to hold is a reject there), ``parse_csv_chunk`` parses one.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from itertools import chain
from typing import BinaryIO, NamedTuple

from metrics.parsers import (
    CHUNK_BYTES,
    MAX_LINE_BYTES,
    ParsedBatch,
    ParsedSample,
    ParseFailure,
    Reject,
    skip_long_line,
)

__all__ = [
    "CSV_CHUNK_LINES",
    "HEADER",
    "CsvChunk",
    "csv_chunks",
    "looks_like_header",
    "parse_csv",
    "parse_csv_chunk",
    "parse_timestamp",
]

HEADER = ("timestamp", "metric", "value", "labels")
CSV_CHUNK_LINES = 10_000
# A header cell: a name, perhaps quoted, with spaces or dots; never a
# number or a time.
_HEADER_CELL = re.compile(r'^\s*"?[A-Za-z_][A-Za-z0-9_ .:/()-]*"?\s*$')


def looks_like_header(cells: list[str]) -> bool:
    """A first row of three or more names is a header, not a sample."""
    return len(cells) >= 3 and all(_HEADER_CELL.match(cell) for cell in cells)


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


def _is_timestamp(text: str) -> bool:
    try:
        parse_timestamp(text)
    except (ValueError, OverflowError):
        return False
    return True


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


class CsvChunk(NamedTuple):
    """Consecutive raw lines (newlines kept), the first one's number, and
    whether the file's header row may be among them."""

    first_line: int
    lines: list[bytes]
    header_possible: bool


def csv_chunks(f: BinaryIO) -> Iterator[CsvChunk | Reject]:
    """The file as chunks of at most ``CSV_CHUNK_LINES`` lines (or about
    ``CHUNK_BYTES``), in file order, with a ``Reject`` where a line is too
    long to hold (the chunk before it is yielded first, so items keep the
    file's order)."""
    size = CSV_CHUNK_LINES
    lines: list[bytes] = []
    chunk_bytes = 0
    first_line = 1
    header_possible = True
    readline = f.readline
    limit = MAX_LINE_BYTES + 1
    lineno = 0
    while True:
        raw = readline(limit)
        if not raw:
            break
        lineno += 1
        if len(raw) == limit and not raw.endswith(b"\n"):
            if lines:
                yield CsvChunk(first_line, lines, header_possible)
                header_possible = False
            yield Reject(lineno, skip_long_line(f, len(raw)))
            lines, first_line, chunk_bytes = [], lineno + 1, 0
            continue
        lines.append(raw)
        chunk_bytes += len(raw)
        if len(lines) >= size or chunk_bytes >= CHUNK_BYTES:
            yield CsvChunk(first_line, lines, header_possible)
            lines, first_line, header_possible = [], lineno + 1, False
            chunk_bytes = 0
    if lines:
        yield CsvChunk(first_line, lines, header_possible)


def parse_csv(f: BinaryIO) -> Iterator[ParsedSample | ParsedBatch | Reject]:
    """Chunks parsed one after the other, flattened by ``chain`` (in C)."""
    return chain.from_iterable(
        [chunk] if isinstance(chunk, Reject) else parse_csv_chunk(chunk) for chunk in csv_chunks(f)
    )


def parse_csv_chunk(chunk: CsvChunk) -> list[ParsedSample | ParsedBatch | Reject]:
    """A chunk's items: a ``ParsedBatch`` per series (the rows of the chunk
    with that metric and label text, in file order, placed where the first
    of them was), a ``Reject`` per bad row, and a ``ParsedSample`` per row
    without a timestamp (the scrape time applies later).

    A long CSV is usually sorted by time, one row per series per step, so a
    series' rows are spread over the chunk: gathering them gives the
    pipeline runs of one series to map once and check vectorised, instead
    of a lookup per row. Many rows share a timestamp and a label text: both
    are parsed once and reused (the label dict is shared; nothing downstream
    mutates it). Items are made with tuple.__new__, which skips the
    NamedTuple's Python-level __new__.
    """
    out: list[ParsedSample | ParsedBatch | Reject] = []
    append = out.append
    new = tuple.__new__
    sample_type, batch_type, reject_type = ParsedSample, ParsedBatch, Reject
    label_cache: dict[str, dict[str, str] | str] = {}
    series: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
    last_ts_text: str | None = None
    last_ts: float | None = None
    header_possible = chunk.header_possible
    lineno = chunk.first_line - 1
    for raw in chunk.lines:
        lineno += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            append(new(reject_type, (lineno, f"not valid UTF-8 at byte {exc.start}")))
            continue
        if '"' in text:
            try:
                row = next(csv.reader([text]))
            except (csv.Error, StopIteration) as exc:
                append(new(reject_type, (lineno, f"invalid CSV: {exc}")))
                continue
        else:
            row = text.rstrip("\r\n").split(",")
            if len(row) == 1 and not row[0].strip():
                continue  # a blank line
        if header_possible:
            header_possible = False
            if [c.strip().lower() for c in row[:4]] == list(HEADER[: len(row[:4])]):
                continue
            if looks_like_header(row) and not _is_timestamp(row[0]):
                raise ParseFailure(
                    f"the CSV header is {','.join(c.strip() for c in row)[:200]!r}; a metrics "
                    f"CSV has the columns {','.join(HEADER)} (labels optional)",
                    lineno,
                )
        if len(row) == 4:
            ts_text, name, value_text, label_text = row
        elif len(row) == 3:
            ts_text, name, value_text = row
            label_text = ""
        else:
            reason = f"expected 3 or 4 columns (timestamp,metric,value,labels), got {len(row)}"
            append(new(reject_type, (lineno, reason)))
            continue
        if ts_text != last_ts_text:
            try:
                last_ts = parse_timestamp(ts_text)
            except (ValueError, OverflowError):
                reason = f"timestamp {ts_text[:40]!r} is neither ISO-8601 nor epoch seconds"
                append(new(reject_type, (lineno, reason)))
                continue
            last_ts_text = ts_text
        try:
            value = float(value_text)
        except ValueError:
            append(new(reject_type, (lineno, f"value {value_text[:40]!r} is not a number")))
            continue
        labels = label_cache.get(label_text)
        if labels is None:
            try:
                labels = _labels(label_text)
            except ValueError as exc:
                labels = str(exc)
            label_cache[label_text] = labels  # at most one per line of the chunk
        if type(labels) is str:
            append(new(reject_type, (lineno, labels)))
            continue
        name = name.strip()
        if not name:
            append(new(reject_type, (lineno, "metric name is empty")))
            continue
        if last_ts is None:
            append(new(sample_type, (lineno, name, name, "unknown", labels, value, None)))
            continue
        key = (name, label_text)
        run = series.get(key)
        if run is None:
            run = series[key] = ([], [], [])
            # The batch holds the run's lists, which fill as rows come.
            append(new(batch_type, (run[0], name, labels, run[1], run[2])))
        run[0].append(lineno)
        run[1].append(last_ts)
        run[2].append(value)
    return out
