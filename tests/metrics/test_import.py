"""The import service end to end on the default database: mapping,
validation, idempotency, atomicity, claiming, rollups and counter resets."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from metrics import services, storage
from metrics.models import HourlyRollup, ImportJob, MetricDefinition, Sample, Series
from metrics.services import import_job_create, import_job_run, imports
from pilots.models import Backend
from portal.models import ChangeRecord
from tests.metrics.conftest import DATA, SCRAPE_TIME

pytestmark = pytest.mark.django_db

T0 = 1772359200  # 2026-03-01T10:00:00Z
Run = Callable[..., ImportJob]


def csv_rows(*rows: tuple[float, str, float, str]) -> str:
    return "".join(f"{ts},{name},{value},{labels}\n" for ts, name, value, labels in rows)


@pytest.mark.sample_data
def test_vllm_scrape_maps_histograms_and_counters(run_import: Run) -> None:
    job = run_import(DATA / "vllm/datadog_vllm_fixture_metrics.txt")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.detected_format == "prometheus_text"
    assert job.samples_read == 185
    assert (
        job.samples_read == job.samples_stored + job.duplicates + job.rejected + job.unmapped_count
    )
    assert job.unmapped["vllm:num_requests_running"] == 1
    e2e = Series.objects.filter(metric__name="request_latency_seconds", component="bucket")
    assert max(le or 0.0 for le in e2e.values_list("le", flat=True)) == float("inf")
    tokens = Sample.objects.get(series__metric__name="generation_tokens_total")
    assert tokens.value == 7.0
    # no timestamps in a scrape: the scrape time applies
    assert tokens.ts == SCRAPE_TIME
    assert job.window_start == job.window_end == SCRAPE_TIME


@pytest.mark.sample_data
def test_real_scrapes_and_api_responses_import(run_import: Run) -> None:
    for path in [
        "vllm/kops_vllm_qwen25_0.5b_scrape.txt",
        "dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt",
        "dcgm-exporter/vks_vgpu_A100-10C_dcgm_exporter_scrape.txt",
        "prometheus-api/instant_query_vector_dcgm_L40S_upcloud.json",
    ]:
        job = run_import(DATA / path)
        assert job.status == ImportJob.Status.SUCCEEDED, (path, job.error)
        assert job.rejected == 0, (path, job.rejects)


@pytest.mark.sample_data
@pytest.mark.parametrize(
    "path",
    [
        "prometheus-api/query_range_matrix_up.prometheus-docs.json",
        "prometheus-text/prometheus-testdata/textparse_alltypes.237mfs.prom.txt",
        "prometheus-text/prometheus-testdata/promtool_dump-openmetrics-roundtrip-test.prom",
    ],
)
def test_a_real_file_of_only_unknown_metrics_fails_with_one_reason(
    run_import: Run, path: str
) -> None:
    # Prometheus' own test data holds no inference metric (`up`, HTTP
    # handlers): it parses cleanly, nothing is stored, so the import is not a
    # success, and the one reason says what to do.
    job = run_import(DATA / path)
    assert job.status == ImportJob.Status.FAILED
    assert job.samples_stored == 0
    assert job.rejected == 0, job.rejects
    assert "known metric name" in job.error
    assert "add a metric mapping" in job.error


@pytest.mark.sample_data
def test_dcgm_units_are_converted_and_bitmasks_decoded(run_import: Run) -> None:
    job = run_import(DATA / "dcgm-exporter/datadog_dcgm_fixture_metrics.txt")
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    energy = Sample.objects.filter(series__metric__name="energy_joules_total").first()
    assert energy is not None
    raw_mj = [
        float(line.rsplit(" ", 1)[1])
        for line in (DATA / "dcgm-exporter/datadog_dcgm_fixture_metrics.txt")
        .read_text()
        .splitlines()
        if line.startswith("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{")
    ]
    assert sorted(
        Sample.objects.filter(series__metric__name="energy_joules_total").values_list(
            "value", flat=True
        )
    ) == sorted(v / 1000 for v in raw_mj)
    # throttle reason bitmask 1 = gpu_idle: not throttling
    throttle = Sample.objects.filter(series__metric__name="throttle_active")
    assert throttle.exists()
    assert set(throttle.values_list("value", flat=True)) <= {0.0, 1.0}
    # DCGM's Hostname label is normalised
    labels = Series.objects.filter(metric__name="power_watts").values_list("labels", flat=True)
    assert all("Hostname" not in label for label in labels)


def test_csv_with_canonical_names_and_rejects(run_import: Run) -> None:
    content = "timestamp,metric,value,labels\n" + csv_rows(
        (T0, "power_watts", 200, "gpu=0"),
        (T0 + 60, "power_watts", float("nan"), "gpu=0"),
        (T0 + 60, "requests_total", -1, "gpu=0"),
        (time.time() + 2 * 3600, "power_watts", 1, "gpu=0"),
        (T0 + 120, "power_watts", 1, "bad-name=1"),
        (T0 + 180, "power_watts", 1, "gpu=a\x07b"),
        (T0 + 240, "power_watts", 1, "gpu=" + "x" * 1025),
        (T0 + 300, "no_such_metric", 1, ""),
        (T0 + 360, "DCGM_FI_DEV_POWER_USAGE", 9223372036854775794, ""),
    )
    job = run_import(content, scrape_time=dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC))
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    reasons = {r["line"]: r["reason"] for r in job.rejects}
    assert job.samples_stored == 1, (job.rejects, job.unmapped)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 10]
    assert "NaN" in reasons[3]
    assert "negative" in reasons[4]
    when = r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+\.\d{3}\)"
    assert re.fullmatch(f"timestamp {when} is more than 1 h in the future", reasons[5])
    assert "label name" in reasons[6]
    assert "control characters" in reasons[7]
    assert "longer than 1024" in reasons[8]
    assert "sentinel" in reasons[10]
    assert job.unmapped == {"no_such_metric": 1}


def test_timestamps_before_1970_or_beyond_any_date_are_rejected_readably(run_import: Run) -> None:
    content = csv_rows(
        (T0, "power_watts", 1, "gpu=0"),
        (-60, "power_watts", 1, "gpu=0"),
        (1e20, "power_watts", 1, "gpu=0"),
    )
    job = run_import(content)
    reasons = {r["line"]: r["reason"] for r in job.rejects}
    assert job.samples_stored == 1
    assert reasons == {
        2: "timestamp 1969-12-31 23:59:00 UTC (-60.000) is before 1970",
        3: "timestamp 100000000000000000000.000 is more than 1 h in the future",
    }


def test_importing_the_same_file_twice_stores_nothing_new(run_import: Run) -> None:
    content = csv_rows(*[(T0 + 60 * i, "requests_total", i, "model=m") for i in range(10)])
    first = run_import(content)
    second = run_import(content)
    assert (first.samples_stored, first.duplicates) == (10, 0)
    assert (second.status, second.samples_stored, second.duplicates) == ("succeeded", 0, 10)
    assert Sample.objects.count() == 10


def test_duplicate_timestamps_within_a_file_count_as_duplicates(run_import: Run) -> None:
    job = run_import(
        csv_rows(
            (T0, "power_watts", 1, ""), (T0, "power_watts", 2, ""), (T0 + 1, "power_watts", 3, "")
        )
    )
    assert (job.samples_stored, job.duplicates) == (2, 1)


@pytest.mark.sample_data
def test_scrape_without_timestamps_reimported_with_same_scrape_time_is_idempotent(
    run_import: Run,
) -> None:
    path = DATA / "dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt"
    first = run_import(path)
    second = run_import(path)
    assert first.samples_stored > 0
    assert second.samples_stored == 0
    assert second.duplicates == first.samples_stored


def test_failure_mid_job_leaves_no_rows_and_says_why(
    run_import: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = storage.SampleWriter.flush

    def failing_flush(self: storage.SampleWriter) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk on fire")
        original(self)

    monkeypatch.setattr(storage.SampleWriter, "flush", failing_flush)
    monkeypatch.setattr(storage, "BATCH_SIZE", 5)
    content = csv_rows(*[(T0 + i, "power_watts", i, f"gpu={i}") for i in range(20)])
    job = run_import(content)
    assert job.status == ImportJob.Status.FAILED
    # Users see a reference, never the exception (logged under it).
    assert job.error.startswith("Internal error, reference E-")
    assert "disk on fire" not in job.error
    assert job.finished_at is not None
    assert Sample.objects.count() == 0
    assert Series.objects.count() == 0  # created in the job's transaction, rolled back too
    assert HourlyRollup.objects.count() == 0


@pytest.mark.sample_data
def test_unparseable_file_fails_and_stores_nothing(run_import: Run) -> None:
    content = (
        DATA / "prometheus-text/openmetrics-parser-tests/bad_counter_values_0/metrics"
    ).read_bytes()
    job = run_import(b"# TYPE power_watts gauge\npower_watts 1\n" + content, fmt="openmetrics")
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("line ")
    assert Sample.objects.count() == 0


def test_binary_upload_fails_cleanly(run_import: Run) -> None:
    job = run_import(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    assert job.status == ImportJob.Status.FAILED
    assert "UTF-8" in job.error or "binary" in job.error


def test_running_the_job_twice_does_nothing_the_second_time(run_import: Run) -> None:
    job = run_import(csv_rows((T0, "power_watts", 1, "")))
    assert job.status == ImportJob.Status.SUCCEEDED
    assert import_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert Sample.objects.count() == 1


def test_a_fresh_running_job_is_not_claimed_but_a_stale_one_is(
    catalog: None, backend: Backend
) -> None:
    job = import_job_create(
        actor=None,
        backend=backend,
        file=io.BytesIO(csv_rows((T0, "power_watts", 1, "")).encode()),
        enqueue=False,
    )
    ImportJob.objects.filter(pk=job.pk).update(status="running", claimed_at=dt.datetime.now(dt.UTC))
    assert import_job_run(job_id=job.pk) is None
    ImportJob.objects.filter(pk=job.pk).update(claimed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    summary = import_job_run(job_id=job.pk)
    assert summary is not None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.samples_stored) == ("succeeded", 1, 1)


def test_task_takes_an_id_and_runs_the_service(
    run_import: Run, catalog: None, backend: Backend
) -> None:
    from metrics.tasks import run_import_job

    job = import_job_create(
        actor=None,
        backend=backend,
        file=io.BytesIO(csv_rows((T0, "power_watts", 1, "")).encode()),
        enqueue=False,
    )
    result = run_import_job.apply(args=(job.pk,)).get()
    assert result is not None and result["samples_stored"] == 1
    assert run_import_job.apply(args=(job.pk,)).get() is None


def test_create_enqueues_after_commit_and_records_the_change(
    catalog: None, backend: Backend, team_member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pilot_team = team_member
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = import_job_create(
            actor=pilot_team,
            backend=backend,
            file=io.BytesIO(csv_rows((T0, "power_watts", 1, "")).encode()),
        )
    # The enqueue, then what the eager import schedules after its own
    # commit (the success signal costs listens to).
    assert len(callbacks) >= 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    record = ChangeRecord.objects.get(object_id=str(job.pk))
    assert record.actor == pilot_team
    assert record.action == "create"


def test_upload_larger_than_the_limit_is_refused(
    catalog: None, backend: Backend, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 10
    with pytest.raises(ValidationError) as info:
        import_job_create(actor=None, backend=backend, file=io.BytesIO(b"x" * 11), enqueue=False)
    assert "file" in info.value.message_dict
    assert ImportJob.objects.count() == 0
    assert not any(Path(settings.MEDIA_ROOT, "imports").iterdir())


def test_counter_reset_counts_the_new_value_not_a_negative_increase(run_import: Run) -> None:
    # 10 → 20 → 30, restart → 5 → 15: increase = 10 + 10 + 5 + 10 = 35
    values = [10, 20, 30, 5, 15]
    job = run_import(
        csv_rows(*[(T0 + 600 * i, "generation_tokens_total", v, "") for i, v in enumerate(values)])
    )
    assert job.status == ImportJob.Status.SUCCEEDED
    rollups = list(HourlyRollup.objects.order_by("hour"))
    assert sum(r.increase or 0 for r in rollups) == 35
    assert rollups[0].count == 5
    assert (rollups[0].first, rollups[0].last, rollups[0].min, rollups[0].max) == (10, 15, 5, 30)


def test_rollup_increase_includes_the_step_from_the_previous_hour(run_import: Run) -> None:
    run_import(csv_rows((T0, "requests_total", 100, ""), (T0 + 1800, "requests_total", 150, "")))
    run_import(
        csv_rows(
            (T0 + 3600 + 60, "requests_total", 170, ""), (T0 + 7200 + 60, "requests_total", 10, "")
        )
    )
    by_hour = {r.hour.hour: r.increase for r in HourlyRollup.objects.all()}
    assert by_hour == {10: 50.0, 11: 20.0, 12: 10.0}


def test_backfill_before_existing_data_refreshes_the_following_hour(run_import: Run) -> None:
    run_import(csv_rows((T0 + 7200, "requests_total", 100, "")))
    run_import(csv_rows((T0, "requests_total", 40, "")))
    by_hour = {r.hour.hour: r.increase for r in HourlyRollup.objects.all()}
    assert by_hour == {10: 0.0, 12: 60.0}


def test_gauges_have_no_increase(run_import: Run) -> None:
    run_import(csv_rows((T0, "power_watts", 100, ""), (T0 + 60, "power_watts", 50, "")))
    rollup = HourlyRollup.objects.get()
    assert rollup.increase is None
    assert (rollup.sum, rollup.count) == (150.0, 2)


def test_histogram_from_csv_keeps_buckets_and_scales_ms_mappings(run_import: Run) -> None:
    from metrics.models import MetricMapping

    MetricMapping.objects.create(
        source_name="vendor_latency_ms",
        metric=MetricDefinition.objects.get(name="request_latency_seconds"),
        scale=0.001,
    )
    job = run_import(
        csv_rows(
            (T0, "vendor_latency_ms_bucket", 3, "le=100"),
            (T0, "vendor_latency_ms_bucket", 5, "le=+Inf"),
            (T0, "vendor_latency_ms_count", 5, ""),
            (T0, "vendor_latency_ms_sum", 900, ""),
            (T0, "vendor_latency_ms_bucket", 5, ""),
        )
    )
    assert job.samples_stored == 4
    assert job.rejects == [{"line": 5, "reason": "histogram bucket without an le label"}]
    les = sorted(
        le or 0.0 for le in Series.objects.filter(component="bucket").values_list("le", flat=True)
    )
    assert les == [0.1, float("inf")]
    assert Sample.objects.get(series__component="sum").value == pytest.approx(0.9)


def test_rejects_are_capped_but_counted(run_import: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImportJob, "MAX_REJECTS", 3)
    job = run_import(csv_rows(*[(T0 + i, "power_watts", float("nan"), "") for i in range(10)]))
    assert job.rejected == 10
    assert len(job.rejects) == 3


def test_series_key_hash_separates_null_pilot_and_le() -> None:
    key = (1, "bucket", 0.5, (("a", "b"),))
    assert storage.series_key_hash(1, None, key) != storage.series_key_hash(1, 2, key)
    assert storage.series_key_hash(1, None, key) != storage.series_key_hash(
        1, None, (1, "bucket", float("inf"), (("a", "b"),))
    )
    assert storage.series_key_hash(1, None, key) == storage.series_key_hash(1, None, key)


def test_requeue_stale_jobs_enqueues_lost_ones(
    catalog: None, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[int] = []

    def sent(job_id: int) -> bool:
        enqueued.append(job_id)
        return True

    monkeypatch.setattr(imports, "_enqueue", sent)
    job = import_job_create(
        actor=None, backend=backend, file=io.BytesIO(b"power_watts 1\n"), enqueue=False
    )
    ImportJob.objects.filter(pk=job.pk).update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert services.import_jobs_requeue_stale() == [job.pk]
    assert enqueued == [job.pk]


@pytest.mark.sample_data
def test_truncated_scrape_rejects_the_cut_line_and_keeps_the_rest(run_import: Run) -> None:
    content = (DATA / "dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt").read_bytes()
    lines = content.splitlines(keepends=True)
    power = next(i for i, line in enumerate(lines) if line.startswith(b"DCGM_FI_DEV_POWER_USAGE{"))
    last = next(i for i in range(power + 1, len(lines)) if not lines[i].startswith(b"#"))
    cut = b"".join(lines[:last]) + lines[last][:40]  # the file ends mid-line, in the labels
    job = run_import(cut)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert [r["line"] for r in job.rejects] == [last + 1]
    assert Sample.objects.filter(series__metric__name="power_watts").exists()


def test_failed_job_still_says_which_format_it_detected(run_import: Run) -> None:
    job = run_import(b'{"status":"error","errorType":"timeout","error":"query timed out"}')
    assert job.status == ImportJob.Status.FAILED
    assert job.detected_format == "query_range_json"
    assert "query timed out" in job.error


def test_query_range_batches_keep_per_sample_checks_scale_and_counts(run_import: Run) -> None:
    # Long runs of points go through the vectorised path; a bad point in a
    # run still gets its own reject and line, scale applies, unmapped counts.
    def series(name: str, labels: str, values: list[str]) -> str:
        points = ",\n".join(f'[{T0 + 15 * i}, "{v}"]' for i, v in enumerate(values))
        return f'{{"metric": {{"__name__": "{name}", {labels}}}, "values": [\n{points}\n]}}'

    counter = [str(i * 10) for i in range(200)]
    counter[120] = "-5"
    energy = [str(1000 * i) for i in range(200)]
    body = (
        '{"status": "success", "data": {"resultType": "matrix", "result": [\n'
        + series("requests_total", '"engine": "0"', counter)
        + ",\n"
        + series("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", '"gpu": "0"', energy)
        + ",\n"
        + series("not_a_known_metric", '"x": "1"', ["1"] * 50)
        + "\n]}}\n"
    )
    job = run_import(body.encode())
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.samples_read, job.samples_stored, job.rejected, job.unmapped_count) == (
        450,
        399,
        1,
        50,
    )
    # line 1 is the envelope, 2 the first series' start: point i is on line 3 + i
    assert job.rejects[0]["line"] == 3 + 120
    assert "negative" in job.rejects[0]["reason"]
    energy_values = sorted(
        Sample.objects.filter(series__metric__name="energy_joules_total").values_list(
            "value", flat=True
        )
    )
    assert energy_values[:3] == [0.0, 1.0, 2.0]
    assert job.unmapped == {"not_a_known_metric": 50}


def test_gc_frozen_unfreezes_even_when_the_import_fails() -> None:
    import gc

    from metrics.pipeline import gc_frozen

    with pytest.raises(RuntimeError), gc_frozen():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("parse failure")
    assert gc.get_freeze_count() == 0
