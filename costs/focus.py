"""FOCUS (FinOps Open Cost and Usage Specification) 1.0, 1.1 and 1.2 CSV
bills: a streaming reader and the column catalogue. Pure: no Django, no
ORM; the bill import service (``costs.services.bills``) feeds it a text
stream and stores what it yields.

The reader yields, row by row, either a typed :class:`FocusRow` (money as
``Decimal``, times as aware UTC ``datetime``) or a :class:`FocusReject`
naming the line the row starts on and why it was refused. A file the reader
cannot use at all (no header, a column it needs is missing) raises
:class:`FocusFormatError` naming what is missing, before any row is read.

What real files do, and what the reader makes of it (see
``../shared/data/focus/SOURCES.md``):

- nulls are the literal ``NULL`` (or ``null``) or an empty field: both read
  as null;
- times come as ``2024-09-18 22:00:00`` (space, no zone), as the spec's
  ``2023-01-01T00:00:00Z``, as a bare date, or as US short dates
  (``5/1/25``, month first) in the SaaS examples; a time without a zone is
  UTC, and every time is returned aware, in UTC;
- numbers are unquoted or quoted, with up to 15 decimal places, negative for
  credits, and in the SaaS examples as ``$10,000.00 `` (a dollar sign,
  thousands separators, a trailing space); money keeps 15 decimal places
  (:data:`MONEY_PLACES`): a finer digit is rounded half-even;
- unknown columns (the sample's ``Id``, ``x_`` custom columns) are ignored;
- ``Tags`` is a JSON object; keys are trimmed, and where two keys differ
  only by surrounding spaces (``"org"`` and ``" org"``) the exact key's
  value wins; non-string values become their JSON text;
- a UTF-8 BOM and CRLF line endings are read like plain LF files (the
  caller opens the stream with ``encoding="utf-8-sig", newline=""``);
- casing of ``ChargeCategory`` and ``ChargeFrequency`` varies
  (``Usage-based``): both are normalised to the spec's spelling.

Which columns a file must have. The spec's worked examples carry subsets of
the 21 columns FOCUS 1.0-1.2 make mandatory (:data:`MANDATORY_COLUMNS`), and
must import; so the reader requires only the mandatory columns without
which no row can be booked (:data:`REQUIRED_COLUMNS`: the costs, the charge
and billing periods, the charge category) and refuses a file missing any of
them, naming each. The other mandatory columns, when absent, are reported in
:attr:`FocusReader.missing_mandatory` and read as null; a file without
``BillingCurrency`` is taken to be in the reporting currency (and says so
there).

Currency. Rows whose ``BillingCurrency`` is not the reporting currency are
refused one by one (a reject with ``currency=True``) and counted in
:attr:`FocusReader.currency_refused`; nothing converts currencies.

Idempotency. Each row carries ``row_hash``: a SHA-256 of its values by
column name (column order and null spelling do not matter) and of its
occurrence number among identical rows of the same file, so the same file
imported twice gives the same hashes, while two identical lines of one file
are two rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TextIO

__all__ = [
    "CHARGE_CATEGORIES",
    "CHARGE_FREQUENCIES",
    "MANDATORY_COLUMNS",
    "MAPPABLE_COLUMNS",
    "MONEY_PLACES",
    "REQUIRED_COLUMNS",
    "FocusFormatError",
    "FocusReader",
    "FocusReject",
    "FocusRow",
    "parse_datetime",
    "parse_decimal",
    "parse_tags",
]

# The 21 columns FOCUS 1.0, 1.1 and 1.2 all make Mandatory (focus-columns.md).
MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
# The mandatory columns a row cannot be booked without: a file missing one
# is refused (every FOCUS sample and spec example has them).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
)
# Columns a bill mapping may match on (``BillMapping.column``).
MAPPABLE_COLUMNS: tuple[str, ...] = ("ResourceId", "ServiceName", "SkuId", "ProviderName", "Tags")
# Columns only later versions define, to tell the version apart.
_V11_COLUMNS = frozenset(
    {
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
    }
)
_V12_COLUMNS = frozenset(
    {
        "BillingAccountType",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "SubAccountType",
    }
)

CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES: tuple[str, ...] = ("One-Time", "Recurring", "Usage-Based")
_CATEGORY_BY_LOWER = {value.lower(): value for value in CHARGE_CATEGORIES}
_FREQUENCY_BY_LOWER = {value.lower(): value for value in CHARGE_FREQUENCIES}

MONEY_PLACES = 15
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
# |amount| below 10^13: what the bill row's DecimalField(28, 15) holds.
_MONEY_LIMIT = Decimal(10) ** 13
_NULLS = frozenset({"", "null", "NULL", "Null"})
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_TEXT_LIMIT = 2000


class FocusFormatError(ValueError):
    """The file as a whole cannot be read (no header, missing columns)."""


@dataclass(frozen=True)
class FocusReject:
    """A refused row: the line it starts on (1 is the header) and why.
    ``currency`` marks a refusal for its billing currency."""

    line: int
    reason: str
    currency: bool = False


@dataclass(frozen=True)
class FocusRow:
    """One bill row, typed. Text fields are "" when null; costs other than
    BilledCost and EffectiveCost are None when the file has no value."""

    line: int
    row_hash: str
    billed_cost: Decimal
    effective_cost: Decimal
    list_cost: Decimal | None
    contracted_cost: Decimal | None
    charge_period_start: dt.datetime
    charge_period_end: dt.datetime
    billing_period_start: dt.datetime
    billing_period_end: dt.datetime
    charge_category: str
    billing_currency: str
    charge_class: str = ""
    charge_frequency: str = ""
    charge_description: str = ""
    billing_account_id: str = ""
    resource_id: str = ""
    service_name: str = ""
    service_category: str = ""
    sku_id: str = ""
    provider_name: str = ""
    pricing_quantity: Decimal | None = None
    pricing_unit: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def column_value(self, column: str) -> str:
        """The text a bill mapping matches for one of :data:`MAPPABLE_COLUMNS`
        (``Tags`` is matched per key, see :meth:`tag`)."""
        return {
            "ResourceId": self.resource_id,
            "ServiceName": self.service_name,
            "SkuId": self.sku_id,
            "ProviderName": self.provider_name,
        }[column]


class _RowError(ValueError):
    """One field of one row is unreadable (message names the column)."""


def _null(value: str | None) -> bool:
    return value is None or value.strip() in _NULLS


def parse_decimal(value: str, *, column: str = "value") -> Decimal | None:
    """A FOCUS number as an exact Decimal, None for null. Accepts quotes
    (already removed by the CSV reader), surrounding spaces, a leading ``$``,
    thousands separators in groups of three and accounting parentheses for
    negatives; refuses NaN, infinities and anything else."""
    if _null(value):
        return None
    text = value.strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text.startswith("-$"):
        negative, text = not negative, text[2:]
    elif text.startswith("$"):
        text = text[1:].lstrip()
    if _GROUPED.match(text):
        text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _RowError(f"{column} is not a number: {value.strip()[:40]!r}") from None
    if not number.is_finite():
        raise _RowError(f"{column} is not a finite number: {value.strip()[:40]!r}")
    return -number if negative else number


def _money(value: str, column: str) -> Decimal | None:
    number = parse_decimal(value, column=column)
    if number is None:
        return None
    if abs(number) >= _MONEY_LIMIT:
        raise _RowError(f"{column} {number} is out of range (at most 13 integer digits)")
    if number.as_tuple().exponent < -MONEY_PLACES:  # type: ignore[operator]
        number = number.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    # normalize() would turn 100 into 1E+2; keep the plain value.
    return number + Decimal(0) if number == 0 else number


def parse_datetime(value: str, *, column: str = "value") -> dt.datetime | None:
    """A FOCUS time as an aware UTC datetime, None for null: ISO 8601 with
    ``T`` or a space, with ``Z``, an offset or no zone (UTC), a bare date,
    or a US short date ``M/D/YY`` or ``M/D/YYYY`` (optionally with a time)."""
    if _null(value):
        return None
    text = value.strip()
    us = _US_DATE.match(text)
    try:
        if us:
            month, day, year, hour, minute, second = us.groups()
            full_year = int(year) + (2000 if len(year) == 2 else 0)
            parsed = dt.datetime(
                full_year,
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
            )
        else:
            parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(f"{column} is not a date/time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_tags(value: str, *, column: str = "Tags") -> dict[str, str]:
    """A FOCUS ``Tags`` JSON object as {key: text}; {} for null.

    Keys are trimmed. Where two keys differ only by surrounding spaces (the
    Microsoft rows' ``"org"`` and ``" org"``) the one written without spaces
    wins; otherwise the later one does, as in JSON itself. Values that are
    not strings are kept as their JSON text (``true``, ``12``), null as "".
    """
    if _null(value):
        return {}
    try:
        pairs = json.loads(value, object_pairs_hook=list)
    except (json.JSONDecodeError, RecursionError):
        raise _RowError(f"{column} is not valid JSON") from None
    if not isinstance(pairs, list) or (pairs and not isinstance(pairs[0], tuple)):
        raise _RowError(f"{column} is not a JSON object")
    tags: dict[str, str] = {}
    exact: set[str] = set()
    for raw_key, raw_value in pairs:
        key = str(raw_key).strip()
        if raw_value is None:
            text = ""
        elif isinstance(raw_value, str):
            text = raw_value
        else:
            # Nested objects come back from the hook as lists of pairs.
            text = json.dumps(_plain(raw_value), sort_keys=True)
        is_exact = key == raw_key
        if key in tags and key in exact and not is_exact:
            continue
        tags[key] = text
        if is_exact:
            exact.add(key)
    return tags


def _plain(value: object) -> object:
    """Undo ``object_pairs_hook=list`` for nested values."""
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(k): _plain(v) for k, v in value}
        return [_plain(item) for item in value]
    return value


def _text(value: str | None) -> str:
    if _null(value):
        return ""
    assert value is not None
    return value.strip()[:_TEXT_LIMIT]


class FocusReader:
    """Streams one FOCUS CSV file.

    ``stream`` is a text stream opened with ``newline=""`` (and
    ``encoding="utf-8-sig"`` to drop a BOM; a BOM left in the first header
    is removed here too). The header is read on construction: a missing
    required column raises :class:`FocusFormatError`. Iterating yields one
    :class:`FocusRow` or :class:`FocusReject` per data row; empty lines are
    skipped. ``read`` counts the data rows seen, ``currency_refused`` those
    refused for their currency.
    """

    def __init__(self, stream: TextIO, *, currency: str = "USD") -> None:
        self.currency = currency.upper()
        self._reader = csv.reader(stream, strict=True)
        try:
            header = next(self._reader)
        except StopIteration:
            raise FocusFormatError("The file is empty: no FOCUS header row.") from None
        except csv.Error as exc:
            raise FocusFormatError(f"Line 1 is not CSV: {exc}.") from None
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        self.columns: list[str] = [name.strip() for name in header]
        present = set(self.columns)
        missing = [name for name in REQUIRED_COLUMNS if name not in present]
        if missing:
            raise FocusFormatError(
                "Not a FOCUS bill: missing mandatory column"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(missing)
                + "."
            )
        duplicated = sorted({name for name in self.columns if self.columns.count(name) > 1})
        if duplicated:
            raise FocusFormatError(f"Column repeated in the header: {', '.join(duplicated)}.")
        self.missing_mandatory: list[str] = [
            name for name in MANDATORY_COLUMNS if name not in present
        ]
        self.version = (
            "1.2" if present & _V12_COLUMNS else "1.1" if present & _V11_COLUMNS else "1.0"
        )
        self._index = {name: position for position, name in enumerate(self.columns)}
        self._seen: dict[bytes, int] = {}
        self.read = 0
        self.currency_refused = 0

    def __iter__(self) -> Iterator[FocusRow | FocusReject]:
        width = len(self.columns)
        while True:
            line = self._reader.line_num + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # A broken quote swallows the rest of the file: nothing
                # after it can be trusted, so it is one reject and the end.
                self.read += 1
                yield FocusReject(line, f"not valid CSV: {exc}")
                return
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            self.read += 1
            if len(values) != width:
                yield FocusReject(
                    line, f"{len(values)} fields where the header has {width} columns"
                )
                continue
            try:
                row = self._row(line, values)
            except _RowError as exc:
                yield FocusReject(line, str(exc))
                continue
            if row.billing_currency != self.currency:
                self.currency_refused += 1
                yield FocusReject(
                    line,
                    f"BillingCurrency {row.billing_currency} is not the reporting currency "
                    f"{self.currency}",
                    currency=True,
                )
                continue
            yield row

    def _get(self, values: list[str], column: str) -> str | None:
        position = self._index.get(column)
        return None if position is None else values[position]

    def _row(self, line: int, values: list[str]) -> FocusRow:
        get = self._get

        def required_money(column: str) -> Decimal:
            number = _money(get(values, column) or "", column)
            if number is None:
                raise _RowError(f"{column} is empty")
            return number

        def required_time(column: str) -> dt.datetime:
            moment = parse_datetime(get(values, column) or "", column=column)
            if moment is None:
                raise _RowError(f"{column} is empty")
            return moment

        billed = required_money("BilledCost")
        effective = required_money("EffectiveCost")
        list_cost = _money(get(values, "ListCost") or "", "ListCost")
        contracted = _money(get(values, "ContractedCost") or "", "ContractedCost")
        start = required_time("ChargePeriodStart")
        end = required_time("ChargePeriodEnd")
        if end < start:
            raise _RowError("ChargePeriodEnd is before ChargePeriodStart")
        billing_start = required_time("BillingPeriodStart")
        billing_end = required_time("BillingPeriodEnd")
        if billing_end < billing_start:
            raise _RowError("BillingPeriodEnd is before BillingPeriodStart")
        category_text = _text(get(values, "ChargeCategory"))
        category = _CATEGORY_BY_LOWER.get(category_text.lower())
        if category is None:
            raise _RowError(
                f"ChargeCategory {category_text[:40]!r} is not one of "
                + ", ".join(CHARGE_CATEGORIES)
            )
        frequency_text = _text(get(values, "ChargeFrequency"))
        frequency = _FREQUENCY_BY_LOWER.get(frequency_text.lower(), frequency_text)
        currency = _text(get(values, "BillingCurrency")).upper() or self.currency
        quantity = parse_decimal(get(values, "PricingQuantity") or "", column="PricingQuantity")
        if quantity is not None and quantity.as_tuple().exponent < -MONEY_PLACES:  # type: ignore[operator]
            quantity = quantity.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
        tags = parse_tags(get(values, "Tags") or "")
        return FocusRow(
            line=line,
            row_hash=self._hash(values),
            billed_cost=billed,
            effective_cost=effective,
            list_cost=list_cost,
            contracted_cost=contracted,
            charge_period_start=start,
            charge_period_end=end,
            billing_period_start=billing_start,
            billing_period_end=billing_end,
            charge_category=category,
            billing_currency=currency,
            charge_class=_text(get(values, "ChargeClass")),
            charge_frequency=frequency,
            charge_description=_text(get(values, "ChargeDescription")),
            billing_account_id=_text(get(values, "BillingAccountId")),
            resource_id=_text(get(values, "ResourceId")),
            service_name=_text(get(values, "ServiceName")),
            service_category=_text(get(values, "ServiceCategory")),
            sku_id=_text(get(values, "SkuId")),
            provider_name=_text(get(values, "ProviderName")),
            pricing_quantity=quantity,
            pricing_unit=_text(get(values, "PricingUnit")),
            tags=tags,
        )

    def _hash(self, values: list[str]) -> str:
        """Content hash by column name, nulls spelled one way, plus the
        occurrence number of this exact content in the file."""
        content = sorted(
            (name, None if _null(value) else value.strip())
            for name, value in zip(self.columns, values, strict=True)
        )
        digest = hashlib.sha256(
            json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
        ).digest()
        # 32-byte keys: about 100 bytes per distinct row of the file.
        occurrence = self._seen.get(digest, 0)
        self._seen[digest] = occurrence + 1
        return hashlib.sha256(digest + str(occurrence).encode()).hexdigest()
