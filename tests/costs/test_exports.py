"""Finance exports (costs/exports.py): CSV and XLSX typing, OWASP formula
neutralisation, and the FOCUS-shaped CSV read back by the FOCUS reader.
No database."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from costs.exports import (
    FOCUS_EXPORT_COLUMNS,
    FOCUS_SERVICE_CATEGORY,
    Column,
    FocusExportContext,
    FocusExportLine,
    Sheet,
    iter_csv,
    neutralise,
    write_csv,
    write_focus_csv,
    write_xlsx,
)
from costs.focus import MANDATORY_COLUMNS, FocusReader, FocusRow

UTC = dt.UTC
HOSTILE = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", '=HYPERLINK("http://x","y")']
COLUMNS = [
    Column("Cost center"),
    Column("Amount", "money"),
    Column("Quantity", "number"),
    Column("Day", "date"),
    Column("At", "datetime"),
]


def table_rows() -> list[list[object]]:
    return [
        [
            name,
            Decimal("-12.345"),
            Decimal("3.5"),
            dt.date(2024, 9, 1),
            dt.datetime(2024, 9, 1, 12, tzinfo=UTC),
        ]
        for name in [*HOSTILE, "Plain team"]
    ]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_triggers_are_prefixed(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_ordinary_text_is_left_alone() -> None:
    assert neutralise("ML platform") == "ML platform"
    assert neutralise("") == ""
    assert neutralise("a=b") == "a=b"


def test_csv_neutralises_text_but_keeps_numbers_typed() -> None:
    out = io.StringIO()
    write_csv(out, COLUMNS, table_rows())  # type: ignore[arg-type]
    records = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert records[0] == ["Cost center", "Amount", "Quantity", "Day", "At"]
    names = [record[0] for record in records[1:]]
    assert names == ["'" + text for text in HOSTILE] + ["Plain team"]
    assert {record[1] for record in records[1:]} == {"-12.345"}  # a number, not "'-12.345"
    assert records[1][3:] == ["2024-09-01", "2024-09-01T12:00:00Z"]


def test_csv_header_is_neutralised_too_and_can_start_with_a_bom() -> None:
    chunks = list(iter_csv([Column("=bad")], [["x"]], bom=True))
    assert chunks[0] == "\ufeff'=bad\r\n"


def test_csv_refuses_a_float_in_a_money_column() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        list(iter_csv([Column("Amount", "money")], [[1.5]]))  # type: ignore[list-item]


def test_xlsx_neutralises_text_and_types_money_and_dates() -> None:
    out = io.BytesIO()
    write_xlsx(out, [Sheet("Showback 2024-09", COLUMNS, table_rows())], currency="USD")  # type: ignore[arg-type]
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2))
    # XML stores a carriage return as a newline; the prefix is what matters.
    expected = ["'" + text.replace("\r", "\n") for text in HOSTILE] + ["Plain team"]
    assert [row[0].value for row in rows] == expected
    assert all(row[0].data_type == "s" for row in rows)
    amount = rows[0][1]
    assert amount.data_type == "n" and amount.value == pytest.approx(-12.345)
    assert "$" in amount.number_format and "0.00" in amount.number_format
    assert rows[0][3].is_date and rows[0][3].value == dt.datetime(2024, 9, 1)
    assert rows[0][4].value == dt.datetime(2024, 9, 1, 12)
    assert sheet.cell(row=1, column=5).value == "At (UTC)"


def test_xlsx_currency_format_names_other_currencies() -> None:
    out = io.BytesIO()
    write_xlsx(out, [Sheet("x", [Column("Amount", "money")], [[Decimal("5")]])], currency="CHF")
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    assert "CHF" in sheet.cell(row=2, column=1).number_format


def _lines() -> list[FocusExportLine]:
    day = dt.datetime(2024, 9, 1, tzinfo=UTC)
    return [
        FocusExportLine(
            charge_period_start=day + dt.timedelta(days=n),
            charge_period_end=day + dt.timedelta(days=n + 1),
            amount=amount,
            backend="wse-1",
            backend_kind="wafer_scale",
            cost_center=center,
            pilot="Llama on WSE",
            phase="canary",
            line_kind=kind,
            pricing_quantity=Decimal("24"),
            pricing_unit="Device-Hours",
        )
        for n, (amount, center, kind) in enumerate(
            [
                (Decimal("1234.567890123456789"), "ML-100", "usage"),
                (Decimal("-10.50"), "=cmd|' /C calc'!A0", "usage"),
                (Decimal("99.99"), "PLATFORM", "idle"),
            ]
        )
    ]


def _context() -> FocusExportContext:
    return FocusExportContext(
        billing_period_start=dt.datetime(2024, 9, 1, tzinfo=UTC),
        billing_period_end=dt.datetime(2024, 10, 1, tzinfo=UTC),
    )


def test_focus_export_has_the_mandatory_columns_then_the_x_columns() -> None:
    out = io.StringIO()
    write_focus_csv(out, _lines(), _context())
    header, first, *_ = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert header[:21] == sorted(MANDATORY_COLUMNS, key=header.index)
    assert set(header[:21]) == set(MANDATORY_COLUMNS)
    assert header[21:] == [
        "x_Backend",
        "x_BackendKind",
        "x_CostCenter",
        "x_Pilot",
        "x_Phase",
        "x_LineKind",
    ]
    record = dict(zip(header, first, strict=True))
    assert record["ServiceCategory"] == FOCUS_SERVICE_CATEGORY == "AI and Machine Learning"
    assert record["ChargePeriodStart"] == "2024-09-01T00:00:00Z"
    assert record["BillingPeriodEnd"] == "2024-10-01T00:00:00Z"
    assert len(FOCUS_EXPORT_COLUMNS) == 27


def test_focus_export_round_trip_gives_the_same_totals() -> None:
    lines = _lines()
    out = io.StringIO()
    write_focus_csv(out, lines, _context())
    reader = FocusReader(io.StringIO(out.getvalue(), newline=""), currency="USD")
    items = list(reader)
    rows = [item for item in items if isinstance(item, FocusRow)]
    assert len(rows) == len(lines) and reader.missing_mandatory == []
    expected = sum((line.amount for line in lines), Decimal(0))
    assert sum((row.effective_cost for row in rows), Decimal(0)) == expected
    assert sum((row.billed_cost for row in rows), Decimal(0)) == expected
    assert sum((row.list_cost or Decimal(0) for row in rows), Decimal(0)) == expected
    assert [row.charge_period_start for row in rows] == [line.charge_period_start for line in lines]
    assert {row.service_category for row in rows} == {FOCUS_SERVICE_CATEGORY}


def test_focus_export_neutralises_hostile_names() -> None:
    out = io.StringIO()
    write_focus_csv(out, _lines(), _context())
    records = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert records[1]["x_CostCenter"] == "'=cmd|' /C calc'!A0"
    assert records[1]["BilledCost"] == "-10.50"
