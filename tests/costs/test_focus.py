"""The FOCUS reader (costs/focus.py): the real sample, the spec examples
and every quirk SOURCES.md lists, one test each. No database."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from costs.focus import (
    MANDATORY_COLUMNS,
    FocusFormatError,
    FocusReader,
    FocusReject,
    FocusRow,
    parse_datetime,
    parse_decimal,
    parse_tags,
)
from tests.conftest import SAMPLE_DATA

FOCUS = SAMPLE_DATA / "focus"
UTC = dt.UTC

HEADER = (
    "BilledCost,EffectiveCost,ListCost,ContractedCost,BillingCurrency,ChargeCategory,"
    "ChargeFrequency,ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,BillingPeriodEnd,"
    "ResourceId,ServiceName,SkuId,ProviderName,Tags"
)
PERIODS = "2024-09-18 22:00:00,2024-09-18 23:00:00,2024-09-01 00:00:00,2024-10-01 00:00:00"


def read_text(
    text: str, *, currency: str = "USD"
) -> tuple[FocusReader, list[FocusRow | FocusReject]]:
    reader = FocusReader(io.StringIO(text, newline=""), currency=currency)
    return reader, list(reader)


def read_path(path: Path) -> tuple[FocusReader, list[FocusRow | FocusReject]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = FocusReader(stream)
        return reader, list(reader)


def rows_of(items: list[FocusRow | FocusReject]) -> list[FocusRow]:
    return [item for item in items if isinstance(item, FocusRow)]


def rejects_of(items: list[FocusRow | FocusReject]) -> list[FocusReject]:
    return [item for item in items if isinstance(item, FocusReject)]


def one_row(**values: str) -> str:
    base = {
        "BilledCost": "1.5",
        "EffectiveCost": "1.25",
        "ListCost": "2",
        "ContractedCost": "1.5",
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ResourceId": "r-1",
        "ServiceName": "Compute",
        "SkuId": "SKU1",
        "ProviderName": "AWS",
        "Tags": "NULL",
    }
    base.update(values)
    cells = [base.get(name, "") for name in HEADER.split(",")]
    periods = PERIODS.split(",")
    cells[7:11] = [values.get(n, p) for n, p in zip(HEADER.split(",")[7:11], periods, strict=True)]
    return HEADER + "\n" + ",".join(cells) + "\n"


# The real sample and the spec examples ------------------------------------


@pytest.mark.sample_data
def test_the_real_sample_reads_every_row() -> None:
    reader, items = read_path(FOCUS / "focus_1.0_sample_1000.csv")
    rows = rows_of(items)
    assert rejects_of(items) == []
    assert len(rows) == 1000 and reader.read == 1000
    assert reader.version == "1.0"
    assert reader.missing_mandatory == []
    providers = {row.provider_name for row in rows}
    assert providers == {"AWS", "Microsoft", "Oracle"}
    assert sum(1 for row in rows if row.provider_name == "AWS") == 942
    # 13 credits, refunds and adjustments are negative.
    assert sum(1 for row in rows if row.billed_cost < 0 or row.effective_cost < 0) >= 1
    assert all(row.charge_period_start.tzinfo is UTC for row in rows)
    assert len({row.row_hash for row in rows}) == 1000


@pytest.mark.sample_data
def test_spec_examples_read_with_their_own_typo_rejected_by_line() -> None:
    files = sorted((FOCUS / "spec-examples").rglob("*.csv"))
    assert len(files) == 26
    rejects: dict[str, list[FocusReject]] = {}
    total_rows = 0
    for path in files:
        _, items = read_path(path)
        total_rows += len(rows_of(items))
        if rejects_of(items):
            rejects[path.name] = rejects_of(items)
    assert total_rows > 60
    # The spec's commitment purchase scenarios 2 and 3 end a period at
    # "2023-02-01T30:00:00Z" (hour 30): that row, and only it, is refused.
    assert sorted(rejects) == [
        "commitment_discount_purchase_scenario_2.csv",
        "commitment_discount_purchase_scenario_3.csv",
    ]
    for found in rejects.values():
        assert [(r.line, "ChargePeriodEnd is not a date/time" in r.reason) for r in found] == [
            (found[0].line, True)
        ]
        assert found[0].line >= 2


@pytest.mark.sample_data
def test_spec_examples_of_each_version_are_told_apart() -> None:
    base = FOCUS / "spec-examples" / "saas_examples"
    assert read_path(base / "virtual_currency_pricing_model_a2.csv")[0].version == "1.2"
    assert (
        read_path(base / "simple_agreements" / "simple_saas_agreements_c.csv")[0].version == "1.1"
    )


# Quirks ------------------------------------------------------------------


def test_null_literal_and_empty_field_are_both_null() -> None:
    _, items = read_text(one_row(ListCost="NULL", ContractedCost="", ResourceId="NULL", SkuId=""))
    (row,) = rows_of(items)
    assert row.list_cost is None and row.contracted_cost is None
    assert row.resource_id == "" and row.sku_id == ""


def test_space_separated_time_without_zone_is_utc() -> None:
    assert parse_datetime("2024-09-18 22:00:00") == dt.datetime(2024, 9, 18, 22, tzinfo=UTC)
    assert parse_datetime("2023-01-01T00:00:00Z") == dt.datetime(2023, 1, 1, tzinfo=UTC)
    assert parse_datetime("2023-01-01T02:00:00+02:00") == dt.datetime(2023, 1, 1, tzinfo=UTC)
    assert parse_datetime("2024-09-18") == dt.datetime(2024, 9, 18, tzinfo=UTC)


def test_us_short_dates_are_month_first() -> None:
    assert parse_datetime("5/1/25") == dt.datetime(2025, 5, 1, tzinfo=UTC)
    assert parse_datetime("12/31/2025") == dt.datetime(2025, 12, 31, tzinfo=UTC)
    assert parse_datetime("4/2/25 13:30") == dt.datetime(2025, 4, 2, 13, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date/time"):
        parse_datetime("13/1/25", column="ChargePeriodStart")


def test_quoted_and_fifteen_decimal_numbers_are_exact() -> None:
    text = one_row(BilledCost='"0.000000800000001"', EffectiveCost="0.00000080000")
    (row,) = rows_of(read_text(text)[1])
    assert row.billed_cost == Decimal("0.000000800000001")
    assert row.effective_cost == Decimal("0.0000008")
    assert isinstance(row.effective_cost, Decimal)


def test_finer_than_fifteen_places_rounds_half_even() -> None:
    (row,) = rows_of(read_text(one_row(BilledCost="0.0000000000000025"))[1])
    assert row.billed_cost == Decimal("0.000000000000002")


def test_negative_credits_stay_negative() -> None:
    (row,) = rows_of(
        read_text(one_row(ChargeCategory="Credit", BilledCost="-12.5", EffectiveCost="-12.5"))[1]
    )
    assert row.billed_cost == Decimal("-12.5") and row.charge_category == "Credit"


def test_dollar_signs_thousands_and_spaces_in_saas_money() -> None:
    assert parse_decimal("$10,000.00 ") == Decimal("10000.00")
    assert parse_decimal("(1,234.50)") == Decimal("-1234.50")
    assert parse_decimal("-$5") == Decimal("-5")
    with pytest.raises(ValueError, match="not a number"):
        parse_decimal("1,23,4")
    with pytest.raises(ValueError, match="finite"):
        parse_decimal("NaN")


def test_an_extra_id_column_and_custom_columns_are_ignored() -> None:
    text = HEADER + ",Id,x_Team\n" + one_row().splitlines()[1] + ",11472,ml\n"
    reader, items = read_text(text)
    assert len(rows_of(items)) == 1 and reader.columns[-2:] == ["Id", "x_Team"]


def test_json_tags_with_near_duplicate_keys_keep_the_exact_key() -> None:
    tags = parse_tags('{"env": "prod", "org": "trey", " org": "other", "Project": "Foo"}')
    assert tags == {"env": "prod", "org": "trey", "Project": "Foo"}
    # Whatever the order: the exact key wins over the spaced one.
    assert parse_tags('{" org": "other", "org": "trey"}') == {"org": "trey"}
    assert parse_tags('{"n": 12, "b": true, "z": null}') == {"n": "12", "b": "true", "z": ""}


def test_tags_in_a_csv_field_with_doubled_quotes() -> None:
    text = one_row(Tags='"{""application"": ""Lens"", "" org"": ""x""}"')
    (row,) = rows_of(read_text(text)[1])
    assert row.tags == {"application": "Lens", "org": "x"}


def test_tags_that_are_not_a_json_object_reject_the_row() -> None:
    items = read_text(one_row(Tags='"[1, 2]"'))[1] + read_text(one_row(Tags='"{oops"'))[1]
    assert [r.reason for r in rejects_of(items)] == [
        "Tags is not a JSON object",
        "Tags is not valid JSON",
    ]


def test_bom_and_crlf_read_like_plain_lf() -> None:
    plain = one_row()
    crlf = ("\ufeff" + plain).replace("\n", "\r\n").encode("utf-8")
    stream = io.TextIOWrapper(io.BytesIO(crlf), encoding="utf-8-sig", newline="")
    reader = FocusReader(stream)
    (row,) = rows_of(list(reader))
    assert reader.columns[0] == "BilledCost"
    assert row == rows_of(read_text(plain)[1])[0]


def test_a_bom_left_in_the_header_is_dropped() -> None:
    reader, items = read_text("\ufeff" + one_row())
    assert reader.columns[0] == "BilledCost" and len(rows_of(items)) == 1


def test_charge_frequency_and_category_casing_is_normalised() -> None:
    (row,) = rows_of(read_text(one_row(ChargeFrequency="Usage-based", ChargeCategory="usage"))[1])
    assert (row.charge_frequency, row.charge_category) == ("Usage-Based", "Usage")


# Refusals ----------------------------------------------------------------


def test_missing_mandatory_columns_are_named() -> None:
    with pytest.raises(FocusFormatError) as refused:
        FocusReader(io.StringIO("BilledCost,ChargeCategory,ServiceName\n1,Usage,x\n"))
    message = str(refused.value)
    for column in ("EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart"):
        assert column in message
    assert "BilledCost" not in message


def test_absent_optional_mandatory_columns_are_reported_not_refused() -> None:
    reader, items = read_text(one_row())
    assert len(rows_of(items)) == 1
    assert "BillingAccountId" in reader.missing_mandatory
    assert "BilledCost" not in reader.missing_mandatory
    assert set(reader.missing_mandatory) <= set(MANDATORY_COLUMNS)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(FocusFormatError, match="empty"):
        FocusReader(io.StringIO(""))


def test_other_currencies_are_refused_per_row_and_counted() -> None:
    lines = one_row().splitlines()
    eur = lines[1].replace(",USD,", ",EUR,")
    text = "\n".join([lines[0], lines[1], eur, eur]) + "\n"
    reader, items = read_text(text)
    assert len(rows_of(items)) == 1
    refused = rejects_of(items)
    assert [(r.line, r.currency) for r in refused] == [(3, True), (4, True)]
    assert "EUR is not the reporting currency USD" in refused[0].reason
    assert reader.currency_refused == 2 and reader.read == 3


def test_the_reporting_currency_is_a_parameter() -> None:
    reader, items = read_text(one_row(BillingCurrency="eur"), currency="EUR")
    assert len(rows_of(items)) == 1 and reader.currency_refused == 0


def test_bad_rows_are_rejected_with_their_line_and_the_rest_read() -> None:
    lines = one_row().splitlines()
    good = lines[1]
    text = (
        "\n".join(
            [
                lines[0],
                good,
                good.replace("1.25", "abc", 1),
                good.replace("Usage", "Refund", 1),
                "1,2,3",
                "",
                good.replace(",2024-09-18 23:00:00,", ",2024-09-18 21:00:00,", 1),
                good,
            ]
        )
        + "\n"
    )
    _, items = read_text(text)
    assert len(rows_of(items)) == 2
    assert [(r.line, r.reason) for r in rejects_of(items)] == [
        (3, "EffectiveCost is not a number: 'abc'"),
        (4, "ChargeCategory 'Refund' is not one of Usage, Purchase, Tax, Credit, Adjustment"),
        (5, "3 fields where the header has 16 columns"),
        (7, "ChargePeriodEnd is before ChargePeriodStart"),
    ]


def test_a_multiline_quoted_field_keeps_later_line_numbers_right() -> None:
    lines = one_row().splitlines()
    multiline = lines[1].replace(",NULL", ',"{""a"":\n""b""}"')
    text = "\n".join([lines[0], multiline, lines[1].replace("1.25", "x", 1)]) + "\n"
    _, items = read_text(text)
    assert rows_of(items)[0].tags == {"a": "b"}
    assert [r.line for r in rejects_of(items)] == [4]


def test_required_values_cannot_be_null() -> None:
    _, items = read_text(one_row(EffectiveCost="NULL"))
    assert [r.reason for r in rejects_of(items)] == ["EffectiveCost is empty"]


# Row hashes --------------------------------------------------------------


def test_row_hash_ignores_column_order_and_null_spelling() -> None:
    a = rows_of(read_text(one_row(ListCost="NULL"))[1])[0]
    b = rows_of(read_text(one_row(ListCost=""))[1])[0]
    header = HEADER.split(",")
    values = one_row(ListCost="NULL").splitlines()[1].split(",")
    reordered = ",".join(reversed(header)) + "\n" + ",".join(reversed(values)) + "\n"
    c = rows_of(read_text(reordered)[1])[0]
    assert a.row_hash == b.row_hash == c.row_hash


def test_identical_lines_of_one_file_are_distinct_rows() -> None:
    lines = one_row().splitlines()
    text = "\n".join([lines[0], lines[1], lines[1]]) + "\n"
    rows = rows_of(read_text(text)[1])
    assert len({row.row_hash for row in rows}) == 2
    again = rows_of(read_text(text)[1])
    assert [row.row_hash for row in rows] == [row.row_hash for row in again]
