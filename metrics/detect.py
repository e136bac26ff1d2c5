"""Recognise a metrics file: refuse binary data, then tell the format from
the content (used when the import says "auto")."""

from __future__ import annotations

import re
from typing import BinaryIO

from metrics.parsers import ParseFailure
from metrics.parsers.csv_long import HEADER

__all__ = ["check_text", "detect_format"]

SNIFF_BYTES = 64 * 1024
_CLASSIC_COUNTER = re.compile(r"^# TYPE \S+_total counter\s*$", re.MULTILINE)
_JSON_START = re.compile(r'^(\{\s*"|\[)')
_CSV_FIRST_FIELD = re.compile(r"^\s*(\d{4}-\d\d-\d\d[T ][^,]*|\d+(\.\d+)?|)\s*,")


def check_text(f: BinaryIO) -> None:
    """Fail when the start of the file is not UTF-8 text (a gzip, an image,
    UTF-16 ...). Later undecodable lines are rejected one by one."""
    head = f.read(SNIFF_BYTES)
    f.seek(0)
    if not head.strip():
        raise ParseFailure("the file is empty")
    if b"\x00\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseFailure("binary data or UTF-16 text, not a UTF-8 metrics file")
    try:
        # A multi-byte character may be cut at the end of the sniffed block.
        head.decode("utf-8") if len(head) < SNIFF_BYTES else head[:-4].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseFailure(
            f"not UTF-8 text (byte {exc.start} of the file); binary data or a wrong encoding"
        ) from exc
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > len(head) // 100 + 1:
        raise ParseFailure("binary data (control characters), not a metrics file")


def _tail(f: BinaryIO, size: int = 256) -> bytes:
    f.seek(0, 2)
    end = f.tell()
    f.seek(max(0, end - size))
    data = f.read()
    f.seek(0)
    return data


def detect_format(f: BinaryIO) -> str:
    """An ``ImportJob.Format`` value guessed from the content."""
    head = f.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    f.seek(0)
    stripped = head.lstrip()
    # promtool's dump starts with "{__name__=..." too: JSON has a quoted key.
    if _JSON_START.match(stripped):
        return "query_range_json"
    first_line = stripped.split("\n", 1)[0].strip()
    if [c.strip().lower() for c in first_line.split(",")[:2]] == list(HEADER[:2]):
        return "csv"
    if (
        not first_line.startswith("#")
        and _CSV_FIRST_FIELD.match(first_line)
        and first_line.count(",") >= 2
    ):
        return "csv"
    # Prometheus' own test data ends classic text with "# EOF" too; a
    # counter family named *_total is classic (OpenMetrics names the family
    # without the suffix).
    if _tail(f).rstrip().endswith(b"# EOF") and not _CLASSIC_COUNTER.search(head):
        return "openmetrics"
    return "prometheus_text"
