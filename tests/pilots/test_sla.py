"""SLA compliance on worked examples: due times, status, hours late, month
assignment, availability, uptime breaches and capped credits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilots.sla import (
    CreditBasis,
    FeePeriod,
    Incident,
    IncidentKind,
    IncidentStatus,
    SlaTerms,
    assess,
    compliance,
    due_at,
    month_label,
    month_range,
    monthly_fee,
    notice_date,
)

UTC = dt.UTC


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def rma(opened: dt.datetime, resolved: dt.datetime | None = None) -> Incident:
    return Incident(kind=IncidentKind.RMA, opened_at=opened, resolved_at=resolved)


def outage(opened: dt.datetime, resolved: dt.datetime | None = None) -> Incident:
    return Incident(kind=IncidentKind.OUTAGE, opened_at=opened, resolved_at=resolved)


TERMS = SlaTerms(replacement_hours=4, response_hours=1, patch_window_days=14)
LATER = at(30, month=6)  # a "now" long after every example


# Due times -----------------------------------------------------------------


def test_rma_is_due_replacement_hours_after_opening() -> None:
    assert due_at(TERMS, rma(at(2, 10))) == at(2, 14)


def test_support_request_is_due_response_hours_after_opening() -> None:
    incident = Incident(kind=IncidentKind.SUPPORT_REQUEST, opened_at=at(2, 10, 30))
    assert due_at(TERMS, incident) == at(2, 11, 30)


def test_security_patch_is_due_patch_window_days_after_release() -> None:
    incident = Incident(kind=IncidentKind.SECURITY_PATCH, opened_at=at(2, 10))
    assert due_at(TERMS, incident) == at(16, 10)


def test_fractional_hours_are_exact() -> None:
    terms = SlaTerms(replacement_hours=Decimal("4.5"))
    assert due_at(terms, rma(at(2, 10))) == at(2, 14, 30)


def test_kind_without_its_term_is_not_measured() -> None:
    terms = SlaTerms(replacement_hours=4)
    patch = Incident(kind=IncidentKind.SECURITY_PATCH, opened_at=at(2))
    assert due_at(terms, patch) is None
    assert assess(terms, patch, now=LATER) is None


def test_outage_is_never_measured_as_an_incident() -> None:
    assert due_at(TERMS, outage(at(2))) is None


# Status and hours late -----------------------------------------------------


def test_resolved_exactly_on_due_is_met() -> None:
    a = assess(TERMS, rma(at(2, 10), at(2, 14)), now=LATER)
    assert a is not None
    assert (a.status, a.hours_late) == (IncidentStatus.MET, 0)


def test_one_second_late_is_one_hour_late() -> None:
    a = assess(TERMS, rma(at(2, 10), at(2, 14, 0, 1)), now=LATER)
    assert a is not None
    assert (a.status, a.hours_late) == (IncidentStatus.BREACHED, 1)


def test_hours_late_are_started_hours() -> None:
    exactly_two = assess(TERMS, rma(at(2, 10), at(2, 16)), now=LATER)
    just_over_two = assess(TERMS, rma(at(2, 10), at(2, 16, 0, 1)), now=LATER)
    assert exactly_two is not None and just_over_two is not None
    assert (exactly_two.hours_late, just_over_two.hours_late) == (2, 3)


def test_unresolved_before_due_is_open() -> None:
    a = assess(TERMS, rma(at(2, 10)), now=at(2, 14))
    assert a is not None
    assert (a.status, a.hours_late) == (IncidentStatus.OPEN, 0)


def test_unresolved_after_due_is_breached_and_late_until_now() -> None:
    a = assess(TERMS, rma(at(2, 10)), now=at(2, 16, 30))
    assert a is not None
    assert (a.status, a.hours_late) == (IncidentStatus.BREACHED, 3)


def test_resolved_before_due_is_met_even_when_now_is_past_due() -> None:
    a = assess(TERMS, rma(at(2, 10), at(2, 11)), now=LATER)
    assert a is not None
    assert a.status is IncidentStatus.MET


def test_rejects_naive_datetimes_and_resolution_before_opening() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Incident(kind=IncidentKind.RMA, opened_at=dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="before"):
        rma(at(2, 10), at(2, 9))
    with pytest.raises(ValueError):
        Incident(kind="firmware", opened_at=at(2))  # type: ignore[arg-type]


# Months and compliance ------------------------------------------------------


def test_incident_belongs_to_the_month_of_its_due_time() -> None:
    # Opened on 31 March at 22:00, due on 1 April at 02:00: an April incident.
    late_night = rma(at(31, 22), at(1, 3, month=4))
    report = compliance(TERMS, [late_night], months=[(2026, 3), (2026, 4)], now=LATER)
    march, april = report.months
    assert (march.month, march.measured, march.breached) == ("2026-03", 0, 0)
    assert (april.month, april.measured, april.breached) == ("2026-04", 1, 1)


def test_due_month_is_taken_in_utc() -> None:
    berlin = dt.timezone(dt.timedelta(hours=2))
    # Due 1 April 01:00 in UTC+2, which is 31 March 23:00 UTC: a March incident.
    incident = rma(dt.datetime(2026, 4, 1, 1, tzinfo=berlin) - dt.timedelta(hours=4))
    report = compliance(TERMS, [incident], months=[(2026, 3), (2026, 4)], now=LATER)
    assert [m.measured for m in report.months] == [1, 0]


def test_incidents_outside_the_range_are_ignored() -> None:
    report = compliance(TERMS, [rma(at(2, 10, month=1))], months=[(2026, 3)], now=LATER)
    assert report.total.measured == 0


def test_compliance_counts_open_as_measured_but_not_decided() -> None:
    now = at(20, 12)
    incidents = [
        rma(at(2, 10), at(2, 12)),  # met
        rma(at(3, 10), at(3, 15)),  # breached, 1 h late
        rma(at(4, 10), at(4, 13)),  # met
        rma(at(20, 10)),  # open: due 14:00, now 12:00
    ]
    (march,) = compliance(TERMS, incidents, months=[(2026, 3)], now=now).months
    assert (march.measured, march.met, march.breached) == (4, 2, 1)
    assert march.compliance_percent == pytest.approx(200 / 3)
    assert march.hours_late == 1


def test_compliance_is_none_when_nothing_is_decided() -> None:
    (march,) = compliance(TERMS, [rma(at(20, 10))], months=[(2026, 3)], now=at(20, 11)).months
    assert (march.measured, march.compliance_percent) == (1, None)


def test_total_sums_months_and_recomputes_compliance() -> None:
    incidents = [
        rma(at(2, 10), at(2, 12)),  # March met
        rma(at(2, 10, month=4), at(2, 20, month=4)),  # April breached
        rma(at(3, 10, month=4), at(3, 11, month=4)),  # April met
        rma(at(4, 10, month=4), at(4, 11, month=4)),  # April met
    ]
    report = compliance(TERMS, incidents, months=month_range((2026, 3), (2026, 4)), now=LATER)
    assert [m.compliance_percent for m in report.months] == [100.0, pytest.approx(200 / 3)]
    assert (report.total.measured, report.total.met, report.total.breached) == (4, 3, 1)
    assert report.total.compliance_percent == 75.0


def test_rejects_empty_or_repeated_months() -> None:
    with pytest.raises(ValueError, match="empty"):
        compliance(TERMS, [], months=[], now=LATER)
    with pytest.raises(ValueError, match="repeat"):
        compliance(TERMS, [], months=[(2026, 3), (2026, 3)], now=LATER)
    with pytest.raises(ValueError, match="not a month"):
        compliance(TERMS, [], months=[(2026, 13)], now=LATER)


# Availability ----------------------------------------------------------------


def test_availability_is_100_without_outages() -> None:
    report = compliance(TERMS, [], months=[(2026, 3)], now=LATER)
    assert report.months[0].availability_percent == 100.0
    assert report.total.availability_percent == 100.0


def test_overlapping_outages_are_merged() -> None:
    # 10:00-14:00 and 12:00-16:00 overlap: 6 h down, not 8. April has 720 h.
    outages = [
        outage(at(2, 10, month=4), at(2, 14, month=4)),
        outage(at(2, 12, month=4), at(2, 16, month=4)),
        outage(at(2, 13, month=4), at(2, 13, 30, month=4)),  # inside the first
    ]
    (april,) = compliance(TERMS, outages, months=[(2026, 4)], now=LATER).months
    assert april.availability_percent == pytest.approx((1 - 6 / 720) * 100)


def test_outages_are_clipped_to_the_month() -> None:
    # 31 March 20:00 to 1 April 04:00: 4 h in March (744 h), 4 h in April (720 h).
    across = outage(at(31, 20), at(1, 4, month=4))
    report = compliance(TERMS, [across], months=[(2026, 3), (2026, 4)], now=LATER)
    march, april = report.months
    assert march.availability_percent == pytest.approx((1 - 4 / 744) * 100)
    assert april.availability_percent == pytest.approx((1 - 4 / 720) * 100)
    assert report.total.availability_percent == pytest.approx((1 - 8 / 1464) * 100)


def test_open_outage_runs_to_now() -> None:
    (march,) = compliance(TERMS, [outage(at(2, 10))], months=[(2026, 3)], now=at(2, 13)).months
    assert march.availability_percent == pytest.approx((1 - 3 / 744) * 100)


def test_open_outage_runs_to_month_end_when_now_is_later() -> None:
    report = compliance(
        TERMS, [outage(at(31, 20))], months=[(2026, 3), (2026, 4)], now=at(1, 2, month=4)
    )
    march, april = report.months
    assert march.availability_percent == pytest.approx((1 - 4 / 744) * 100)
    assert april.availability_percent == pytest.approx((1 - 2 / 720) * 100)


def test_outages_do_not_count_among_measured_incidents() -> None:
    (march,) = compliance(TERMS, [outage(at(2), at(3))], months=[(2026, 3)], now=LATER).months
    assert (march.measured, march.breached) == (0, 0)


# Credits ---------------------------------------------------------------------

FEE = Decimal("10000")


def test_per_breach_credit_is_percent_of_fee_per_breach() -> None:
    terms = SlaTerms(replacement_hours=4, credit_percent=5, fee=FEE)
    incidents = [rma(at(2, 10), at(2, 15)), rma(at(3, 10), at(3, 20)), rma(at(4, 10), at(4, 11))]
    (march,) = compliance(terms, incidents, months=[(2026, 3)], now=LATER).months
    assert march.breached == 2
    assert march.credits == Decimal("1000.00")


def test_uptime_breach_counts_one_more_breach() -> None:
    # 99.9 % of April's 720 h allows 0.72 h (43 min 12 s) of downtime.
    terms = SlaTerms(replacement_hours=4, uptime_percent=Decimal("99.9"), credit_percent=5, fee=FEE)
    incidents = [
        rma(at(2, 10, month=4), at(2, 15, month=4)),  # breached
        outage(at(5, 10, month=4), at(5, 11, month=4)),  # 1 h down
    ]
    (april,) = compliance(terms, incidents, months=[(2026, 4)], now=LATER).months
    assert april.uptime_breached
    assert april.breached == 1  # the uptime breach counts for credits only
    assert april.credits == Decimal("1000.00")


def test_downtime_exactly_at_the_allowance_is_no_breach() -> None:
    terms = SlaTerms(uptime_percent=Decimal("99.9"), credit_percent=5, fee=FEE)
    down = outage(at(5, 10, month=4), at(5, 10, 43, 12, month=4))
    (april,) = compliance(terms, [down], months=[(2026, 4)], now=LATER).months
    assert april.availability_percent == pytest.approx(99.9)
    assert not april.uptime_breached
    assert april.credits == Decimal("0.00")


def test_per_hour_late_counts_started_hours_of_incidents_and_downtime_beyond_allowance() -> None:
    # 99 % of April allows 7.2 h; 10 h down is 2.8 h beyond: 3 started hours.
    terms = SlaTerms(
        replacement_hours=4,
        uptime_percent=99,
        credit_percent=1,
        credit_basis=CreditBasis.PER_HOUR_LATE,
        fee=FEE,
    )
    incidents = [
        rma(at(2, 10, month=4), at(2, 16, 30, month=4)),  # 2.5 h late: 3 hours
        rma(at(3, 10, month=4), at(3, 14, 0, 1, month=4)),  # 1 s late: 1 hour
        outage(at(5, 0, month=4), at(5, 10, month=4)),
    ]
    (april,) = compliance(terms, incidents, months=[(2026, 4)], now=LATER).months
    assert april.hours_late == 4
    assert april.uptime_breached
    # (4 + 3) hours × 1 % × 10 000
    assert april.credits == Decimal("700.00")


def test_a_month_below_uptime_without_any_incident_owes_one_breach() -> None:
    # 99.9 % of April's 720 h allows 43 min 12 s; 44 min is below the term.
    terms = SlaTerms(uptime_percent=Decimal("99.9"), credit_percent=5, fee=FEE)
    down = outage(at(5, 10, month=4), at(5, 10, 44, month=4))
    (april,) = compliance(terms, [down], months=[(2026, 4)], now=LATER).months
    assert (april.uptime_breached, april.breached, april.measured) == (True, 0, 0)
    assert april.compliance_percent is None  # no incident decided
    assert april.credits == Decimal("500.00")  # one breach × 5 % of 10,000


def test_per_hour_late_downtime_is_started_hours_beyond_the_allowance() -> None:
    # 99 % of April allows 7.2 h: 8 h down is 0.8 h beyond (1 started hour),
    # 7.2 h down is none, 7 h 13 min is 1 minute beyond (1 started hour).
    terms = SlaTerms(
        uptime_percent=99, credit_percent=2, credit_basis=CreditBasis.PER_HOUR_LATE, fee=FEE
    )

    def credits(minutes: int) -> tuple[bool, Decimal]:
        down = outage(at(5, 0, month=4), at(5, 0, month=4) + dt.timedelta(minutes=minutes))
        (april,) = compliance(terms, [down], months=[(2026, 4)], now=LATER).months
        return april.uptime_breached, april.credits

    assert credits(8 * 60) == (True, Decimal("200.00"))
    assert credits(432) == (False, Decimal("0.00"))
    assert credits(433) == (True, Decimal("200.00"))
    # 30 h down: 22.8 h beyond, 23 started hours × 2 % = 46 % of the fee.
    assert credits(30 * 60) == (True, Decimal("4600.00"))


def test_per_hour_late_with_downtime_is_capped() -> None:
    # 23 started hours of downtime beyond the allowance plus 3 hours late on
    # an RMA: 26 × 2 % = 52 %, capped at 25 % of the monthly fee.
    terms = SlaTerms(
        replacement_hours=4,
        uptime_percent=99,
        credit_percent=2,
        credit_basis=CreditBasis.PER_HOUR_LATE,
        credit_cap_percent=25,
        fee=Decimal("12000"),
        fee_period=FeePeriod.YEARLY,
    )
    incidents = [
        rma(at(2, 10, month=4), at(2, 16, 30, month=4)),
        outage(at(5, 0, month=4), at(6, 6, month=4)),
    ]
    (april,) = compliance(terms, incidents, months=[(2026, 4)], now=LATER).months
    assert (april.hours_late, april.uptime_breached) == (3, True)
    assert april.credits == Decimal("250.00")  # 25 % of 12,000 / 12


def test_credits_are_capped_per_month() -> None:
    terms = SlaTerms(replacement_hours=4, credit_percent=5, credit_cap_percent=8, fee=FEE)
    march_breaches = [rma(at(d, 10), at(d, 20)) for d in (2, 3, 4)]  # 15 %, capped at 8 %
    april_breach = [rma(at(2, 10, month=4), at(2, 20, month=4))]  # 5 %
    report = compliance(
        terms, march_breaches + april_breach, months=[(2026, 3), (2026, 4)], now=LATER
    )
    assert [m.credits for m in report.months] == [Decimal("800.00"), Decimal("500.00")]
    assert report.total.credits == Decimal("1300.00")


def test_yearly_fee_is_credited_by_its_twelfth() -> None:
    terms = SlaTerms(
        replacement_hours=4, credit_percent=10, fee=Decimal("1000"), fee_period=FeePeriod.YEARLY
    )
    (march,) = compliance(terms, [rma(at(2, 10), at(2, 20))], months=[(2026, 3)], now=LATER).months
    # 10 % of 83.333… = 8.3333… → 8.33
    assert march.credits == Decimal("8.33")
    assert monthly_fee(Decimal("1200"), "yearly") == Decimal("100")


def test_yearly_credits_are_rounded_once_per_month_from_the_exact_share() -> None:
    # Three breaches at 10 % of 1000 / 12 are exactly 25.00, not 3 × 8.33.
    terms = SlaTerms(
        replacement_hours=4, credit_percent=10, fee=Decimal("1000"), fee_period=FeePeriod.YEARLY
    )
    incidents = [rma(at(d, 10), at(d, 20)) for d in (2, 3, 4)]
    (march,) = compliance(terms, incidents, months=[(2026, 3)], now=LATER).months
    assert march.credits == Decimal("25.00")


def test_credits_round_half_to_even_cents() -> None:
    # 0.5 % of 1.01 = 0.00505 → 0.01; 0.5 % of 3.00 = 0.015 → 0.02; of 1.00 = 0.005 → 0.00.
    def credit(fee: str) -> Decimal:
        terms = SlaTerms(replacement_hours=4, credit_percent=Decimal("0.5"), fee=Decimal(fee))
        report = compliance(terms, [rma(at(2, 10), at(2, 20))], months=[(2026, 3)], now=LATER)
        return report.months[0].credits

    assert (credit("1.01"), credit("3.00"), credit("1.00")) == (
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("0.00"),
    )


def test_one_off_fee_and_missing_terms_owe_no_credits() -> None:
    breach = [rma(at(2, 10), at(2, 20))]
    for terms in (
        SlaTerms(replacement_hours=4, credit_percent=5, fee=FEE, fee_period=FeePeriod.ONE_OFF),
        SlaTerms(replacement_hours=4, credit_percent=5),
        SlaTerms(replacement_hours=4, fee=FEE),
    ):
        (march,) = compliance(terms, breach, months=[(2026, 3)], now=LATER).months
        assert (march.breached, march.credits) == (1, Decimal("0.00"))
    assert monthly_fee(FEE, FeePeriod.ONE_OFF) == 0


def test_to_dict_gives_exactly_the_api_fields() -> None:
    report = compliance(TERMS, [rma(at(2, 10), at(2, 12))], months=[(2026, 3)], now=LATER)
    data = report.to_dict()
    assert data["months"] == [
        {
            "month": "2026-03",
            "measured": 1,
            "met": 1,
            "breached": 0,
            "compliance_percent": 100.0,
            "availability_percent": 100.0,
            "credits": Decimal("0.00"),
        }
    ]
    assert set(data["total"]) == set(data["months"][0]) - {"month"}


# Helpers ----------------------------------------------------------------------


def test_notice_date_is_notice_days_before_the_end() -> None:
    assert notice_date(dt.date(2026, 12, 31), 90) == dt.date(2026, 10, 2)


def test_month_range_crosses_the_year() -> None:
    assert month_range((2025, 11), (2026, 2)) == [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]
    assert month_label((2026, 3)) == "2026-03"
    with pytest.raises(ValueError, match="before"):
        month_range((2026, 3), (2026, 2))


def test_model_choice_strings_are_converted_to_the_enums() -> None:
    incident = Incident(kind="rma", opened_at=at(2))  # type: ignore[arg-type]
    terms = SlaTerms(credit_basis="per_hour_late", fee_period="yearly")  # type: ignore[arg-type]
    assert incident.kind is IncidentKind.RMA
    assert (terms.credit_basis, terms.fee_period) == (CreditBasis.PER_HOUR_LATE, FeePeriod.YEARLY)


def test_rejects_invalid_terms() -> None:
    with pytest.raises(ValueError, match="negative"):
        SlaTerms(replacement_hours=-1)
    with pytest.raises(ValueError, match="uptime"):
        SlaTerms(uptime_percent=101)
    with pytest.raises(ValueError):
        SlaTerms(credit_basis="per_minute")  # type: ignore[arg-type]


# Properties -------------------------------------------------------------------

offsets = st.integers(min_value=0, max_value=90 * 24 * 3600)


@given(
    spans=st.lists(
        st.tuples(offsets, st.integers(min_value=0, max_value=5 * 24 * 3600)), max_size=8
    )
)
def test_availability_matches_a_minute_by_minute_count(spans: list[tuple[int, int]]) -> None:
    """Merged, clipped downtime equals the set of down minutes counted directly
    (spans in whole minutes, so the direct count stays small)."""
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    minute_spans = [(s // 60, (s + length) // 60) for s, length in spans]
    outages = [
        outage(start + dt.timedelta(minutes=a), start + dt.timedelta(minutes=b))
        for a, b in minute_spans
    ]
    months = [(2026, 3), (2026, 4), (2026, 5)]
    report = compliance(SlaTerms(), outages, months=months, now=LATER)
    bounds = [0, 31 * 1440, 61 * 1440, 92 * 1440]
    down = set().union(*(range(a, b) for a, b in minute_spans)) if minute_spans else set()
    for row, lo, hi in zip(report.months, bounds, bounds[1:], strict=False):
        minutes = hi - lo
        expected = (1 - len([m for m in down if lo <= m < hi]) / minutes) * 100
        assert row.availability_percent == pytest.approx(expected)
    total = (1 - len([m for m in down if m < bounds[-1]]) / bounds[-1]) * 100
    assert report.total.availability_percent == pytest.approx(total)


@given(
    opened=st.integers(min_value=0, max_value=30 * 24 * 3600),
    took=st.integers(min_value=0, max_value=48 * 3600),
)
def test_hours_late_is_the_ceiling_of_the_overrun(opened: int, took: int) -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    incident = rma(
        start + dt.timedelta(seconds=opened), start + dt.timedelta(seconds=opened + took)
    )
    a = assess(TERMS, incident, now=LATER)
    assert a is not None
    overrun = took - 4 * 3600
    assert a.status is (IncidentStatus.BREACHED if overrun > 0 else IncidentStatus.MET)
    assert a.hours_late == (-(-overrun // 3600) if overrun > 0 else 0)
