"""Recognise a metrics file: refuse binary data, then tell the format from
the content (used when the import says "auto")."""

from __future__ import annotations

import re
from typing import BinaryIO

from metrics.parsers import ParseFailure
from metrics.parsers.csv_long import HEADER, looks_like_header

__all__ = ["FOCUS_BILL_MESSAGE", "check_text", "detect_format", "is_csv_header", "refuse_bill"]

SNIFF_BYTES = 64 * 1024
_CLASSIC_COUNTER = re.compile(r"^# TYPE \S+_total counter\s*$", re.MULTILINE)
_JSON_START = re.compile(r'^(\{\s*"|\[)')
_CSV_FIRST_FIELD = re.compile(r"^\s*(\d{4}-\d\d-\d\d[T ][^,]*|\d+(\.\d+)?|)\s*,")
# Columns every FOCUS (FinOps) bill has; two of them are enough to tell.
FOCUS_COLUMNS = frozenset(
    {
        "billedcost",
        "effectivecost",
        "listcost",
        "chargeperiodstart",
        "chargeperiodend",
        "billingperiodstart",
        "billingaccountid",
        "billingcurrency",
        "chargecategory",
        "servicename",
    }
)
FOCUS_BILL_MESSAGE = (
    "This is a FOCUS bill (columns such as BilledCost and ChargePeriodStart), not a "
    "metrics file: upload it as a bill (Costs → Bills)."
)


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


def _first_line(f: BinaryIO) -> str:
    head = f.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    f.seek(0)
    return head.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()


def _cells(line: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(",")]


def is_csv_header(line: str) -> bool:
    """A comma-separated row of names (at least three): a CSV header."""
    if line.startswith("#") or line.count(",") < 2:
        return False
    return looks_like_header(line.split(","))


def refuse_bill(f: BinaryIO) -> None:
    """A FOCUS bill is refused whatever format was chosen: read as metrics
    it would be a thousand rejected lines."""
    line = _first_line(f)
    if (
        line.count(",") >= 2
        and len(FOCUS_COLUMNS.intersection(c.lower() for c in _cells(line))) >= 2
    ):
        raise ParseFailure(FOCUS_BILL_MESSAGE)


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
    ) or is_csv_header(first_line):
        return "csv"
    # Prometheus' own test data ends classic text with "# EOF" too; a
    # counter family named *_total is classic (OpenMetrics names the family
    # without the suffix).
    if _tail(f).rstrip().endswith(b"# EOF") and not _CLASSIC_COUNTER.search(head):
        return "openmetrics"
    return "prometheus_text"
