"""Finance exports: CSV and XLSX tables, and the FOCUS-shaped CSV of
showback and statements (issue 10 §3 and §5). Pure: no Django, no ORM; the
views give it typed rows and a stream to write to.

A table is a list of :class:`Column` (name and kind) and rows of Python
values. Kinds decide how a cell is written:

- ``money``: a ``Decimal``; in CSV its plain digits, in XLSX a number with
  the currency's number format (never text, never float arithmetic here);
- ``number`` / ``integer``: numbers likewise, without a currency;
- ``date`` / ``datetime``: in CSV ISO 8601 (datetimes in UTC with ``Z``), in
  XLSX real dates (datetimes as UTC, the header says so);
- ``text``: a string, neutralised against formula injection.

Formula injection (OWASP "CSV Injection"): a text cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a
formula by a spreadsheet. :func:`neutralise` prefixes such a cell with a
single quote, so it is shown, never evaluated; XLSX text cells are also
stored explicitly as strings. Numbers are typed, so a negative amount is a
number, not a text starting with ``-``.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Literal, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

__all__ = [
    "FOCUS_EXPORT_COLUMNS",
    "FOCUS_MANDATORY_COLUMNS",
    "FOCUS_SERVICE_CATEGORY",
    "Column",
    "FocusExportContext",
    "FocusExportLine",
    "Sheet",
    "currency_format",
    "focus_export_table",
    "iso_z",
    "iter_csv",
    "neutralise",
    "write_csv",
    "write_focus_csv",
    "write_xlsx",
]

Kind = Literal["text", "money", "number", "integer", "date", "datetime"]
Cell = str | Decimal | int | dt.date | dt.datetime | None

# OWASP: cells beginning with these are interpreted as formulas.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def neutralise(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading ``'`` when it
    begins with a formula trigger (OWASP), unchanged otherwise."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def iso_z(moment: dt.datetime) -> str:
    """An aware time as ISO 8601 in UTC with ``Z`` (``2024-09-01T00:00:00Z``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: exports write aware UTC times only")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def currency_format(currency: str) -> str:
    """An Excel number format for amounts in ``currency`` (ISO 4217 code)."""
    symbol = _CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is not None:
        return f'"{symbol}"#,##0.00;-"{symbol}"#,##0.00'
    return f'#,##0.00 "{currency.upper()}";-#,##0.00 "{currency.upper()}"'


@dataclass(frozen=True)
class Column:
    """One column of an export: its header and how its cells are written."""

    name: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Sheet:
    """One XLSX worksheet: a title, columns and rows."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Cell]]


def _csv_cell(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if kind in ("money", "number", "integer"):
        if not isinstance(value, (Decimal, int)) or isinstance(value, bool):
            raise TypeError(f"a {kind} cell takes a Decimal or int, not {type(value).__name__}")
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if kind == "datetime":
        if not isinstance(value, dt.datetime):
            raise TypeError(f"a datetime cell takes a datetime, not {type(value).__name__}")
        return iso_z(value)
    if kind == "date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"a date cell takes a date, not {type(value).__name__}")
        return value.isoformat()
    return neutralise(str(value))


def iter_csv(
    columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, bom: bool = False
) -> Iterator[str]:
    """The CSV text of a table, one record per item (for a streaming
    response). ``bom``: start with a UTF-8 byte-order mark, which Excel
    needs to read UTF-8."""

    class _Line:
        value = ""

        def write(self, text: str) -> None:
            self.value = text

    line = _Line()
    writer = csv.writer(line, lineterminator="\r\n")
    writer.writerow([neutralise(column.name) for column in columns])
    yield ("\ufeff" if bom else "") + line.value
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells for {len(columns)} columns")
        writer.writerow(
            [_csv_cell(value, column.kind) for value, column in zip(row, columns, strict=True)]
        )
        yield line.value


def write_csv(
    out: TextIO, columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, bom: bool = False
) -> None:
    """Write a table as CSV (RFC 4180, CRLF) to a text stream."""
    for chunk in iter_csv(columns, rows, bom=bom):
        out.write(chunk)


def _xlsx_cell(sheet: object, value: Cell, kind: Kind, currency: str) -> WriteOnlyCell:
    if value is None:
        return WriteOnlyCell(sheet, value=None)
    if kind in ("money", "number", "integer"):
        if not isinstance(value, (Decimal, int)) or isinstance(value, bool):
            raise TypeError(f"a {kind} cell takes a Decimal or int, not {type(value).__name__}")
        cell = WriteOnlyCell(sheet, value=value)
        if kind == "money":
            cell.number_format = currency_format(currency)
        elif kind == "number":
            cell.number_format = "0.############"
        return cell
    if kind == "datetime":
        if not isinstance(value, dt.datetime):
            raise TypeError(f"a datetime cell takes a datetime, not {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: exports write aware UTC times only")
        # Excel has no time zones: the UTC wall time, the header says UTC.
        cell = WriteOnlyCell(sheet, value=value.astimezone(dt.UTC).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if kind == "date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"a date cell takes a date, not {type(value).__name__}")
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return _text_cell(sheet, str(value))


def _text_cell(sheet: object, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=neutralise(text))
    # A string, whatever openpyxl guessed from the value ("=..." is a formula to it).
    cell.data_type = "s"
    return cell


def _header(column: Column) -> str:
    return f"{column.name} (UTC)" if column.kind == "datetime" else column.name


def write_xlsx(out: IO[bytes], sheets: Sequence[Sheet], *, currency: str) -> None:
    """Write an XLSX workbook (streamed, openpyxl's write-only mode): one
    worksheet per :class:`Sheet`, a bold header row, typed cells."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=_sheet_title(sheet.title))
        header = []
        for column in sheet.columns:
            cell = _text_cell(worksheet, _header(column))
            cell.font = bold
            header.append(cell)
        worksheet.append(header)
        for row in sheet.rows:
            if len(row) != len(sheet.columns):
                raise ValueError(f"a row has {len(row)} cells for {len(sheet.columns)} columns")
            worksheet.append(
                [
                    _xlsx_cell(worksheet, value, column.kind, currency)
                    for value, column in zip(row, sheet.columns, strict=True)
                ]
            )
    workbook.save(out)


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\ .
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title).strip("'")
    return cleaned[:31] or "Sheet"


# ---------------------------------------------------------------------------
# FOCUS-shaped export
# ---------------------------------------------------------------------------

FOCUS_MANDATORY_COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", "money"),
    Column("BillingAccountId"),
    Column("BillingAccountName"),
    Column("BillingCurrency"),
    Column("BillingPeriodStart", "datetime"),
    Column("BillingPeriodEnd", "datetime"),
    Column("ChargeCategory"),
    Column("ChargeClass"),
    Column("ChargeDescription"),
    Column("ChargePeriodStart", "datetime"),
    Column("ChargePeriodEnd", "datetime"),
    Column("ContractedCost", "money"),
    Column("EffectiveCost", "money"),
    Column("InvoiceIssuerName"),
    Column("ListCost", "money"),
    Column("PricingQuantity", "number"),
    Column("PricingUnit"),
    Column("ProviderName"),
    Column("PublisherName"),
    Column("ServiceCategory"),
    Column("ServiceName"),
)
FOCUS_EXTRA_COLUMNS: tuple[Column, ...] = (
    Column("x_Backend"),
    Column("x_BackendKind"),
    Column("x_CostCenter"),
    Column("x_Pilot"),
    Column("x_Phase"),
    Column("x_LineKind"),
)
FOCUS_EXPORT_COLUMNS: tuple[Column, ...] = FOCUS_MANDATORY_COLUMNS + FOCUS_EXTRA_COLUMNS
# The FOCUS ServiceCategory of inference (allowed values, FOCUS 1.0-1.2).
FOCUS_SERVICE_CATEGORY = "AI and Machine Learning"


@dataclass(frozen=True)
class FocusExportContext:
    """What is the same on every line of one export: the (internal) billing
    account and issuer, the reporting currency and the billing period
    (a month: start inclusive, end exclusive, aware UTC)."""

    billing_period_start: dt.datetime
    billing_period_end: dt.datetime
    currency: str = "USD"
    billing_account_id: str = "pilotgate"
    billing_account_name: str = "PilotGate showback"
    invoice_issuer_name: str = "PilotGate"
    provider_name: str = "PilotGate"


@dataclass(frozen=True)
class FocusExportLine:
    """One charge: an amount for a backend and cost center over a charge
    period (aware UTC). ``list_cost`` and ``contracted_cost`` default to the
    amount (an internal charge has no discount); ``line_kind`` is the
    allocation's (usage, idle, shadow, unmapped)."""

    charge_period_start: dt.datetime
    charge_period_end: dt.datetime
    amount: Decimal
    backend: str
    backend_kind: str
    cost_center: str
    service_name: str = ""
    publisher_name: str = ""
    pilot: str = ""
    phase: str = ""
    line_kind: str = "usage"
    description: str = ""
    pricing_quantity: Decimal | None = None
    pricing_unit: str = ""
    list_cost: Decimal | None = None
    contracted_cost: Decimal | None = None
    charge_category: str = "Usage"
    charge_class: str = ""


def focus_export_table(
    lines: Iterable[FocusExportLine], context: FocusExportContext
) -> Iterator[list[Cell]]:
    """The rows of a FOCUS-shaped export, in :data:`FOCUS_EXPORT_COLUMNS` order."""
    for line in lines:
        if line.charge_period_end < line.charge_period_start:
            raise ValueError("a charge period cannot end before it starts")
        yield [
            line.amount,
            context.billing_account_id,
            context.billing_account_name,
            context.currency,
            context.billing_period_start,
            context.billing_period_end,
            line.charge_category,
            line.charge_class or None,
            line.description or None,
            line.charge_period_start,
            line.charge_period_end,
            line.contracted_cost if line.contracted_cost is not None else line.amount,
            line.amount,
            context.invoice_issuer_name,
            line.list_cost if line.list_cost is not None else line.amount,
            line.pricing_quantity,
            line.pricing_unit or None,
            context.provider_name,
            line.publisher_name or context.provider_name,
            FOCUS_SERVICE_CATEGORY,
            line.service_name or line.backend,
            line.backend,
            line.backend_kind,
            line.cost_center,
            line.pilot or None,
            line.phase or None,
            line.line_kind,
        ]


def write_focus_csv(
    out: TextIO, lines: Iterable[FocusExportLine], context: FocusExportContext
) -> None:
    """Write the FOCUS-shaped CSV: the 21 mandatory FOCUS columns with ISO
    ``Z`` times, then the ``x_`` columns PilotGate adds."""
    write_csv(out, FOCUS_EXPORT_COLUMNS, focus_export_table(lines, context))
