"""An owned cost model may take its opex from the contract covering its
backend (issue 12, §1): the calculator, the allocation service, the
a model saved before its contract, the showback footnote on a day no
contract covers, the refresh after a fee change, and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from costs import selectors
from costs.models import BackendDay, CostModel
from costs.pricing import (
    DECIMAL_CONTEXT,
    ContractFee,
    CostModelFigures,
    contract_opex_monthly,
    day_cost,
)
from pilots.models import Backend, Contract
from pilots.services import vendors
from tests.costs.conftest import D, owned, refresh
from tests.factories import BackendFactory, VendorFactory

pytestmark = pytest.mark.django_db

APRIL_1 = dt.date(2026, 4, 1)  # April has 30 days
APRIL_30 = dt.date(2026, 4, 30)
APRIL = selectors.Period(2026, 4)


def _fee(fee: str, period: Any = "monthly", backends: int = 1, **dates: dt.date) -> ContractFee:
    return ContractFee(
        fee=D(fee),
        fee_period=period,
        start=dates.get("start", dt.date(2026, 1, 1)),
        end=dates.get("end", dt.date(2026, 12, 31)),
        backends=backends,
    )


# --- the pure calculator -------------------------------------------------------------


def test_a_monthly_fee_is_the_months_opex_and_a_yearly_fee_a_twelfth():
    assert contract_opex_monthly([_fee("30000.00")], APRIL_1) == D(30000)
    assert contract_opex_monthly([_fee("360000.00", "yearly")], APRIL_1) == D(30000)


def test_a_one_off_fee_or_a_day_outside_the_contract_is_no_cover():
    assert contract_opex_monthly([_fee("50000", "one_off")], APRIL_1) is None
    assert contract_opex_monthly([_fee("30000", end=dt.date(2026, 3, 31))], APRIL_1) is None
    assert contract_opex_monthly([], APRIL_1) is None
    # A covering contract with a zero fee is cover, at 0.
    assert contract_opex_monthly([_fee("0")], APRIL_1) == 0


def test_a_fee_is_shared_by_the_backends_it_covers_and_contracts_add_up():
    fees = [_fee("30000", backends=3), _fee("1200", "yearly")]
    assert contract_opex_monthly(fees, APRIL_1) == D(10000) + D(100)


def test_the_days_opex_is_spread_over_the_month_like_a_typed_opex():
    figures = CostModelFigures(
        kind="owned",
        capex=D(0),
        amortization_months=12,
        amortization_start=dt.date(2026, 1, 1),
        opex_monthly=D("30000.00"),
    )
    april = day_cost(figures, day=APRIL_1, device_count=2, energy_joules=None)
    may = day_cost(figures, day=dt.date(2026, 5, 1), device_count=2, energy_joules=None)
    assert april.opex == D(1000)
    assert may.opex == DECIMAL_CONTEXT.divide(D(30000), 31)


def test_a_bad_contract_fee_is_refused_naming_the_field():
    with pytest.raises(TypeError, match="fee"):
        ContractFee(
            fee=30000.0,  # type: ignore[arg-type]
            fee_period="monthly",
            start=APRIL_1,
            end=APRIL_30,
            backends=1,
        )
    with pytest.raises(ValueError, match="backends"):
        _fee("1", backends=0)


# --- through the service --------------------------------------------------------------


def contract(*backends: Backend, fee: str = "30000.00", **data: Any) -> Contract:
    return vendors.contract_create(
        actor=None,
        data={
            "vendor": VendorFactory.create(slug="cerebras"),
            "start": data.pop("start", APRIL_1),
            "end": data.pop("end", dt.date(2026, 12, 31)),
            "fee": D(fee),
            **data,
        },
        backends=backends,
    )


def from_contract(backend: Backend, **extra: Any) -> CostModel:
    """Capex, power and typed opex all 0: the day's cost is the contract's opex."""
    data: dict[str, Any] = {
        "effective_from": APRIL_1,
        "capex": D(0),
        "opex_monthly": D(0),
        "opex_source": "contract",
        "nameplate_kw_per_device": D(0),
        **extra,
    }
    return owned(backend, **data)


def test_an_owned_model_from_contract_prices_the_monthly_fee_per_day(wafer, platform):
    contract(wafer, fee="30000.00")
    from_contract(wafer)
    refresh(wafer, start=APRIL_1, end=APRIL_30)

    days = BackendDay.objects.filter(backend=wafer).order_by("day")
    assert len(days) == 30
    assert {(d.opex, d.cost, d.opex_source) for d in days} == {(D(1000), D(1000), "contract")}
    (row,) = selectors.showback(period=APRIL, user=None).backends
    assert (row.cost, row.days_without_contract) == (D("30000.00"), 0)


def test_a_yearly_fee_is_a_twelfth_a_month(wafer, platform):
    contract(wafer, fee="360000.00", fee_period="yearly")
    from_contract(wafer)
    refresh(wafer, start=APRIL_30, end=dt.date(2026, 5, 1))

    opex = dict(BackendDay.objects.values_list("day", "opex"))
    assert opex[APRIL_30] == D(1000)
    assert opex[dt.date(2026, 5, 1)] == DECIMAL_CONTEXT.divide(D(30000), 31).quantize(D("1e-12"))


def test_a_contract_covering_two_backends_shares_its_fee(wafer, gpu, platform):
    contract(wafer, gpu, fee="30000.00")
    from_contract(wafer)
    from_contract(gpu)
    refresh(wafer, gpu, start=APRIL_1, end=APRIL_1)
    assert sorted(BackendDay.objects.values_list("opex", flat=True)) == [D(500), D(500)]


def test_a_model_before_its_contract_prices_0_until_the_contract_comes(
    wafer, platform, django_capture_on_commit_callbacks
):
    # No refusal: finance may choose "from contract" before procurement has
    # entered the contract. Days nothing covers are priced 0 and footnoted.
    contract(wafer, start=dt.date(2026, 5, 1))  # starts after April
    contract(BackendFactory.create(slug="other"), start=APRIL_1)  # covers another backend
    contract(wafer, start=APRIL_1, fee_period="one_off")  # a one-off fee is no opex
    from_contract(wafer)
    refresh(wafer, start=APRIL_1, end=APRIL_30)
    april = BackendDay.objects.filter(backend=wafer, day__lte=APRIL_30)
    assert set(april.values_list("opex", "opex_source")) == {(D(0), "no_contract")}
    (row,) = selectors.showback(period=APRIL, user=None).backends
    assert (row.cost, row.days_without_contract) == (D("0.00"), 30)

    # The contract arrives: its write refreshes the days the model prices.
    with django_capture_on_commit_callbacks(execute=True):
        contract(wafer, start=APRIL_1, end=APRIL_30)
    assert set(april.values_list("opex", "opex_source")) == {(D(1000), "contract")}
    (row,) = selectors.showback(period=APRIL, user=None).backends
    assert (row.cost, row.days_without_contract) == (D("30000.00"), 0)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"opex_monthly": D(100)}, "opex_monthly"),  # typed and from contract at once
        ({"kind": "cloud_rate", "device_hour_rate": D(1)}, "opex_source"),
    ],
)
def test_from_contract_is_for_owned_models_without_a_typed_opex(wafer, extra, field):
    contract(wafer)
    with pytest.raises(ValidationError) as refused:
        from_contract(wafer, **extra)
    assert field in refused.value.message_dict


def test_days_after_the_contract_ends_carry_no_opex_and_showback_says_so(
    wafer, platform, as_user, finance
):
    contract(wafer, end=dt.date(2026, 4, 20))
    from_contract(wafer)
    refresh(wafer, start=APRIL_1, end=APRIL_30)

    days = {d.day: d for d in BackendDay.objects.filter(backend=wafer)}
    assert (days[dt.date(2026, 4, 20)].opex, days[dt.date(2026, 4, 20)].opex_source) == (
        D(1000),
        "contract",
    )
    assert (days[dt.date(2026, 4, 21)].opex, days[dt.date(2026, 4, 21)].opex_source) == (
        D(0),
        "no_contract",
    )
    (row,) = selectors.showback(period=APRIL, user=None).backends
    assert (row.cost, row.days_without_contract) == (D("20000.00"), 10)

    api = APIClient()
    api.force_authenticate(finance)
    (backend,) = api.get("/api/v1/showback/", {"period": "2026-04"}).json()["backends"]
    assert backend["days_without_contract"] == 10
    page = as_user(finance).get(reverse("showback"), {"period": "2026-04"}).content.decode()
    assert "no contract with a monthly or yearly fee covered it on 10 days of 2026-04" in page


def test_a_fee_change_refreshes_the_days_it_prices(
    wafer, platform, procurement, django_capture_on_commit_callbacks
):
    agreement = contract(wafer, fee="30000.00")
    from_contract(wafer)
    refresh(wafer, start=APRIL_1, end=APRIL_30)
    assert BackendDay.objects.get(day=APRIL_1).opex == D(1000)

    with django_capture_on_commit_callbacks(execute=True):
        vendors.contract_update(contract=agreement, actor=procurement, data={"fee": D("60000.00")})

    # Every day of the contract up to today is refreshed (the model prices them all).
    april = BackendDay.objects.filter(day__lte=APRIL_30)
    assert set(april.values_list("opex", flat=True)) == {D(2000)}
    assert april.count() == 30
    (row,) = selectors.showback(period=APRIL, user=None).backends
    assert row.cost == D("60000.00")


def test_a_contract_change_leaves_typed_opex_models_alone(
    wafer, platform, procurement, django_capture_on_commit_callbacks
):
    agreement = contract(wafer)
    owned(wafer, effective_from=APRIL_1)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        vendors.contract_update(contract=agreement, actor=procurement, data={"fee": D(1)})
    # The red-flag signal only: no allocation refresh was enqueued.
    assert len(callbacks) == 1
    assert not BackendDay.objects.exists()


# --- the API --------------------------------------------------------------------------


def _post(user: Any, **payload: Any) -> Any:
    api = APIClient()
    api.force_authenticate(user)
    return api.post(
        "/api/v1/cost-models/",
        {
            "kind": "owned",
            "effective_from": "2026-04-01",
            "capex": "0",
            "amortization_months": 12,
            "amortization_start": "2026-04-01",
            **payload,
        },
        format="json",
    )


def test_the_api_takes_and_shows_the_opex_source(finance, wafer):
    contract(wafer)
    response = _post(finance, backend=wafer.slug, opex_source="contract")
    assert response.status_code == 201, response.json()
    assert response.json()["opex_source"] == "contract"
    assert response.json()["opex_monthly"] == "0.00"
    typed = _post(finance, backend=wafer.slug, effective_from="2026-05-01")
    assert typed.json()["opex_source"] == "typed"


def test_the_api_takes_from_contract_before_the_contract_and_refuses_it_on_cloud(finance, wafer):
    assert _post(finance, backend=wafer.slug, opex_source="contract").status_code == 201
    cloud = _post(
        finance,
        backend=wafer.slug,
        kind="cloud_rate",
        effective_from="2026-05-01",
        rate_per_device_hour="2.00",
        opex_source="contract",
    )
    assert cloud.status_code == 400
    assert "opex_source" in cloud.json()["error"]["fields"], cloud.json()


def test_the_cost_models_page_says_the_opex_comes_from_contract(wafer, as_user, finance):
    contract(wafer)
    from_contract(wafer)
    page = as_user(finance).get(reverse("cost-model-list")).content.decode()
    assert "opex from contract" in page


def _admin_form(backend: Backend, **extra: str) -> dict[str, str]:
    return {
        "backend": str(backend.pk),
        "kind": "owned",
        "effective_from": "2026-04-01",
        "currency": "USD",
        "capex": "0",
        "amortization_months": "12",
        "amortization_start": "2026-04-01",
        "opex_monthly": "0",
        "opex_source": "contract",
        "pue": "1",
        "energy_price_kwh": "0",
        "nameplate_kw_per_device": "0",
        "output_token_weight": "2.5",
        "idle_policy": "share",
        "basis": "tokens",
        "notes": "",
        **extra,
    }


def test_the_admin_form_offers_the_choice(wafer, as_user, admin_user):
    client = as_user(admin_user)
    add = reverse("admin:costs_costmodel_add")
    assert 'name="opex_source"' in client.get(add).content.decode()

    contract(wafer)
    assert client.post(add, _admin_form(wafer)).status_code == 302
    assert CostModel.objects.get().opex_source == "contract"


def test_a_fee_change_through_the_contracts_api_refreshes_showback(
    wafer, platform, procurement, finance, django_capture_on_commit_callbacks
):
    agreement = contract(wafer, fee="30000.00", end=dt.date(2026, 4, 30))
    from_contract(wafer)
    refresh(wafer, start=APRIL_1, end=APRIL_30)
    api = APIClient()
    api.force_authenticate(procurement)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/v1/contracts/{agreement.pk}/",
            {"fee": "360000.00", "fee_period": "yearly", "end": "2026-04-15"},
            format="json",
        )
    assert response.status_code == 200, response.json()

    api.force_authenticate(finance)
    (row,) = api.get("/api/v1/showback/", {"period": "2026-04"}).json()["backends"]
    # 15 days at 1,000.00 (360,000 / 12 / 30); 15 days after the new end at 0.
    assert (row["cost"], row["days_without_contract"]) == ("15000.00", 15)
