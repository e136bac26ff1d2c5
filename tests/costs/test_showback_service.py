"""The allocation service and the month selectors, by worked example
(issue 9, §2-§5): each rule with numbers worked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from costs import selectors
from costs.models import BackendDay, DailyAllocation, UsageMapping
from pilots.models import Phase
from tests.costs.conftest import DAY, D, at, cloud, owned, refresh
from tests.factories import PhaseFactory, PilotFactory, UserFactory

pytestmark = pytest.mark.django_db

MARCH = selectors.Period(2026, 3)


def lines_of(day: dt.date = DAY) -> dict[tuple[str | None, str], Decimal]:
    return {
        (line.cost_center.code if line.cost_center else None, line.kind): line.amount
        for line in DailyAllocation.objects.filter(day=day).select_related("cost_center")
    }


def finance_user() -> Any:
    from django.contrib.auth.models import Group

    from portal.roles import sync_role_groups

    sync_role_groups()
    user = UserFactory.create(username="fin")
    user.groups.set(Group.objects.filter(name="finance"))
    return user


def map_team(team: str, code: str, order: int = 10) -> None:
    UsageMapping.objects.create(label="team", value=team, cost_center_id=_id(code), order=order)


def _id(code: str) -> int:
    from costs.models import CostCenter

    return CostCenter.objects.get(code=code).pk


def test_cloud_rate_day_shared_in_proportion_to_tokens(gpu, usage, team_a, team_b, platform):
    # 4 devices × $2 × 24 h = $192; A used 300 of 400 tokens, B 100.
    cloud(gpu)
    map_team("search", "CC-4100")
    map_team("ads", "CC-4200")
    usage(gpu, prompt=200, generated=100, labels={"team": "search"})
    usage(gpu, prompt=60, generated=40, labels={"team": "ads"})
    refresh(gpu)

    day = BackendDay.objects.get(backend=gpu, day=DAY)
    assert day.cost == D("192")
    assert day.power_source == ""
    assert (day.prompt_tokens, day.generated_tokens) == (D(260), D(140))
    assert lines_of() == {("CC-4100", "usage"): D("144"), ("CC-4200", "usage"): D("48")}


def test_capacity_caps_utilization_and_platform_policy_charges_idle(
    gpu, usage, team_a, team_b, platform
):
    # K = 0.01 tokens/s × 86,400 = 864 tokens; T = 432 -> rho = 0.5:
    # used $96 split 3:1, idle $96 to the platform.
    cloud(gpu, capacity_tokens_per_second=D("0.01"), idle_policy="platform")
    map_team("search", "CC-4100")
    map_team("ads", "CC-4200")
    usage(gpu, prompt=300, generated=24, labels={"team": "search"})
    usage(gpu, prompt=100, generated=8, labels={"team": "ads"})
    refresh(gpu)

    assert BackendDay.objects.get(day=DAY).utilization == D("0.5")
    assert lines_of() == {
        ("CC-4100", "usage"): D("72"),
        ("CC-4200", "usage"): D("24"),
        ("CC-9000", "idle"): D("96"),
    }


def test_share_policy_puts_idle_into_the_lines(gpu, usage, team_a, platform):
    cloud(gpu, capacity_tokens_per_second=D("0.01"))
    map_team("search", "CC-4100")
    usage(gpu, prompt=432, labels={"team": "search"})
    refresh(gpu)
    assert lines_of() == {("CC-4100", "usage"): D("192")}


def test_a_day_without_usage_is_idle_for_the_platform(gpu, platform):
    cloud(gpu)
    refresh(gpu)
    assert lines_of() == {("CC-9000", "idle"): D("192")}
    assert BackendDay.objects.get(day=DAY).utilization == 0


def test_owned_day_with_measured_energy(wafer, counter, usage, team_a, platform):
    # March has 31 days: amortization 36,000 / 12 / 31, opex 3,100 / 31 = 100,
    # power 72,000,000 J = 20 kWh × 1.5 × 0.2 = 6.
    owned(wafer)
    counter(wafer, "energy_joules_total", [(at(DAY, 0), 0.0), (at(DAY, 23), 72_000_000.0)])
    usage(wafer, prompt=1000, labels={"team": "x"})
    refresh(wafer)

    day = BackendDay.objects.get(day=DAY)
    amortization = (D(36000) / 12 / 31).quantize(D("1e-12"))
    assert day.power_source == "measured"
    assert day.energy_kwh == D(20)
    assert day.power == D(6)
    assert day.opex == D(100)
    assert day.amortization == amortization
    assert day.cost == amortization + 106


def test_owned_day_without_energy_uses_nameplate_power(wafer, usage, platform):
    # 1 kW × 2 devices × 24 h = 48 kWh × 1.5 × 0.2 = 14.4.
    owned(wafer)
    refresh(wafer)
    day = BackendDay.objects.get(day=DAY)
    assert day.power_source == "nameplate"
    assert day.power == D("14.4")


def test_amortization_stops_after_its_window(wafer, platform):
    owned(wafer, amortization_start=dt.date(2025, 1, 1))  # ended 2026-01-01
    refresh(wafer)
    day = BackendDay.objects.get(day=DAY)
    assert day.amortization == 0
    assert day.cost == D(100) + D("14.4")


def test_unmapped_usage_is_a_line_without_cost_center(gpu, usage, team_a, platform):
    cloud(gpu)
    map_team("search", "CC-4100")
    usage(gpu, prompt=300, labels={"team": "search"})
    usage(gpu, prompt=100, labels={"team": "nobody-knows"})
    refresh(gpu)
    assert lines_of() == {("CC-4100", "usage"): D(144), (None, "unmapped"): D(48)}


def test_lowest_order_mapping_wins(gpu, usage, team_a, team_b, platform):
    cloud(gpu)
    map_team("search", "CC-4100", order=20)
    UsageMapping.objects.create(
        label="cost_center", value="CC-4200", cost_center_id=_id("CC-4200"), order=10
    )
    usage(gpu, prompt=100, labels={"team": "search", "cost_center": "CC-4200"})
    refresh(gpu)
    assert lines_of() == {("CC-4200", "usage"): D(192)}


def test_shadow_hours_of_a_pilot_are_shadow_under_its_cost_center(
    gpu, counter, team_a, team_b, platform
):
    # The pilot was in shadow from 06:00: the hour-12 step (300 tokens) is
    # shadow; the hour-03 step (100 tokens) is ordinary, mapped by team.
    cloud(gpu)
    map_team("ads", "CC-4200")
    pilot = PilotFactory.create(candidate_backend=gpu, cost_center=team_a)
    PhaseFactory.create(
        pilot=pilot, kind=Phase.Kind.SHADOW, status="active", actual_start=at(DAY, 6)
    )
    counter(
        gpu,
        "prompt_tokens_total",
        [(at(DAY, 0), 0.0), (at(DAY, 3), 100.0), (at(DAY, 12), 400.0)],
        labels={"team": "ads"},
        pilot=pilot,
    )
    refresh(gpu)
    assert lines_of() == {("CC-4100", "shadow"): D(144), ("CC-4200", "usage"): D(48)}


def test_a_counter_reset_inside_a_day_counts_the_new_value(gpu, counter, team_a, platform):
    # 0 -> 100 -> 200, restart, 50 -> 150: 200 + 50 + 100 = 350 tokens.
    cloud(gpu)
    points = [(at(DAY, h), v) for h, v in ((0, 0.0), (2, 100.0), (4, 200.0), (6, 50.0), (8, 150.0))]
    counter(gpu, "prompt_tokens_total", points, labels={"team": "search"})
    map_team("search", "CC-4100")
    refresh(gpu)
    day = BackendDay.objects.get(day=DAY)
    assert day.prompt_tokens == D(350)
    assert lines_of() == {("CC-4100", "usage"): D(192)}


def test_a_cost_model_changing_mid_month(gpu, platform):
    # $2 until 15 March (15 days × 192), $3 from 16 March (16 days × 288).
    cloud(gpu)
    cloud(gpu, rate="3", effective_from=dt.date(2026, 3, 16))
    refresh(gpu, start=MARCH.start, end=MARCH.end)
    report = selectors.showback(period=MARCH, user=finance_user())
    (backend,) = report.backends
    assert backend.cost == 15 * D(192) + 16 * D(288)
    assert sum(line.amount for line in report.lines) == backend.cost


def test_refreshing_twice_changes_nothing(gpu, usage, team_a, platform):
    cloud(gpu)
    map_team("search", "CC-4100")
    usage(gpu, prompt=100, labels={"team": "search"})
    refresh(gpu)
    first = list(DailyAllocation.objects.values_list("day", "cost_center", "kind", "amount"))
    refresh(gpu)
    again = list(DailyAllocation.objects.values_list("day", "cost_center", "kind", "amount"))
    assert again == first
    assert BackendDay.objects.count() == 1


def test_month_lines_are_rounded_to_add_up_to_the_rounded_cost(
    gpu, usage, platform, team_a, team_b
):
    # $1/device-hour × 4 × 24 = 96 a day, split into thirds every day:
    # 32 exactly; with a third team... use 7 tokens: 96 × 1/7 etc.
    cloud(gpu, rate="1")
    from tests.factories import CostCenterFactory

    CostCenterFactory.create(code="CC-4300")
    map_team("search", "CC-4100")
    map_team("ads", "CC-4200")
    map_team("mail", "CC-4300")
    for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)):
        usage(gpu, prompt=1, labels={"team": "search"}, day=day)
        usage(gpu, prompt=3, labels={"team": "ads"}, day=day)
        usage(gpu, prompt=3, labels={"team": "mail"}, day=day)
    refresh(gpu, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 3))
    report = selectors.showback(period=MARCH, user=finance_user())
    (backend,) = report.backends
    amounts = {line.cost_center: line.amount for line in report.lines}
    assert backend.cost == D("288.00")
    # 288 × 1/7 = 41.142857..., 288 × 3/7 = 123.428571... each.
    assert amounts == {"CC-4100": D("41.14"), "CC-4200": D("123.43"), "CC-4300": D("123.43")}
    assert sum(amounts.values()) == backend.cost


def test_unit_economics_of_a_month(gpu, usage, team_a, platform):
    cloud(gpu, capacity_tokens_per_second=D("0.01"), latency_objective_seconds=D("1"))
    map_team("search", "CC-4100")
    usage(gpu, prompt=300, generated=132, requests=4, labels={"team": "search"})
    refresh(gpu)
    (figures,) = selectors.backend_economics(period=MARCH)
    assert figures.cost == D("192.00")
    # 192 / 432 × 10^6
    assert figures.cost_per_1m_tokens == (D(192) / 432 * 1_000_000).quantize(D("1e-12"))
    assert figures.cost_per_inference == D(48)
    assert figures.utilization == D("0.5")
    assert figures.split_method == "token_weight"
    # input = 192 × 300 / (300 + 2.5 × 132) = 192 × 300 / 630
    assert figures.cost_per_1m_input_tokens == (D(192) * 300 / 630 / 300 * 1_000_000).quantize(
        D("1e-12")
    )
    assert figures.joules_per_token is None
    assert figures.goodput_fraction is None  # no latency histogram imported
    # one day: $8 an hour over 0.01 × 3600 × u tokens
    assert figures.break_even[-1].cost_per_1m_tokens == (D(8) / 36 * 1_000_000).quantize(D("1e-12"))
    assert figures.operating_point is not None
    assert figures.operating_point.utilization == D("0.5")
    assert figures.operating_point.cost_per_1m_tokens == figures.cost_per_1m_tokens


def test_unit_economics_window_takes_whole_days(gpu, usage, team_a, platform):
    cloud(gpu)
    usage(gpu, prompt=1000, requests=10, labels={"team": "search"})
    refresh(gpu)
    window = selectors.unit_economics_window(
        backend=gpu, start=at(DAY, 0), end=at(DAY + dt.timedelta(days=1), 0)
    )
    assert window is not None
    assert (window.cost, window.input_tokens, window.requests) == (D("192.00"), D(1000), D(10))
    assert window.cost_per_1m_tokens == D(192_000)
    assert window.cost_per_inference == D("19.2")
    partial = selectors.unit_economics_window(backend=gpu, start=at(DAY, 1), end=at(DAY, 23))
    assert partial is None


def test_import_success_refreshes_the_days_it_touched(
    gpu, catalog, team_a, platform, django_capture_on_commit_callbacks, settings, tmp_path
):
    import io

    from metrics.models import ImportJob
    from metrics.services import import_job_create, import_job_run

    settings.MEDIA_ROOT = tmp_path
    cloud(gpu)
    map_team("search", "CC-4100")
    content = (
        "2026-03-10T00:00:00Z,prompt_tokens_total,0,team=search\n"
        "2026-03-10T10:00:00Z,prompt_tokens_total,500,team=search\n"
    )
    file = io.BytesIO(content.encode())
    file.name = "usage.csv"
    job = import_job_create(
        actor=None, backend=gpu, fmt="csv", source=ImportJob.Source.CLI, file=file, enqueue=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        import_job_run(job_id=job.pk)
    assert lines_of() == {("CC-4100", "usage"): D(192)}
