"""Prometheus HTTP API responses: ``query_range`` (matrix) and ``query``
(vector), streamed.

A matrix series can hold millions of points, so the document is never
loaded whole: a sliding text buffer is scanned for the keys of the
response envelope (``status``, ``resultType``, ``metric``, ``values``,
``value`` ...). Small objects (a series' ``metric`` labels, ``warnings``,
an ``error``) are decoded with ``json`` at their position; points are read
one at a time with a regular expression. Keys are only looked for outside
those decoded objects, and the rest of a Prometheus response is numbers and
number strings, so label values cannot be mistaken for keys.

Points are ``[<unix seconds>, "<value>"]``; values are strings so that
``"NaN"``, ``"+Inf"`` and ``"-Inf"`` survive. Native histograms
(``histograms``/``histogram``) are rejected with a reason: this importer
stores classic bucket counters.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from metrics.parsers import ParsedBatch, ParsedSample, ParseFailure, Reject

__all__ = ["parse_prometheus_json"]

READ_BYTES = 256 * 1024
MAX_OBJECT_CHARS = 1024 * 1024

_KEY = re.compile(
    r'"(status|resultType|metric|values|value|histograms|histogram|error|errorType'
    r'|warnings|infos)"\s*:\s*'
)
_POINT = re.compile(r'\s*\[\s*([^,\]\s]+)\s*,\s*"([^"\\]*)"\s*\]\s*')
# A run of well-formed points, each followed by a comma (so each is whole
# even at the end of the buffer), matched in one call; _PAIR then splits
# exactly those points.
_RUN = re.compile(r'(?:\s*\[\s*[^,\]\s]+\s*,\s*"[^"\\]*"\s*\]\s*,)+')
_PAIR = re.compile(r'\[\s*([^,\]\s]+)\s*,\s*"([^"\\]*)"')
RUN_MIN_CHARS = 64 * 1024
_DECODER = json.JSONDecoder()


class _Buffer:
    """A window on the decoded text; ``line_at`` gives line numbers."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        # Line numbers are counted incrementally: (position, line there).
        self.cursor_pos = 0
        self.cursor_line = 1
        self.eof = False

    def more(self) -> bool:
        """Read more text; drop what has been consumed. False at end of file."""
        if self.eof:
            return False
        raw = self.f.read(READ_BYTES)
        try:
            chunk = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise ParseFailure(f"not valid UTF-8 ({exc.reason})", self.line_at(self.pos)) from exc
        if not raw:
            self.eof = True
        self.cursor_line = self.line_at(self.pos)
        self.cursor_pos = 0
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def line_at(self, pos: int) -> int:
        if pos < self.cursor_pos:  # only error paths look backwards
            return self.cursor_line - self.text.count("\n", pos, self.cursor_pos)
        self.cursor_line += self.text.count("\n", self.cursor_pos, pos)
        self.cursor_pos = pos
        return self.cursor_line

    def skip_ws(self) -> None:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.text) or not self.more():
                return

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def decode_value(self) -> Any:
        """Decode one JSON value at the current position (bounded size)."""
        self.skip_ws()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.text) - self.pos > MAX_OBJECT_CHARS:
                    raise ParseFailure(
                        f"invalid JSON: {exc.msg}", self.line_at(min(exc.pos, len(self.text)))
                    ) from exc
                self.more()
                continue
            # A number or string may continue past the buffer's end.
            if end >= len(self.text) and not self.eof:
                self.more()
                continue
            self.pos = end
            return value


def parse_prometheus_json(f: BinaryIO) -> Iterator[ParsedSample | ParsedBatch | Reject]:
    buf = _Buffer(f)
    buf.more()
    if buf.peek() != "{":
        raise ParseFailure("not a Prometheus API response (expected a JSON object)", 1)
    labels: dict[str, str] = {}
    name = ""
    status = None
    seen_type = False
    while True:
        match = _KEY.search(buf.text, buf.pos)
        if match is None or match.end() >= len(buf.text):
            # Keep a tail that may hold the start of a key split by the read.
            keep = max(buf.pos, len(buf.text) - 64)
            buf.pos = keep
            if not buf.more():
                break
            continue
        key = match.group(1)
        buf.pos = match.end()
        if key == "status":
            status = buf.decode_value()
            if status != "success":
                continue
        elif key in ("error", "errorType"):
            message = buf.decode_value()
            if key == "error":
                raise ParseFailure(f"the Prometheus API answered an error: {message}")
        elif key == "resultType":
            result_type = buf.decode_value()
            seen_type = True
            if result_type not in ("matrix", "vector"):
                raise ParseFailure(
                    f"resultType {result_type!r} is not a time series (need matrix or vector)",
                    buf.line_at(buf.pos),
                )
        elif key in ("warnings", "infos"):
            buf.decode_value()
        elif key == "metric":
            line = buf.line_at(buf.pos)
            metric = buf.decode_value()
            if not isinstance(metric, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
            ):
                raise ParseFailure("a series' metric must be an object of strings", line)
            labels = metric
            name = metric.get("__name__", "")
        elif key in ("histograms", "histogram"):
            line = buf.line_at(buf.pos)
            buf.decode_value()
            yield Reject(line, f"native histograms are not supported (series {name or labels})")
        elif not seen_type:
            raise ParseFailure(
                "not a query or query_range response (no matrix or vector result)",
                buf.line_at(buf.pos),
            )
        elif key == "value":
            yield from _points(buf, name, labels, single=True)
        else:  # values
            yield from _points(buf, name, labels, single=False)
    if status is None:
        raise ParseFailure("not a Prometheus API response (no status)")
    if status != "success":
        raise ParseFailure(f"the Prometheus API answered status {status!r}")
    if not seen_type:
        raise ParseFailure("not a query or query_range response (no matrix or vector result)")


def _run(buf: _Buffer, name: str, labels: dict[str, str]) -> ParsedBatch | None:
    """The well-formed points from the current position on, as one batch;
    None when the next point is not one of them (the caller reads it alone)."""
    if len(buf.text) - buf.pos < RUN_MIN_CHARS and not buf.eof:
        buf.more()
    match = _RUN.match(buf.text, buf.pos)
    if match is None:
        return None
    start, end = buf.pos, match.end()
    pairs = _PAIR.findall(buf.text, start, end)
    try:
        ts = [float(t) for t, _ in pairs]
        values = [float(v) for _, v in pairs]
    except ValueError:
        return None  # one of them is not a number: point by point, with rejects
    line: int | list[int]
    if buf.text.find("\n", start, end) == -1:
        line = buf.line_at(start)  # the usual one-line response: computed once
    else:
        line = [buf.line_at(m.start()) for m in _PAIR.finditer(buf.text, start, end)]
    buf.pos = end
    return ParsedBatch(line, name, labels, ts, values)


def _points(
    buf: _Buffer, name: str, labels: dict[str, str], *, single: bool
) -> Iterator[ParsedSample | ParsedBatch | Reject]:
    """Points of one series: a list (``values``) or a single one (``value``)."""
    if not single:
        if buf.peek() != "[":
            raise ParseFailure("'values' must be a list of points", buf.line_at(buf.pos))
        buf.pos += 1
    while True:
        nxt = buf.peek()
        if not single and nxt == "]":
            buf.pos += 1
            return
        if nxt != "[":
            raise ParseFailure("truncated or invalid point list", buf.line_at(buf.pos))
        if not single and (batch := _run(buf, name, labels)) is not None:
            yield batch
            continue
        # A point is short; make sure the whole of it is in the buffer.
        if len(buf.text) - buf.pos < 512 and not buf.eof:
            buf.more()
        line = buf.line_at(buf.pos)
        match = _POINT.match(buf.text, buf.pos)
        if match is None:
            bad = buf.decode_value()
            yield Reject(line, f"invalid point {str(bad)[:80]}")
        else:
            buf.pos = match.end()
            try:
                ts = float(match.group(1))
                value = float(match.group(2))
            except ValueError:
                yield Reject(line, f"invalid point [{match.group(1)}, {match.group(2)!r}]")
            else:
                yield ParsedSample(line, name, name, "unknown", labels, value, ts)
        if single:
            return
        nxt = buf.peek()
        if nxt == ",":
            buf.pos += 1
        elif nxt != "]":
            raise ParseFailure("expected ',' or ']' in a point list", buf.line_at(buf.pos))
