"""The ``billed`` cost-model kind (issue 10 §2): a backend-day costs the
EffectiveCost of the backend's mapped FOCUS bill rows, each spread over its
ChargePeriod by the hours of the day it covers, then allocated as the other
kinds are; bill imports and mapping changes refresh the allocation; a closed
month is not changed by a late bill, which is counted as a late arrival."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from costs.billing import bill_row_day_cost
from costs.focus import FocusReader, FocusRow
from costs.models import (
    BackendDay,
    BillImport,
    ChargebackPeriod,
    CostModel,
    DailyAllocation,
    LateArrival,
    Statement,
)
from costs.selectors import Period, bill_backend_day_cost, bill_backend_day_costs
from costs.services import (
    allocation_refresh,
    bill_mapping_create,
    cost_model_create,
    period_close,
)
from pilots.models import Backend
from tests.costs.bill_fixtures import SAMPLE, bill_csv, bill_line, import_bill, media
from tests.factories import BackendFactory, CostCenterFactory

__all__ = ["import_bill", "media"]  # fixtures

pytestmark = pytest.mark.django_db
Importer = Callable[..., BillImport]
CENT = Decimal("0.01")
SEPTEMBER = Period(2024, 9)
OCTOBER = Period(2024, 10)


def billed_model(backend: Backend, **extra: Any) -> CostModel:
    data: dict[str, Any] = {
        "backend": backend,
        "kind": "billed",
        "effective_from": dt.date(2024, 9, 1),
        "idle_policy": "platform",
        **extra,
    }
    return cost_model_create(actor=None, data=data)


def allocated(backend: Backend, period: Period) -> Decimal:
    total = DailyAllocation.objects.filter(
        backend=backend, day__gte=period.start, day__lte=period.end
    ).aggregate(total=Sum("amount"))["total"]
    return Decimal(0) if total is None else Decimal(total)


@pytest.fixture
def gpu(db: None) -> Backend:
    CostCenterFactory.create(code="CC-0000", name="Platform", is_platform=True)
    backend: Backend = BackendFactory.create(slug="gpu", name="GPU pool", device_count=4)
    billed_model(backend)
    bill_mapping_create(actor=None, backend=backend, column="ProviderName", pattern="AWS", order=1)
    return backend


# The worked example: September's allocated total is 5 + 3 - 1.25 + 1.20 = 7.95.
WORKED = bill_csv(
    # 8 hours across the month boundary: 4 in September (5.00), 4 in October.
    bill_line(
        effective="10.00", billed="12.00", start="2024-09-30 20:00:00", end="2024-10-01 04:00:00"
    ),
    bill_line(effective="3.00", resource="r-2"),
    # A credit over one whole day.
    bill_line(
        effective="-1.25",
        billed="-1.25",
        listed="0",
        category="Credit",
        resource="r-3",
        start="2024-09-10 00:00:00",
        end="2024-09-11 00:00:00",
    ),
    # 24 hours from August: 12 in September (1.20); August has no cost model.
    bill_line(
        effective="2.40",
        resource="r-4",
        start="2024-08-31 12:00:00",
        end="2024-09-01 12:00:00",
        billing_start="2024-08-01 00:00:00",
    ),
    # Not mapped (Oracle): never on the backend.
    bill_line(effective="100", provider="Oracle", resource="o-1"),
)


def test_a_billed_model_takes_no_price_figures() -> None:
    backend = BackendFactory.create(slug="b")
    for field, value in (
        ("device_hour_rate", Decimal("2")),
        ("capex", Decimal("100")),
        ("opex_monthly", Decimal("5")),
        ("pue", Decimal("1.2")),
    ):
        with pytest.raises(ValidationError) as error:
            billed_model(backend, **{field: value})
        assert list(error.value.message_dict) == [field]
    model = billed_model(backend, capacity_tokens_per_second=Decimal("10"))
    assert model.kind == CostModel.Kind.BILLED
    assert model.get_kind_display() == "Billed (FOCUS bill rows)"


def test_the_api_accepts_a_billed_model_and_names_a_refused_figure(
    finance: Any,
) -> None:
    backend = BackendFactory.create(slug="b")
    client = APIClient()
    client.force_authenticate(finance)
    payload = {"backend": backend.slug, "kind": "billed", "effective_from": "2024-09-01"}
    refused = client.post("/api/v1/cost-models/", {**payload, "capex": "1"}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["capex"]
    created = client.post("/api/v1/cost-models/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["kind"] == "billed"


def test_the_cost_model_page_lists_a_billed_model(as_user: Any, finance: Any, gpu: Backend) -> None:
    page = as_user(finance).get(reverse("cost-model-list"))
    assert page.status_code == 200
    assert "Billed (FOCUS bill rows)" in page.content.decode()


def test_the_worked_example_allocates_in_month_hours_only(
    import_bill: Importer, gpu: Backend
) -> None:
    import_bill(WORKED)
    allocation_refresh(backend_ids=[gpu.pk], start=dt.date(2024, 8, 1), end=OCTOBER.end)

    assert allocated(gpu, SEPTEMBER) == Decimal("7.95")
    assert allocated(gpu, OCTOBER) == Decimal("5.00")
    assert not BackendDay.objects.filter(backend=gpu, day__lt=SEPTEMBER.start).exists()
    last = BackendDay.objects.get(backend=gpu, day=dt.date(2024, 9, 30))
    assert (last.cost, last.power_source, last.rental, last.power) == (
        Decimal(5),
        "",
        Decimal(0),
        Decimal(0),
    )
    assert BackendDay.objects.get(backend=gpu, day=dt.date(2024, 9, 10)).cost == Decimal("-1.25")
    # No usage: the whole day is idle, on the platform (the model's policy).
    kinds = set(DailyAllocation.objects.filter(backend=gpu).values_list("kind", flat=True))
    assert kinds == {"idle"}


def test_the_range_selector_agrees_with_the_day_selector_in_one_query(
    import_bill: Importer, gpu: Backend, django_assert_num_queries: Any
) -> None:
    import_bill(WORKED)
    with django_assert_num_queries(1):  # the backend's rows overlapping the range
        days = bill_backend_day_costs(
            backend_id=gpu.pk, start=dt.date(2024, 8, 25), end=dt.date(2024, 10, 5)
        )
    day = dt.date(2024, 8, 25)
    while day <= dt.date(2024, 10, 5):
        assert days.get(day, Decimal(0)) == bill_backend_day_cost(backend_id=gpu.pk, day=day)
        day += dt.timedelta(days=1)
    assert days[dt.date(2024, 10, 1)] == Decimal(5)


def test_a_refresh_reads_the_bill_once_per_backend(import_bill: Importer, gpu: Backend) -> None:
    import_bill(WORKED)
    with CaptureQueriesContext(connection) as queries:
        allocation_refresh(backend_ids=[gpu.pk], start=SEPTEMBER.start, end=OCTOBER.end)
    bill_reads = [q for q in queries.captured_queries if '"costs_billrow"' in q["sql"]]
    assert len(bill_reads) == 1


def test_a_bill_import_refreshes_the_allocation(
    import_bill: Importer, gpu: Backend, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        import_bill(WORKED)
    assert allocated(gpu, SEPTEMBER) == Decimal("7.95")
    assert allocated(gpu, OCTOBER) == Decimal("5.00")


def test_a_new_mapping_moves_the_billed_cost(
    import_bill: Importer, gpu: Backend, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        import_bill(WORKED)
    oracle = BackendFactory.create(slug="oci", name="OCI")
    billed_model(oracle)
    with django_capture_on_commit_callbacks(execute=True):
        # A lower order wins: r-2 moves from gpu to oci.
        bill_mapping_create(
            actor=None, backend=oracle, column="ResourceId", pattern="r-2|o-1", order=0
        )
    assert allocated(gpu, SEPTEMBER) == Decimal("4.95")
    assert allocated(oracle, SEPTEMBER) == Decimal("103.00")


def test_a_late_bill_leaves_a_closed_month_and_is_counted(
    import_bill: Importer,
    gpu: Backend,
    finance: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        import_bill(WORKED)
    period_close(period=SEPTEMBER, actor=finance)
    frozen = allocated(gpu, SEPTEMBER)
    statements = list(Statement.objects.values_list("number", "total"))
    assert frozen == Decimal("7.95")

    late = bill_csv(
        bill_line(
            effective="50",
            resource="late-1",
            start="2024-09-20 00:00:00",
            end="2024-09-20 02:00:00",
        ),
        bill_line(
            effective="7",
            resource="late-2",
            start="2024-10-02 00:00:00",
            end="2024-10-02 01:00:00",
            billing_start="2024-10-01 00:00:00",
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = import_bill(late, name="late.csv")
    assert job.status == BillImport.Status.SUCCEEDED, job.error

    assert allocated(gpu, SEPTEMBER) == frozen
    assert list(Statement.objects.values_list("number", "total")) == statements
    assert allocated(gpu, OCTOBER) == Decimal("12.00")  # open: refreshed
    september = ChargebackPeriod.objects.get(period="2024-09")
    assert september.late_arrivals == 1
    arrival = LateArrival.objects.get(period=september)
    assert (arrival.source, arrival.reference, arrival.backend_id) == (
        "bill import",
        f"bill-import:{job.pk}",
        gpu.pk,
    )
    assert september.late_checked_at is not None


@pytest.mark.sample_data
def test_the_samples_allocated_month_equals_its_mapped_effective_cost(
    import_bill: Importer, gpu: Backend, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = import_bill(SAMPLE)
    assert job.status == BillImport.Status.SUCCEEDED, job.error
    with SAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        aws = [
            row
            for row in FocusReader(stream)
            if isinstance(row, FocusRow) and row.provider_name == "AWS"
        ]
    assert len(aws) == 942
    expected = Decimal(0)
    day = SEPTEMBER.start
    while day <= SEPTEMBER.end:
        expected += sum((bill_row_day_cost(row, day) for row in aws), Decimal(0))
        day += dt.timedelta(days=1)
    assert expected == sum((row.effective_cost for row in aws), Decimal(0))  # all in September
    assert expected != 0
    assert allocated(gpu, SEPTEMBER).quantize(CENT) == expected.quantize(CENT)
