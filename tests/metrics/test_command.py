"""The import_metrics management command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from metrics.models import ImportJob, Sample
from pilots.models import Backend
from tests.metrics.conftest import DATA

pytestmark = pytest.mark.django_db


@pytest.mark.sample_data
def test_imports_each_file_and_prints_counts(
    catalog: None, backend: Backend, tmp_path: Path
) -> None:
    csv_file = tmp_path / "m.csv"
    csv_file.write_text("1772359200,power_watts,200,gpu=0\n1772359200,power_watts,NaN,gpu=1\n")
    out = io.StringIO()
    call_command(
        "import_metrics",
        "--backend",
        backend.slug,
        "--scrape-time",
        "2026-03-01T10:00:00Z",
        str(csv_file),
        str(DATA / "dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt"),
        stdout=out,
    )
    text = out.getvalue()
    assert "m.csv: job" in text and "stored 1" in text and "rejected 1" in text
    assert "line 2: NaN" in text
    assert "kops_L4_dcgm_exporter_scrape.txt: job" in text
    assert ImportJob.objects.filter(source="cli", status="succeeded").count() == 2


def test_fails_with_non_zero_exit_when_a_file_fails(
    catalog: None, backend: Backend, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00\x01\x02\x03" * 100)
    good = tmp_path / "good.csv"
    good.write_text("1772359200,power_watts,200,\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2"):
        call_command(
            "import_metrics",
            "--backend",
            backend.slug,
            str(bad),
            str(good),
            stderr=err,
            stdout=io.StringIO(),
        )
    assert "bad.bin: job" in err.getvalue() and "failed" in err.getvalue()
    assert Sample.objects.count() == 1


def test_unknown_backend_or_missing_file_is_a_clear_error(
    catalog: None, backend: Backend, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="No backend"):
        call_command("import_metrics", "--backend", "nope", "x.txt")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_metrics", "--backend", backend.slug, str(tmp_path / "missing.txt"), stderr=err
        )
    assert "No such file" in err.getvalue()
