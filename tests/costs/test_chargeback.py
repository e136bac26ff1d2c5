"""Closing a month (issue 10, §1): frozen statements that add up to the
showback total, immutability against later changes, month order,
restatement chains and late data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from costs.models import ChargebackPeriod, CostModel, Statement, UsageMapping
from costs.selectors import Period, showback
from costs.services import (
    ChargebackError,
    PeriodConflict,
    allocation_refresh,
    period_check_late,
    period_close,
    period_record_late_arrival,
    period_restate,
)
from costs.services.chargeback import statement_hash
from tests.costs.chargeback_data import NOVEMBER, OCTOBER, add_usage, build_world

pytestmark = pytest.mark.django_db


def _statements(period: Period, version: int | None = None) -> dict[str, Statement]:
    row = ChargebackPeriod.objects.get(period=str(period))
    return {
        s.cost_center_code: s
        for s in Statement.objects.filter(period=row, version=version or row.version)
    }


def _frozen(period: Period) -> dict[str, list[tuple[Any, ...]]]:
    return {
        code: [
            (line.backend, line.kind, line.quantity, line.unit_cost, line.amount)
            for line in s.lines.all()
        ]
        for code, s in _statements(period).items()
    }


def test_statements_add_up_to_the_showback_total_to_the_cent(finance: Any) -> None:
    build_world()
    row = period_close(period=OCTOBER, actor=finance)

    report = showback(period=OCTOBER, user=finance)
    statements = _statements(OCTOBER)
    assert row.status == "closed" and row.version == 1
    assert sum(s.total for s in statements.values()) == report.total == row.showback_total
    assert report.total > 0
    for s in statements.values():
        charged = sum(line.amount for line in s.lines.all() if line.charged)
        assert s.total == charged
        assert s.number == f"2026-10-{s.cost_center_code}-v1"
        assert s.closed_by == finance and s.replaces is None


def test_idle_unmapped_and_shadow_are_charged_to_the_platform(finance: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)

    statements = _statements(OCTOBER)
    platform = {line.kind for line in statements["CC-0000"].lines.all()}
    assert {"idle", "unmapped", "shadow"} <= platform
    shadow = statements["CC-0000"].lines.get(kind="shadow")
    assert shadow.other_cost_center == "CC-4200"
    memo = statements["CC-4200"].lines.get(kind="shadow_memo")
    assert memo.amount == shadow.amount and memo.other_cost_center == "CC-0000"
    assert statements["CC-4200"].total == sum(
        line.amount for line in statements["CC-4200"].lines.filter(kind="usage")
    )
    assert {line.kind for line in statements["CC-4100"].lines.all()} == {"usage"}


def test_content_hash_covers_the_lines(finance: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    s = _statements(OCTOBER)["CC-4100"]
    lines = list(s.lines.all())
    args: dict[str, Any] = {
        "cost_center": s.cost_center_code,
        "period": "2026-10",
        "version": 1,
        "currency": s.currency,
        "total": s.total,
    }
    assert statement_hash(**args, lines=lines) == s.content_hash
    lines[0].amount += Decimal("0.01")
    assert statement_hash(**args, lines=lines) != s.content_hash


def test_closed_month_ignores_later_import_mapping_and_cost_model_changes(finance: Any) -> None:
    world = build_world()
    period_close(period=OCTOBER, actor=finance)
    before = _frozen(OCTOBER)
    shown = showback(period=OCTOBER, user=finance).total

    # A late import, a new mapping for the unmapped usage, a new price.
    add_usage(world.backend, OCTOBER.start + dt.timedelta(days=5), team="search", tokens=99_999)
    UsageMapping.objects.create(label="team", value="nobody-knows", cost_center=world.search)
    CostModel.objects.filter(pk=world.model.pk).update(device_hour_rate=Decimal("9.99"))
    allocation_refresh(backend_ids=None, start=OCTOBER.start, end=OCTOBER.end)

    assert _frozen(OCTOBER) == before
    assert showback(period=OCTOBER, user=finance).total == shown


def test_late_data_is_counted_and_its_effect_computed_not_booked(finance: Any) -> None:
    world = build_world()
    period_close(period=OCTOBER, actor=finance)
    before = _frozen(OCTOBER)
    add_usage(world.backend, OCTOBER.start + dt.timedelta(days=5), team="search", tokens=50_000)
    touched = period_record_late_arrival(
        day_from=OCTOBER.start + dt.timedelta(days=5),
        day_to=OCTOBER.start + dt.timedelta(days=6),
        source="metrics import",
        reference="import-job:1",
        backend_id=world.backend.pk,
    )
    period_record_late_arrival(  # the same import again counts once
        day_from=OCTOBER.start,
        day_to=OCTOBER.start,
        source="metrics import",
        reference="import-job:1",
        backend_id=world.backend.pk,
    )
    assert [p.period for p in touched] == ["2026-10"]

    row = period_check_late(period=OCTOBER)

    assert row is not None and row.late_arrivals == 1
    # Search's usage grew: it takes a share of the idle the platform carried.
    assert Decimal(row.late_effect["CC-4100"]) > 0
    assert Decimal(row.late_effect["CC-0000"]) < 0
    assert row.late_total == sum(Decimal(v) for v in row.late_effect.values())
    assert _frozen(OCTOBER) == before
    assert showback(period=OCTOBER, user=finance).total == row.showback_total


def test_restatement_writes_the_next_version_of_every_statement(finance: Any) -> None:
    world = build_world()
    period_close(period=OCTOBER, actor=finance)
    v1 = _statements(OCTOBER)
    add_usage(world.backend, OCTOBER.start + dt.timedelta(days=5), team="search", tokens=50_000)

    row = period_restate(period=OCTOBER, actor=finance, reason="late scrape of the 6th")

    assert row.version == 2
    v2 = _statements(OCTOBER)
    assert set(v2) == set(v1)
    for code, statement in v2.items():
        assert statement.replaces == v1[code]
        assert statement.number.endswith("-v2")
        assert statement.reason == "late scrape of the 6th"
    assert v2["CC-4100"].total > v1["CC-4100"].total
    assert sum(s.total for s in v2.values()) == showback(period=OCTOBER, user=finance).total
    # Version 1 stays readable and unchanged.
    assert _statements(OCTOBER, version=1)["CC-4100"].total == v1["CC-4100"].total
    period_restate(period=OCTOBER, actor=finance, reason="again")
    v3 = _statements(OCTOBER)["CC-4100"]
    assert v3.replaces is not None and v3.replaces.replaces == v1["CC-4100"]


def test_restatement_needs_a_reason_and_a_closed_month(finance: Any) -> None:
    build_world()
    with pytest.raises(PeriodConflict):
        period_restate(period=OCTOBER, actor=finance, reason="why not")
    period_close(period=OCTOBER, actor=finance)
    with pytest.raises(ChargebackError) as refused:
        period_restate(period=OCTOBER, actor=finance, reason="  ")
    assert "reason" in refused.value.message_dict


def test_closing_twice_is_a_conflict(finance: Any) -> None:
    build_world()
    period_close(period=OCTOBER, actor=finance)
    with pytest.raises(PeriodConflict):
        period_close(period=OCTOBER, actor=finance)
    assert Statement.objects.filter(version=1).count() == 3


def test_a_month_that_has_not_ended_cannot_close(finance: Any) -> None:
    build_world()
    today = dt.datetime.now(dt.UTC).date()
    with pytest.raises(ChargebackError, match="has not ended"):
        period_close(period=Period(today.year, today.month), actor=finance)
    assert not ChargebackPeriod.objects.exists()


def test_an_earlier_open_month_blocks_a_later_close(finance: Any) -> None:
    build_world(OCTOBER, NOVEMBER)
    with pytest.raises(ChargebackError, match="close 2026-10 before 2026-11"):
        period_close(period=NOVEMBER, actor=finance)
    assert not Statement.objects.exists()
    period_close(period=OCTOBER, actor=finance)
    period_close(period=NOVEMBER, actor=finance)
    assert ChargebackPeriod.objects.filter(status="closed").count() == 2


def test_no_platform_cost_center_refuses_the_close(finance: Any) -> None:
    world = build_world()
    world.platform.is_platform = False
    world.platform.save()
    allocation_refresh(backend_ids=None, start=OCTOBER.start, end=OCTOBER.end)
    with pytest.raises(ChargebackError, match="platform"):
        period_close(period=OCTOBER, actor=finance)
    assert not Statement.objects.exists()


def test_close_period_command(finance: Any, capsys: Any) -> None:
    build_world()
    call_command("close_period", "2026-10")
    assert "Closed 2026-10" in capsys.readouterr().out
    assert ChargebackPeriod.objects.get(period="2026-10").is_closed


def test_a_late_import_is_counted_and_checked(
    finance: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from metrics.signals import import_succeeded

    world = build_world()
    period_close(period=OCTOBER, actor=finance)
    add_usage(world.backend, OCTOBER.start + dt.timedelta(days=5), team="ads", tokens=80_000)
    start = dt.datetime(2026, 10, 6, 10, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # a retried signal counts once
            import_succeeded.send(
                sender=None,
                job_id=41,
                backend_id=world.backend.pk,
                window_start=start,
                window_end=start + dt.timedelta(hours=1),
            )

    row = ChargebackPeriod.objects.get(period="2026-10")
    assert row.late_arrivals == 1
    assert row.late_checked_at is not None
    assert Decimal(row.late_effect["CC-4200"]) > 0
    assert _statements(OCTOBER)["CC-4200"].version == 1
