"""Red flags raised from data (issue 12, §4): raised and cleared by the
evaluation, never duplicated by two runs, raised after the write that
causes them, notified to the PM once, listed by the API and the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from pilots.models import Contract, Incident, Part, StockLevel, Unit
from pilots.services import spares, vendors
from portal.models import Notification
from reviews.models import RedFlag
from reviews.services.redflags import red_flags_evaluate
from reviews.tasks_redflags import evaluate_red_flags
from tests.factories import BackendFactory, PilotFactory, SiteFactory, VendorFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def world(pm: Any) -> dict[str, Any]:
    vendor = VendorFactory.create(slug="cerebras")
    site = SiteFactory.create(slug="ams", name="Amsterdam")
    backend = BackendFactory.create(slug="wse-3", vendor=vendor, site=site)
    pilot = PilotFactory.create(
        name="Canary pilot",
        candidate_backend=backend,
        target_start=dt.date(2026, 1, 5),
        target_end=dt.date(2026, 6, 30),
        status="active",
        created_by=pm,
    )
    return {"vendor": vendor, "site": site, "backend": backend, "pilot": pilot}


def _contract(world: dict[str, Any], **extra: Any) -> Contract:
    contract = Contract.objects.create(
        vendor=world["vendor"],
        start=dt.date(2026, 1, 1),
        end=extra.pop("end", dt.date(2026, 12, 31)),
        **extra,
    )
    contract.backends.set([world["backend"]])
    return contract


def open_flags(kind: str | None = None) -> list[RedFlag]:
    flags = RedFlag.objects.filter(cleared_at__isnull=True)
    return list(flags.filter(kind=kind) if kind else flags)


def test_contract_ending_before_target_end_is_raised_once_and_cleared(world):
    contract = _contract(world, end=dt.date(2026, 5, 31), notice_days=30)

    first = red_flags_evaluate(now=NOW)
    second = red_flags_evaluate(now=NOW)

    (flag,) = open_flags("contract_ending")
    assert flag.severity == "high"
    assert flag.pilot == world["pilot"]
    assert flag.source == contract
    assert "ends 2026-05-31" in flag.detail
    assert (first.raised, second.raised, second.cleared) == (1, 0, 0)

    contract.end = dt.date(2026, 12, 31)
    contract.save()
    result = red_flags_evaluate(now=NOW)

    assert result.cleared == 1
    assert open_flags() == []
    flag.refresh_from_db()
    assert flag.cleared_at == NOW


def test_notice_date_before_target_end_is_medium(world):
    _contract(world, end=dt.date(2026, 7, 31), notice_days=60)
    red_flags_evaluate(now=NOW)
    (flag,) = open_flags("contract_ending")
    assert flag.severity == "medium"
    assert "notice date 2026-06-01" in flag.detail


def test_sla_breach_during_the_pilot(world):
    contract = _contract(world, replacement_hours=Decimal("4"))
    Incident.objects.create(
        contract=contract,
        kind="rma",
        opened_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),
        resolved_at=dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC),
    )
    # Met: no flag.
    Incident.objects.create(
        contract=contract,
        kind="rma",
        opened_at=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC),
        resolved_at=dt.datetime(2026, 3, 3, 11, tzinfo=dt.UTC),
    )
    # Breached before the pilot started: no flag.
    Incident.objects.create(
        contract=contract,
        kind="rma",
        opened_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC),
        resolved_at=dt.datetime(2025, 12, 3, tzinfo=dt.UTC),
    )
    red_flags_evaluate(now=NOW)
    (flag,) = open_flags("sla_breach")
    assert "3 h late" in flag.detail


def test_spares_below_reorder_shortfall_and_firmware_drift(world):
    part = Part.objects.create(
        vendor=world["vendor"],
        part_number="WSE-BOARD",
        annual_failure_rate=Decimal("0.5"),
        criticality="critical",
    )
    StockLevel.objects.create(part=part, site=world["site"], reorder_point=2, lead_time_days=30)
    spares.movement_record(actor=None, part=part, site=world["site"], kind="received", quantity=1)
    for i in range(10):
        Unit.objects.create(
            serial=f"B{i}",
            part=part,
            site=world["site"],
            status="in_service",
            backend=world["backend"],
            firmware_version="1.2" if i else "1.3",
        )

    red_flags_evaluate(now=NOW)

    assert {f.kind for f in open_flags()} == {
        "spares_below_reorder",
        "standby_shortfall",
        "firmware_drift",
    }
    (shortfall,) = open_flags("standby_shortfall")
    assert shortfall.severity == "critical"
    assert "1 cold standby at the site, 2 recommended" in shortfall.detail

    spares.movement_record(actor=None, part=part, site=world["site"], kind="received", quantity=1)
    Unit.objects.filter(serial="B0").update(firmware_version="1.2")
    red_flags_evaluate(now=NOW)
    assert open_flags() == []


def test_the_job_run_twice_opens_no_duplicate(world):
    _contract(world, end=dt.date(2026, 5, 31))
    evaluate_red_flags.delay()
    evaluate_red_flags.delay()
    assert RedFlag.objects.count() == 1


def test_a_closed_pilot_has_its_flags_cleared(world):
    _contract(world, end=dt.date(2026, 5, 31))
    red_flags_evaluate(now=NOW)
    world["pilot"].status = "completed"
    world["pilot"].save()
    assert red_flags_evaluate(now=NOW).cleared == 1


def test_a_write_raises_the_flag_after_commit_and_the_pm_is_told_once(
    world, procurement, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contract = vendors.contract_create(
            actor=procurement,
            data={
                "vendor": world["vendor"],
                "start": dt.date(2026, 1, 1),
                "end": dt.date(2026, 4, 30),
            },
            backends=[world["backend"]],
        )
    (flag,) = open_flags("contract_ending")
    assert flag.source == contract
    notes = Notification.objects.filter(kind="red_flag")
    assert [n.recipients for n in notes] == [["pm@example.com"]]
    assert "Canary pilot" in notes[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        vendors.contract_update(contract=contract, actor=procurement, data={"reference": "PO-1"})
    assert Notification.objects.filter(kind="red_flag").count() == 1
    assert RedFlag.objects.count() == 1


def test_the_partial_unique_constraint_refuses_a_second_open_flag(world):
    from django.db import IntegrityError, transaction

    _contract(world, end=dt.date(2026, 5, 31))
    red_flags_evaluate(now=NOW)
    flag = RedFlag.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RedFlag.objects.create(
            kind=flag.kind,
            severity="low",
            pilot=flag.pilot,
            source_type=flag.source_type,
            source_id=flag.source_id,
            source_label="dup",
            detail="dup",
            raised_at=NOW,
        )


def test_api_lists_and_filters_flags(as_user, finance, world):
    _contract(world, end=dt.date(2026, 5, 31))
    red_flags_evaluate(now=NOW)
    client = as_user(finance)
    data = client.get(reverse("api-red-flag-list"), {"open": "true", "kind": "contract_ending"})
    assert data.status_code == 200
    (row,) = data.json()["results"]
    assert row["pilot"] == world["pilot"].pk
    assert row["severity"] == "high"
    assert row["is_open"] is True
    assert len(client.get(reverse("api-red-flag-list"), {"severity": "low"}).json()["results"]) == 0
    assert (
        len(client.get(reverse("api-red-flag-list"), {"backend": "wse-3"}).json()["results"]) == 1
    )


def test_api_is_read_only(as_user, admin_user, world):
    response = as_user(admin_user).post(reverse("api-red-flag-list"), {})
    assert response.status_code == 405


def test_pages_show_flags(as_user, pilot_team, world):
    _contract(world, end=dt.date(2026, 5, 31))
    red_flags_evaluate(now=NOW)
    client = as_user(pilot_team)
    panel = client.get(reverse("red-flag-pilot-panel", args=[world["pilot"].pk]))
    assert "Contract ends or passes its notice date" in panel.content.decode()
    listing = client.get(reverse("pilot-list")).content.decode()
    assert f"?pilot={world['pilot'].pk}" in listing
    summary = client.get(reverse("red-flag-summary-panel")).content.decode()
    assert "High" in summary
    assert "Canary pilot" in client.get(reverse("red-flag-list")).content.decode()
    detail = client.get(reverse("pilot-detail", args=[world["pilot"].pk])).content.decode()
    assert reverse("red-flag-pilot-panel", args=[world["pilot"].pk]) in detail


def test_red_flag_list_query_count_is_flat(as_user, pm, world, django_assert_num_queries):
    for n in range(4):
        _contract(world, end=dt.date(2026, 2, 1 + n))
    red_flags_evaluate(now=NOW)
    client = as_user(pm)
    # 1 session, 2 user, 3 groups, 4 flags with pilot and source type (no COUNT(*)).
    with django_assert_num_queries(4):
        assert len(client.get(reverse("api-red-flag-list")).json()["results"]) == 4


# --- thermal instability: hourly rollups of the candidate backend ------------------

THERMAL_NOW = dt.datetime(2026, 3, 20, 12, 30, tzinfo=dt.UTC)
# The current hour's rollup is the last of this week's 168.
THIS_WEEK = [
    dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC) - dt.timedelta(hours=h) for h in range(168)
]
LAST_WEEK = [hour - dt.timedelta(days=7) for hour in THIS_WEEK]


def _series(backend: Any, metric: str, **labels: str) -> Any:
    from metrics.catalog import seed_catalog
    from metrics.models import MetricDefinition
    from tests.factories import SeriesFactory

    seed_catalog()
    return SeriesFactory.create(
        backend=backend, metric=MetricDefinition.objects.get(name=metric), labels=labels
    )


def _throttle(backend: Any, seconds_per_hour: float, hours: list[dt.datetime], **labels: str):
    from tests.factories import HourlyRollupFactory

    series = _series(backend, "throttle_seconds_total", **{"reason": "thermal", **labels})
    for hour in hours:
        HourlyRollupFactory.create(series=series, hour=hour, first=0.0, last=seconds_per_hour)
    return series


def _temperature(backend: Any, hottest: float, hours: list[dt.datetime], gpu: str) -> Any:
    from tests.factories import HourlyRollupFactory

    series = _series(backend, "temperature_celsius", gpu=gpu)
    for hour in hours:
        HourlyRollupFactory.create(series=series, hour=hour, first=hottest - 10, last=hottest)
    return series


@pytest.fixture
def one_device(world):
    world["backend"].device_count = 1
    world["backend"].save()
    return world


@pytest.mark.parametrize(
    ("seconds_per_hour", "raised"),
    [
        (54.0, True),  # 54 × 168 = 9,072 s = 1.5 % of 604,800 s
        (18.0, False),  # 0.5 %
        (36.0, False),  # exactly 1 %: not over it
    ],
)
def test_throttle_time_over_one_percent_of_the_week_is_raised(one_device, seconds_per_hour, raised):
    _throttle(one_device["backend"], seconds_per_hour, THIS_WEEK)
    red_flags_evaluate(now=THERMAL_NOW)
    flags = open_flags("thermal_instability")
    assert bool(flags) is raised
    if raised:
        (flag,) = flags
        assert flag.severity == "high"
        assert flag.source == one_device["backend"]
        expected = "throttled 1.50% of the last 7 days' device-time (over 1 %, 1 reporting)"
        assert expected in flag.detail


def test_throttle_time_is_a_share_of_every_devices_time(world):
    # 8 devices reporting, each throttled 0.5 % of the week: 0.5 %, not 4 %.
    for gpu in range(8):
        _throttle(world["backend"], 18.0, THIS_WEEK, gpu=str(gpu))
    red_flags_evaluate(now=THERMAL_NOW)
    assert open_flags("thermal_instability") == []
    # Eight more hours of one device power-throttled throughout (the same
    # device: another reason) put the fleet over 1 %.
    _throttle(world["backend"], 3600.0, THIS_WEEK[:8], gpu="0", reason="power")
    red_flags_evaluate(now=THERMAL_NOW)
    (flag,) = open_flags("thermal_instability")
    assert "throttled 1.10%" in flag.detail  # (8 × 3,024 + 28,800) / (8 × 604,800)


def test_one_backend_wide_throttle_counter_is_a_share_of_the_week(world):
    # The factory's backend has 8 devices, but a single throttle counter
    # reports the backend as a whole: 1.5 % of the week is 1.5 %, not 0.19 %.
    assert world["backend"].device_count == 8
    _throttle(world["backend"], 54.0, THIS_WEEK)
    red_flags_evaluate(now=THERMAL_NOW)
    (flag,) = open_flags("thermal_instability")
    expected = "throttled 1.50% of the last 7 days' device-time (over 1 %, 1 reporting)"
    assert expected in flag.detail


def test_throttling_before_the_last_seven_days_does_not_count(one_device):
    _throttle(one_device["backend"], 54.0, LAST_WEEK)
    red_flags_evaluate(now=THERMAL_NOW)
    assert open_flags("thermal_instability") == []


@pytest.mark.parametrize(
    ("this_week", "raised"),
    [
        (76.0, True),  # up 6 °C
        (74.0, False),  # up 4 °C
        (75.0, False),  # up exactly 5 °C: not more than 5
        (75.1, True),  # 75.1 - 70.0 = 5.1 exactly, no float residue
    ],
)
def test_max_temperature_rising_week_over_week_by_more_than_5_c(one_device, this_week, raised):
    backend = one_device["backend"]
    _temperature(backend, 70.0, LAST_WEEK, gpu="0")
    _temperature(backend, this_week, THIS_WEEK[-3:], gpu="1")
    red_flags_evaluate(now=THERMAL_NOW)
    flags = open_flags("thermal_instability")
    assert bool(flags) is raised
    if raised:
        (flag,) = flags
        assert flag.severity == "medium"  # no throttling over 1 %
        assert f"rose {Decimal(repr(this_week)) - 70:f} °C week over week" in flag.detail


def test_a_rise_of_exactly_5_c_after_float_arithmetic_is_not_over_5(one_device):
    # 64.4 - 59.4 is 5.000000000000007 in floats and exactly 5 in the rule.
    backend = one_device["backend"]
    _temperature(backend, 59.4, LAST_WEEK[1:2], gpu="0")
    _temperature(backend, 64.4, THIS_WEEK[:1], gpu="1")
    red_flags_evaluate(now=THERMAL_NOW)
    assert open_flags("thermal_instability") == []


def test_the_hour_seven_days_back_belongs_to_last_week_only(one_device):
    # At 12:30 this week starts at 13:00 a week ago: the 12:00 rollup of that
    # day is last week's, so its hour of throttling does not count.
    backend = one_device["backend"]
    boundary = dt.datetime(2026, 3, 13, 12, tzinfo=dt.UTC)
    _throttle(backend, 30.0, THIS_WEEK, gpu="0")  # 5,040 s: 0.83 %
    _throttle(backend, 3600.0, [boundary], gpu="1")  # would make it 1.43 %
    red_flags_evaluate(now=THERMAL_NOW)
    assert open_flags("thermal_instability") == []


def test_thermal_flag_is_cleared_when_the_condition_goes_away(one_device):
    from metrics.models import HourlyRollup

    series = _throttle(one_device["backend"], 54.0, THIS_WEEK)
    assert red_flags_evaluate(now=THERMAL_NOW).raised == 1
    assert red_flags_evaluate(now=THERMAL_NOW).raised == 0  # not duplicated
    HourlyRollup.objects.filter(series=series).update(increase=18.0)
    result = red_flags_evaluate(now=THERMAL_NOW)
    assert result.cleared == 1
    assert open_flags("thermal_instability") == []
    (flag,) = RedFlag.objects.filter(kind="thermal_instability")
    assert flag.cleared_at == THERMAL_NOW


# --- a month below the uptime term is an SLA breach ----------------------------------


def _outage(contract: Contract, start: dt.datetime, hours: float) -> Incident:
    return Incident.objects.create(
        contract=contract,
        kind="outage",
        opened_at=start,
        resolved_at=start + dt.timedelta(hours=hours),
    )


def test_a_month_below_the_uptime_term_is_an_sla_breach(world):
    # 99.9 % of March's 744 h allows 0.744 h: 1 h down is below the term.
    contract = _contract(world, reference="PO-7", uptime_percent=Decimal("99.9"))
    _outage(contract, dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC), 1)

    first = red_flags_evaluate(now=NOW)
    second = red_flags_evaluate(now=NOW)

    (flag,) = open_flags("sla_breach")
    assert flag.source == contract
    assert flag.severity == "high"
    assert "below the 99.9 % uptime term in 2026-03 (99.866 %)" in flag.detail
    assert (first.raised, second.raised) == (1, 0)


def test_downtime_within_the_allowance_raises_nothing(world):
    contract = _contract(world, uptime_percent=Decimal("99.9"))
    _outage(contract, dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC), 0.7)  # 42 min < 44.64
    red_flags_evaluate(now=NOW)
    assert open_flags("sla_breach") == []


def test_an_uptime_breach_before_the_pilot_raises_nothing(world):
    contract = Contract.objects.create(
        vendor=world["vendor"],
        start=dt.date(2025, 1, 1),
        end=dt.date(2026, 12, 31),
        uptime_percent=Decimal("99.9"),
    )
    _outage(contract, dt.datetime(2025, 12, 5, tzinfo=dt.UTC), 24)
    red_flags_evaluate(now=NOW)
    assert open_flags("sla_breach") == []


def test_an_uptime_flag_names_each_month_and_clears_when_corrected(world):
    contract = _contract(world, uptime_percent=Decimal("99"))  # 7.44 h in March
    february = _outage(contract, dt.datetime(2026, 2, 10, tzinfo=dt.UTC), 8)  # 6.72 h allowed
    march = _outage(contract, dt.datetime(2026, 3, 10, tzinfo=dt.UTC), 8)
    red_flags_evaluate(now=NOW)
    (flag,) = open_flags("sla_breach")
    assert "2026-02 (98.810 %), 2026-03 (98.925 %)" in flag.detail

    # The March outage was shorter than entered: the same flag, only February.
    march.resolved_at = march.opened_at + dt.timedelta(hours=2)
    march.save()
    assert red_flags_evaluate(now=NOW).updated == 1
    (same,) = open_flags("sla_breach")
    assert same.pk == flag.pk
    assert "2026-02 (98.810 %)." in same.detail and "2026-03" not in same.detail

    february.resolved_at = february.opened_at + dt.timedelta(hours=1)
    february.save()
    assert red_flags_evaluate(now=NOW).cleared == 1
    assert open_flags("sla_breach") == []


def test_a_late_incident_and_a_month_below_uptime_are_two_flags(world):
    contract = _contract(world, replacement_hours=Decimal("4"), uptime_percent=Decimal("99.9"))
    late = Incident.objects.create(
        contract=contract,
        kind="rma",
        opened_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),
        resolved_at=dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC),
    )
    _outage(contract, dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC), 1)
    red_flags_evaluate(now=NOW)
    assert {flag.source for flag in open_flags("sla_breach")} == {late, contract}


def test_an_outage_entered_through_the_service_raises_the_flag_after_commit(
    world, procurement, django_capture_on_commit_callbacks
):
    contract = _contract(world, uptime_percent=Decimal("99.9"))
    with django_capture_on_commit_callbacks(execute=True):
        vendors.incident_create(
            actor=procurement,
            data={
                "contract": contract,
                "kind": "outage",
                "opened_at": dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC),
                "resolved_at": dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC),
            },
            backends=[world["backend"]],
        )
    (flag,) = open_flags("sla_breach")
    assert flag.source == contract


def test_a_late_incident_on_a_vendor_contract_naming_no_backend_raises_the_flag_at_once(
    world, procurement, as_user, django_capture_on_commit_callbacks
):
    """The SLA-breach rule is the candidate backend's *vendor*'s breaches:
    a contract of that vendor that covers no backend (or others) still
    counts, so its incident writes re-evaluate the pilots on every backend
    of the vendor, not only the backends the contract names."""
    client = as_user(procurement)
    with django_capture_on_commit_callbacks(execute=True):
        contract = client.post(
            reverse("api-contract-list"),
            {
                "vendor": "cerebras",
                "start": "2026-01-01",
                "end": "2026-12-31",
                "replacement_hours": "4",
            },
            content_type="application/json",
        ).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api-incident-list"),
            {
                "contract": contract,
                "kind": "rma",
                "opened_at": "2026-03-02T10:00:00Z",
                "resolved_at": "2026-03-02T16:30:00Z",
            },
            content_type="application/json",
        )
    assert response.status_code == 201
    flags = client.get(reverse("api-red-flag-list"), {"kind": "sla_breach", "open": "true"}).json()
    assert [(f["pilot"], f["source_type"]) for f in flags["results"]] == [
        (world["pilot"].pk, "incident")
    ]
    # A term change re-evaluates them too: 8 h allowed, the RMA was met.
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(
            reverse("api-contract-detail", args=[contract]),
            {"replacement_hours": "8"},
            content_type="application/json",
        )
    assert open_flags("sla_breach") == []


def test_a_pilot_created_or_moved_through_the_api_has_its_flags_at_once(
    world, pm, as_user, django_capture_on_commit_callbacks
):
    """A pilot write changes what its flags are about (its candidate
    backend and target dates): the flags follow it after commit, without
    waiting for the daily job."""
    from tests.factories import CostCenterFactory

    CostCenterFactory.create(code="CC-9")
    _contract(world, end=dt.date(2026, 5, 31))
    client = as_user(pm)
    body = {
        "name": "Late pilot",
        "model_name": "llama-3.1-70b",
        "candidate_backend": "wse-3",
        "baseline_backend": BackendFactory.create(slug="h100").slug,
        "team": "chat",
        "cost_center": "CC-9",
        "target_start": "2026-02-02",
        "target_end": "2026-08-07",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/pilots/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    pilot = response.json()["id"]
    flags = client.get(reverse("api-red-flag-list"), {"pilot": pilot, "open": "true"}).json()
    assert [f["kind"] for f in flags["results"]] == ["contract_ending"]

    # The target end moved before the contract's end: nothing at risk any more.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            f"/api/v1/pilots/{pilot}/",
            {"target_end": "2026-05-15"},
            content_type="application/json",
        )
    assert response.status_code == 200, response.json()
    flags = client.get(reverse("api-red-flag-list"), {"pilot": pilot, "open": "true"}).json()
    assert flags["results"] == []


def test_a_pilot_stopped_by_a_failed_phase_has_its_flags_cleared_at_once(
    world, pm, django_capture_on_commit_callbacks
):
    from pilots.services import phases
    from tests.factories import PhaseFactory

    _contract(world, end=dt.date(2026, 5, 31))
    phase = PhaseFactory.create(pilot=world["pilot"], status="active")
    red_flags_evaluate()
    assert [f.kind for f in open_flags()] == ["contract_ending"]
    with django_capture_on_commit_callbacks(execute=True):
        phases.phase_fail(phase=phase, actor=pm, message="no-go")
    assert open_flags() == []


def test_a_metrics_import_raises_the_thermal_flag_after_commit(
    one_device, pm, as_user, settings, tmp_path, django_capture_on_commit_callbacks
):
    """An import is a write that can change the thermal flag: the pilots on
    its backend are re-evaluated once it succeeded."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from metrics.catalog import seed_catalog

    seed_catalog()
    settings.MEDIA_ROOT = tmp_path / "media"
    now = int(timezone.now().timestamp())
    last_week, this_week = now - 10 * 86400, now - 2 * 3600
    csv = (
        f"{last_week},temperature_celsius,60,gpu=0\n{this_week},temperature_celsius,70,gpu=0\n"
    ).encode()
    client = as_user(pm)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("t.csv", csv, content_type="text/csv"), "backend": "wse-3"},
        )
    assert response.status_code == 202, response.json()
    assert client.get(response["Location"]).json()["status"] == "succeeded"
    flags = client.get(reverse("api-red-flag-list"), {"kind": "thermal_instability"}).json()
    assert [(f["severity"], f["is_open"]) for f in flags["results"]] == [("medium", True)]
    assert "rose 10.0 °C week over week" in flags["results"][0]["detail"]


def test_a_backend_moved_to_another_site_has_its_pilots_flags_follow(
    world, admin_user, django_capture_on_commit_callbacks
):
    """The spares flags are about the candidate backend's site: moving the
    backend (admin, through catalog.backend_update) re-evaluates them."""
    from pilots.services import catalog

    part = Part.objects.create(
        vendor=world["vendor"],
        part_number="WSE-PSU",
        annual_failure_rate="0.1",
        criticality="critical",
    )
    elsewhere = SiteFactory.create(slug="fra", name="Frankfurt")
    StockLevel.objects.create(part=part, site=elsewhere, reorder_point=2)
    with django_capture_on_commit_callbacks(execute=True):
        catalog.backend_update(backend=world["backend"], actor=admin_user, data={"site": elsewhere})
    assert [f.kind for f in open_flags()] == ["spares_below_reorder"]
    with django_capture_on_commit_callbacks(execute=True):
        catalog.backend_update(
            backend=world["backend"], actor=admin_user, data={"site": world["site"]}
        )
    assert open_flags() == []
