"""Bill imports through the services (costs/services/bills.py): the real
sample and the spec examples, idempotency, rejects by line, currency
refusals, missing columns, and the bill mappings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Sum

from costs.focus import FocusReader, FocusRow
from costs.models import BillImport, BillMapping, BillRow
from costs.selectors import bill_backend_day_cost, bill_import_backends, bill_unmatched
from costs.services import (
    bill_import_create,
    bill_import_run,
    bill_mapping_create,
    bill_mapping_delete,
    bill_mapping_update,
)
from portal.models import ChangeRecord
from tests.costs.bill_fixtures import FOCUS, SAMPLE, bill_csv, bill_line, import_bill, media
from tests.factories import BackendFactory

__all__ = ["import_bill", "media"]  # fixtures

pytestmark = pytest.mark.django_db
Importer = Callable[..., BillImport]


def sample_totals() -> tuple[int, Decimal, Decimal]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        rows = [item for item in FocusReader(stream) if isinstance(item, FocusRow)]
    effective = sum((row.effective_cost for row in rows), Decimal(0))
    billed = sum((row.billed_cost for row in rows), Decimal(0))
    return len(rows), effective, billed


@pytest.mark.sample_data
def test_the_real_sample_imports_every_row(import_bill: Importer) -> None:
    job = import_bill(SAMPLE)
    count, effective, billed = sample_totals()
    assert job.status == BillImport.Status.SUCCEEDED, job.error
    assert (job.rows_read, job.rows_stored, job.rejected, job.duplicates) == (count, count, 0, 0)
    assert job.focus_version == "1.0" and job.missing_columns == []
    assert job.effective_cost == effective and job.billed_cost == billed
    stored = BillRow.objects.aggregate(e=Sum("effective_cost"))["e"]
    assert abs(stored - effective) < Decimal("1e-9")  # SQLite sums through floats
    oracle = BillRow.objects.filter(provider_name="Oracle").first()
    assert oracle is not None and oracle.contracted_cost is None
    assert job.period_start is not None and job.period_end is not None
    assert dt.datetime(2024, 9, 1, tzinfo=dt.UTC) <= job.period_start < job.period_end
    assert job.period_end <= dt.datetime(2024, 10, 1, tzinfo=dt.UTC)


@pytest.mark.sample_data
def test_the_same_file_twice_stores_nothing_new(import_bill: Importer) -> None:
    first = import_bill(SAMPLE)
    second = import_bill(SAMPLE)
    assert first.rows_stored == 1000
    assert (second.status, second.rows_read, second.rows_stored, second.duplicates) == (
        BillImport.Status.SUCCEEDED,
        1000,
        0,
        1000,
    )
    assert BillRow.objects.count() == 1000
    # The file's own totals are still reported.
    assert second.effective_cost == first.effective_cost


@pytest.mark.sample_data
def test_every_spec_example_imports(import_bill: Importer) -> None:
    files = sorted((FOCUS / "spec-examples").rglob("*.csv"))
    jobs = [import_bill(path) for path in files]
    assert all(job.status == BillImport.Status.SUCCEEDED for job in jobs), [
        (job.original_filename, job.error) for job in jobs if job.error
    ]
    # Only the spec's own "T30:00:00Z" typo is refused, with its line.
    refused = {job.original_filename: job.rejects for job in jobs if job.rejected}
    assert set(refused) == {
        "commitment_discount_purchase_scenario_2.csv",
        "commitment_discount_purchase_scenario_3.csv",
    }
    commitment = next(
        job
        for job in jobs
        if job.original_filename.startswith("commitment_discount_usage_scenario_1")
    )
    assert "BillingCurrency" in commitment.missing_columns
    assert BillRow.objects.filter(currency="USD").count() == BillRow.objects.count() > 60
    # Commitment purchases carry EffectiveCost 0: the usage rows hold the amortized cost.
    purchases = BillRow.objects.filter(
        charge_category="Purchase",
        job__original_filename__startswith="commitment_discount_purchase",
    )
    assert purchases.exists() and not purchases.exclude(effective_cost=0).exists()


def test_rejects_are_reported_with_their_lines(import_bill: Importer) -> None:
    job = import_bill(
        bill_csv(bill_line(), bill_line(effective="lots"), bill_line(resource="r-2"), "1,2")
    )
    assert job.status == BillImport.Status.SUCCEEDED
    assert (job.rows_read, job.rows_stored, job.rejected) == (4, 2, 2)
    assert job.rejects == [
        {"line": 3, "reason": "EffectiveCost is not a number: 'lots'"},
        {"line": 5, "reason": "2 fields where the header has 15 columns"},
    ]


def test_other_currencies_are_refused_per_row_and_counted(import_bill: Importer) -> None:
    job = import_bill(
        bill_csv(
            bill_line(),
            bill_line(currency="EUR", resource="r-2"),
            bill_line(currency="GBP", resource="r-3"),
        )
    )
    assert (job.rows_stored, job.rejected, job.currency_refused) == (1, 2, 2)
    assert [reject["line"] for reject in job.rejects] == [3, 4]
    assert "EUR is not the reporting currency USD" in job.rejects[0]["reason"]


def test_the_reporting_currency_comes_from_the_setting(
    import_bill: Importer, settings: Any
) -> None:
    settings.PILOTGATE_CURRENCY = "EUR"
    job = import_bill(bill_csv(bill_line(), bill_line(currency="EUR", resource="r-2")))
    assert (job.currency, job.rows_stored, job.currency_refused) == ("EUR", 1, 1)


def test_missing_mandatory_columns_fail_the_job_naming_them(import_bill: Importer) -> None:
    job = import_bill(b"BilledCost,ServiceName\n1,EC2\n")
    assert job.status == BillImport.Status.FAILED
    assert "EffectiveCost" in job.error and "ChargePeriodStart" in job.error
    assert "BilledCost" not in job.error
    assert BillRow.objects.count() == 0


def test_a_binary_file_fails_with_a_plain_reason(import_bill: Importer) -> None:
    job = import_bill(b"\xff\xfe\x00\x01garbage")
    assert job.status == BillImport.Status.FAILED
    assert job.error == "The file is not UTF-8 text, so it is not a FOCUS CSV."


def test_a_failed_import_leaves_no_rows(
    import_bill: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costs.services import bills

    calls = {"n": 0}
    real = bills._bill_row

    def explode(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > bills.BATCH_ROWS:
            raise OSError("disk went away")
        return real(*args)

    monkeypatch.setattr(bills, "_bill_row", explode)
    lines = [bill_line(resource=f"r-{n}") for n in range(bills.BATCH_ROWS + 5)]
    job = import_bill(bill_csv(*lines))
    assert job.status == BillImport.Status.FAILED and "disk went away" in job.error
    assert BillRow.objects.count() == 0


def test_running_a_job_twice_is_harmless(import_bill: Importer) -> None:
    job = import_bill(bill_csv(bill_line()))
    assert bill_import_run(job_id=job.pk) is None
    assert BillRow.objects.count() == 1


def test_an_empty_upload_is_refused(media: Path) -> None:
    import io

    with pytest.raises(ValidationError, match="empty"):
        bill_import_create(actor=None, file=io.BytesIO(b""), enqueue=False)
    assert BillImport.objects.count() == 0


def test_upload_enqueues_after_commit(media: Path, django_capture_on_commit_callbacks: Any) -> None:
    import io

    with django_capture_on_commit_callbacks(execute=True):
        job = bill_import_create(actor=None, file=io.BytesIO(bill_csv(bill_line())))
    job.refresh_from_db()
    # The eager task ran after commit.
    assert job.status == BillImport.Status.SUCCEEDED and job.rows_stored == 1


def test_the_command_imports_and_prints_counts(media: Path, tmp_path: Path) -> None:
    import io

    path = tmp_path / "september.csv"
    path.write_bytes(bill_csv(bill_line(), bill_line(currency="EUR", resource="r-9")))
    out = io.StringIO()
    call_command("import_focus", str(path), stdout=out)
    assert "stored 1" in out.getvalue() and "currency 1" in out.getvalue()
    assert "line 3: BillingCurrency EUR" in out.getvalue()


def test_the_command_fails_on_a_refused_file(media: Path, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "bad.csv"
    path.write_bytes(b"BilledCost\n1\n")
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("import_focus", str(path))


# Mappings -----------------------------------------------------------------


def test_the_lowest_order_that_matches_wins(import_bill: Importer) -> None:
    gpu, wse = BackendFactory.create(slug="gpu"), BackendFactory.create(slug="wse")
    bill_mapping_create(
        actor=None, backend=wse, column="ServiceName", pattern="Amazon .*", order=20
    )
    bill_mapping_create(
        actor=None, backend=gpu, column="ResourceId", pattern="arn:aws:ec2:.*", order=10
    )
    job = import_bill(bill_csv(bill_line(), bill_line(resource="other", service="Amazon S3")))
    backends = dict(BillRow.objects.values_list("resource_id", "backend__slug"))
    assert backends == {"arn:aws:ec2:i-1": "gpu", "other": "wse"}
    assert job.unmatched_count == 0


def test_patterns_must_match_the_whole_value(import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu")
    bill_mapping_create(actor=None, backend=gpu, column="SkuId", pattern="SKU", order=1)
    job = import_bill(bill_csv(bill_line(sku="SKU1"), bill_line(sku="SKU", resource="r-2")))
    assert dict(BillRow.objects.values_list("sku_id", "backend__slug")) == {
        "SKU1": None,
        "SKU": "gpu",
    }
    assert job.unmatched_count == 1


def test_tags_rules_match_one_key(import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu")
    bill_mapping_create(
        actor=None, backend=gpu, column="Tags", tag_key="org", pattern="trey", order=1
    )
    tags = '"{""org"": ""trey"", "" org"": ""x""}"'
    other = '"{""team"": ""trey""}"'
    import_bill(bill_csv(bill_line(tags=tags), bill_line(tags=other, resource="r-2")))
    assert dict(BillRow.objects.values_list("resource_id", "backend__slug")) == {
        "arn:aws:ec2:i-1": "gpu",
        "r-2": None,
    }


def test_a_bad_pattern_or_tag_key_is_refused_naming_the_field() -> None:
    gpu = BackendFactory.create(slug="gpu")
    with pytest.raises(ValidationError) as bad:
        bill_mapping_create(actor=None, backend=gpu, column="ServiceName", pattern="(", order=1)
    assert "pattern" in bad.value.message_dict
    with pytest.raises(ValidationError) as no_key:
        bill_mapping_create(actor=None, backend=gpu, column="Tags", pattern=".*", order=1)
    assert "tag_key" in no_key.value.message_dict
    with pytest.raises(ValidationError) as stray_key:
        bill_mapping_create(
            actor=None, backend=gpu, column="SkuId", tag_key="x", pattern=".*", order=1
        )
    assert "tag_key" in stray_key.value.message_dict
    with pytest.raises(ValidationError) as column:
        bill_mapping_create(actor=None, backend=gpu, column="BilledCost", pattern=".*", order=1)
    assert "column" in column.value.message_dict
    bill_mapping_create(actor=None, backend=gpu, column="SkuId", pattern=".*", order=1)
    with pytest.raises(ValidationError) as taken:
        bill_mapping_create(actor=None, backend=gpu, column="SkuId", pattern="x", order=1)
    assert "order" in str(taken.value)
    assert BillMapping.objects.count() == 1


def test_mapping_changes_reassign_stored_rows(import_bill: Importer) -> None:
    gpu, wse = BackendFactory.create(slug="gpu"), BackendFactory.create(slug="wse")
    job = import_bill(bill_csv(bill_line(), bill_line(resource="r-2", provider="Oracle")))
    assert job.unmatched_count == 2
    rule = bill_mapping_create(
        actor=None, backend=gpu, column="ProviderName", pattern="AWS", order=5
    )
    assert BillRow.objects.filter(backend=gpu).count() == 1
    job.refresh_from_db()
    assert job.unmatched_count == 1
    bill_mapping_update(actor=None, mapping=rule, pattern="AWS|Oracle")
    assert BillRow.objects.filter(backend=gpu).count() == 2
    first = bill_mapping_create(
        actor=None, backend=wse, column="ProviderName", pattern="Oracle", order=1
    )
    assert dict(BillRow.objects.values_list("provider_name", "backend__slug")) == {
        "AWS": "gpu",
        "Oracle": "wse",
    }
    bill_mapping_delete(actor=None, mapping=first)
    bill_mapping_delete(actor=None, mapping=rule)
    assert BillRow.objects.filter(backend__isnull=True).count() == 2
    actions = list(
        ChangeRecord.objects.filter(content_type__model="billmapping").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == sorted(["create", "update", "create", "delete", "delete"])


def test_unmatched_rows_are_listed_with_their_totals(import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu")
    bill_mapping_create(actor=None, backend=gpu, column="ProviderName", pattern="AWS", order=1)
    import_bill(
        bill_csv(
            bill_line(),
            bill_line(
                provider="Oracle", service="COMPUTE", resource="o-1", effective="4.25", billed="5"
            ),
            bill_line(
                provider="Oracle", service="COMPUTE", resource="o-2", effective="-0.25", billed="-1"
            ),
            bill_line(
                provider="Oracle",
                service="NETWORK",
                resource="o-3",
                billing_start="2024-08-01 00:00:00",
            ),
        )
    )
    september = bill_unmatched("2024-09")
    assert september.total.rows == 2
    assert september.total.effective_cost == Decimal("4")
    assert september.total.billed_cost == Decimal("4")
    assert [(g.extra["provider_name"], g.label, g.rows) for g in september.groups] == [
        ("Oracle", "COMPUTE", 2)
    ]
    assert bill_unmatched().total.rows == 3
    with pytest.raises(ValidationError):
        bill_unmatched("2024-13")


def test_job_totals_by_backend(import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu", name="GPU pool")
    bill_mapping_create(actor=None, backend=gpu, column="ProviderName", pattern="AWS", order=1)
    job = import_bill(bill_csv(bill_line(), bill_line(provider="Oracle", resource="o-1")))
    assert [(t.label, t.rows) for t in bill_import_backends(job)] == [("GPU pool", 1), ("", 1)]


def test_a_backends_day_cost_spreads_its_mapped_rows(import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu")
    bill_mapping_create(actor=None, backend=gpu, column="ProviderName", pattern="AWS", order=1)
    import_bill(
        bill_csv(
            bill_line(effective="6", start="2024-09-18 12:00:00", end="2024-09-19 12:00:00"),
            bill_line(effective="1", resource="r-2"),
            bill_line(effective="100", provider="Oracle", resource="o-1"),
        )
    )
    assert bill_backend_day_cost(backend_id=gpu.pk, day=dt.date(2024, 9, 18)) == Decimal("4")
    assert bill_backend_day_cost(backend_id=gpu.pk, day=dt.date(2024, 9, 19)) == Decimal("3")
