"""Streaming parsers for metric files.

Every parser takes a binary file opened for reading and yields, in file
order, ``ParsedSample`` (a sample as the source wrote it), ``Reject`` (a
line that could not be used, with its number and the reason) or
``ParsedBatch`` (consecutive samples of one series, which the pipeline
checks and stores vectorised; ``expand()`` gives its ``ParsedSample``s). A file that
cannot be parsed as a whole (binary data, a JSON envelope reporting an error,
an OpenMetrics document that breaks the format) raises ``ParseFailure`` and
the import stores nothing.

Memory stays bounded whatever the file size: lines are read one at a time
(a line longer than ``MAX_LINE_BYTES`` is rejected and skipped without being
held), text formats are handed to ``prometheus_client`` in chunks of at most
``CHUNK_SAMPLE_LINES`` sample lines, and JSON is scanned with a sliding
buffer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_SAMPLE_LINES",
    "MAX_LINE_BYTES",
    "ParseFailure",
    "ParsedBatch",
    "ParsedSample",
    "Parser",
    "Reject",
    "get_parser",
    "iter_lines",
    "skip_long_line",
]

MAX_LINE_BYTES = 64 * 1024
CHUNK_SAMPLE_LINES = 5000
# Chunks end at this size too, so long lines cannot make a chunk of hundreds
# of megabytes (5000 lines of up to MAX_LINE_BYTES each).
CHUNK_BYTES = 4 * 1024 * 1024


class ParsedSample(NamedTuple):
    """A sample as written in the source, before mapping and validation.

    ``ts`` is Unix seconds or None (the scrape time applies). ``family`` and
    ``family_type`` come from ``# TYPE`` lines; formats without them repeat
    the sample name and say "unknown".
    """

    line: int
    name: str
    family: str
    family_type: str
    labels: dict[str, str]
    value: float
    ts: float | None


class ParsedBatch(NamedTuple):
    """Samples of one series (same name and labels) in file order: a run of
    consecutive ones (JSON), or a CSV chunk's rows of that series.

    ``line`` is the line of every sample (a one-line document) or a list
    with one line per sample.
    """

    line: int | list[int]
    name: str
    labels: dict[str, str]
    ts: list[float]
    values: list[float]

    def lines(self) -> list[int]:
        return self.line if isinstance(self.line, list) else [self.line] * len(self.ts)

    def expand(self) -> Iterator[ParsedSample]:
        name, labels = self.name, self.labels
        for line, ts, value in zip(self.lines(), self.ts, self.values, strict=True):
            yield ParsedSample(line, name, name, "unknown", labels, value, ts)


class Reject(NamedTuple):
    line: int
    reason: str


class ParseFailure(Exception):
    """The file as a whole is unusable; nothing of it is stored."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


Parser = Callable[[BinaryIO], Iterator[ParsedSample | ParsedBatch | Reject]]


def iter_lines(f: BinaryIO) -> Iterator[tuple[int, str | None, str]]:
    """Yield ``(line number, text, reject reason)`` for each line.

    ``text`` keeps its newline and is None when the line was rejected: longer
    than ``MAX_LINE_BYTES`` (the rest of it is read and dropped in bounded
    pieces) or not valid UTF-8.
    """
    lineno = 0
    readline = f.readline
    while True:
        raw = readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            yield lineno, None, skip_long_line(f, len(raw))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, None, f"not valid UTF-8 at byte {exc.start}"
            continue
        yield lineno, text, ""


def skip_long_line(f: BinaryIO, read: int) -> str:
    """Read and drop the rest of a line longer than ``MAX_LINE_BYTES`` (of
    which ``read`` bytes were read) in bounded pieces; the reject reason."""
    total = read
    while True:
        rest = f.readline(MAX_LINE_BYTES)
        total += len(rest)
        if not rest or rest.endswith(b"\n"):
            break
    return f"line longer than {MAX_LINE_BYTES} bytes ({total} bytes)"


def get_parser(fmt: str) -> Parser:
    """The parser for a concrete format (``ImportJob.Format`` value)."""
    from metrics.parsers import csv_long, promjson, text, textproc

    parsers: dict[str, Parser] = {
        "prometheus_text": textproc.parse_prometheus_text,
        "openmetrics": text.parse_openmetrics,
        "query_range_json": promjson.parse_prometheus_json,
        "csv": csv_long.parse_csv,
    }
    try:
        return parsers[fmt]
    except KeyError:
        raise ParseFailure(f"unknown format {fmt!r}") from None
