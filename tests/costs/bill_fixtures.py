"""Helpers and fixtures of the bill tests (imported by them by name, so
that no conftest is shared with the other costs tests)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from costs.models import BillImport
from costs.services import bill_import_create, bill_import_run
from tests.conftest import SAMPLE_DATA

FOCUS = SAMPLE_DATA / "focus"
SAMPLE = FOCUS / "focus_1.0_sample_1000.csv"

HEADER = (
    "BilledCost,EffectiveCost,ListCost,ContractedCost,BillingCurrency,ChargeCategory,"
    "ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,BillingPeriodEnd,"
    "ResourceId,ServiceName,SkuId,ProviderName,Tags"
)


def bill_line(
    *,
    billed: str = "2.00",
    effective: str = "1.50",
    listed: str = "3.00",
    currency: str = "USD",
    category: str = "Usage",
    start: str = "2024-09-18 22:00:00",
    end: str = "2024-09-18 23:00:00",
    billing_start: str = "2024-09-01 00:00:00",
    resource: str = "arn:aws:ec2:i-1",
    service: str = "Amazon EC2",
    sku: str = "SKU1",
    provider: str = "AWS",
    tags: str = "NULL",
) -> str:
    return ",".join(
        [
            billed,
            effective,
            listed,
            effective,
            currency,
            category,
            start,
            end,
            billing_start,
            "2024-10-01 00:00:00",
            resource,
            service,
            sku,
            provider,
            tags,
        ]
    )


def bill_csv(*lines: str) -> bytes:
    return (HEADER + "\n" + "\n".join(lines) + "\n").encode()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT  # type: ignore[no-any-return]


@pytest.fixture
def import_bill(media: Path, db: None) -> Callable[..., BillImport]:
    """Import bytes (or a path) through the real services, synchronously."""

    def run(content: bytes | Path, actor: Any = None, name: str = "bill.csv") -> BillImport:
        if isinstance(content, Path):
            job = bill_import_create(actor=actor, file=content, enqueue=False)
        else:
            upload = io.BytesIO(content)
            upload.name = name
            job = bill_import_create(actor=actor, file=upload, enqueue=False)
        bill_import_run(job_id=job.pk)
        job.refresh_from_db()
        return job

    return run
