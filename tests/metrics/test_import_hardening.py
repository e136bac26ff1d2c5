"""Issue 8, imports: bad input refused line by line or as a whole with one
clear reason, never an internal error; nothing stored is not a success;
cardinality is bounded; the broker being down loses nothing."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client
from kombu.exceptions import OperationalError

from metrics import storage
from metrics.models import ImportJob, Sample, Series
from metrics.services import import_job_create, import_jobs_requeue_stale, imports
from metrics.tasks import run_import_job
from pilots.models import Backend, Pilot
from tests.metrics.conftest import give_raci_letter

pytestmark = pytest.mark.django_db

Run = Callable[..., ImportJob]
T0 = 1772359200  # 2026-03-01T10:00:00Z


def _reasons(job: ImportJob) -> dict[int, str]:
    return {int(r["line"]): str(r["reason"]) for r in job.rejects}


# --------------------------------------------------------------------------
# NaN and infinite timestamps, in every format
# --------------------------------------------------------------------------

NON_FINITE = ("NaN", "+Inf", "-Inf")


@pytest.mark.parametrize("bad", NON_FINITE)
def test_non_finite_csv_timestamps_are_rejected_per_line(run_import: Run, bad: str) -> None:
    # The first line is bad too: in the first batch it used to fail the
    # whole import with an internal error.
    content = f"{bad},power_watts,1,gpu=0\n{T0},power_watts,2,gpu=0\n{bad},power_watts,3,gpu=1\n"

    job = run_import(content, fmt="csv")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.samples_stored == 1
    assert set(_reasons(job)) == {1, 3}
    assert all("not a finite number" in reason for reason in _reasons(job).values())
    assert Sample.objects.get().ts.year == 2026


def test_non_finite_timestamps_in_a_csv_batch_after_the_first_are_rejected(
    run_import: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the first batch they were stored as year 294247."""
    monkeypatch.setattr(storage, "BATCH_SIZE", 2)
    rows = [f"{T0 + i},power_watts,{i},gpu=0" for i in range(4)] + ["NaN,power_watts,9,gpu=0"]

    job = run_import("\n".join(rows) + "\n", fmt="csv")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.samples_stored, job.rejected) == (4, 1)
    assert max(sample.ts.year for sample in Sample.objects.all()) == 2026


@pytest.mark.parametrize("bad", NON_FINITE)
def test_non_finite_prometheus_text_timestamps_are_rejected_per_line(
    run_import: Run, bad: str
) -> None:
    content = (
        "# TYPE power_watts gauge\n"
        f'power_watts{{gpu="0"}} 1 {bad}\n'
        f'power_watts{{gpu="1"}} 2 {T0 * 1000}\n'
    )

    job = run_import(content, fmt="prometheus_text")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.samples_stored == 1
    assert list(_reasons(job)) == [2]
    assert max(sample.ts.year for sample in Sample.objects.all()) == 2026


@pytest.mark.parametrize("bad", NON_FINITE)
def test_non_finite_openmetrics_timestamps_are_rejected_per_line(run_import: Run, bad: str) -> None:
    content = (
        "# TYPE power_watts gauge\n"
        f'power_watts{{gpu="0"}} 1 {bad}\n'
        f'power_watts{{gpu="1"}} 2 {T0}\n'
        "# EOF\n"
    )

    job = run_import(content, fmt="openmetrics")

    # OpenMetrics is strict: the parser may refuse the document with the
    # line; either way nothing odd is stored and no internal error is shown.
    assert "Internal error" not in job.error
    assert not Sample.objects.filter(ts__year__gt=2100).exists()
    if job.status == ImportJob.Status.SUCCEEDED:
        assert job.samples_stored == 1
        assert list(_reasons(job)) == [2]
    else:
        assert "line 2" in job.error


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", '"NaN"', '"+Inf"'])
def test_non_finite_query_range_timestamps_are_rejected_per_point(
    run_import: Run, bad: str
) -> None:
    body = (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        '{"__name__":"power_watts","gpu":"0"},"values":'
        f'[[{bad},"1"],[{T0},"2"],[{bad},"3"]]}}]}}}}'
    )

    job = run_import(body, fmt="query_range_json")

    assert "Internal error" not in job.error, job.error
    assert not Sample.objects.filter(ts__year__gt=2100).exists()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.samples_stored, job.rejected) == (1, 2)


# --------------------------------------------------------------------------
# NUL bytes and internal errors
# --------------------------------------------------------------------------


def test_a_nul_in_a_metric_name_is_a_line_reject(run_import: Run) -> None:
    content = f"{T0},power\x00_watts,1,gpu=0\n{T0},power_watts,2,gpu=0\n"

    job = run_import(content, fmt="csv")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.samples_stored == 1
    assert _reasons(job) == {1: "metric name contains control characters"}
    assert job.unmapped == {}


def test_a_nul_in_a_form_field_is_a_400_naming_it(
    client: Client, team_member: Any, catalog: None, backend: Backend
) -> None:
    client.force_login(team_member)
    for field, value in (("backend", "gpu\x00-a"), ("format", "csv\x00")):
        data = {"file": SimpleUploadedFile("m.csv", b"1,a,1\n"), "backend": backend.slug}
        data[field] = value
        response = client.post("/api/v1/imports/", data)
        assert response.status_code == 400, response.content
        assert field in response.json()["error"]["fields"]
    assert not ImportJob.objects.exists()


def test_a_nul_on_the_upload_page_is_a_form_error(
    as_user: Callable[[Any], Client], pm: Any, catalog: None, backend: Backend
) -> None:
    page = as_user(pm).post(
        "/metrics/imports/new/",
        {"file": SimpleUploadedFile("m.csv", b"1,a,1\n"), "backend": "gpu\x00-a"},
    )

    assert page.status_code == 200
    assert page.context["form"].errors["backend"]
    assert not ImportJob.objects.exists()


def test_an_unknown_field_is_a_400_naming_it(
    client: Client, team_member: Any, catalog: None, backend: Backend, pilot: Pilot
) -> None:
    client.force_login(team_member)
    response = client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("m.csv", b"1,a,1\n"), "backend": "gpu-a", "pilot_id": pilot.pk},
    )

    assert response.status_code == 400
    assert "pilot_id" in response.json()["error"]["fields"]


def test_a_database_error_shows_a_reference_and_logs_the_detail(
    run_import: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: storage.SampleWriter) -> int:
        raise DatabaseError('syntax error at "INSERT INTO metrics_sample" in /srv/pilotgate/x.py')

    monkeypatch.setattr(storage.SampleWriter, "finish", broken)
    with caplog.at_level(logging.ERROR, logger="metrics.services.imports"):
        job = run_import(f"{T0},power_watts,1,\n", fmt="csv")

    assert job.status == ImportJob.Status.FAILED
    reference = job.error.split("reference ")[1].split(".")[0]
    assert reference.startswith("E-")
    for leak in ("INSERT", "metrics_sample", "/srv", "syntax"):
        assert leak not in job.error
    assert reference in caplog.text and "metrics_sample" in caplog.text


def test_a_missing_file_does_not_show_the_server_path(
    catalog: None, backend: Backend, settings: Any
) -> None:
    job = import_job_create(
        actor=None,
        backend=backend,
        file=io.BytesIO(f"{T0},power_watts,1,\n".encode()),
        enqueue=False,
    )
    (Path(settings.MEDIA_ROOT) / job.file_path).unlink()

    imports.import_job_run(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportJob.Status.FAILED
    assert str(settings.MEDIA_ROOT) not in job.error
    assert job.error.startswith("Internal error, reference E-")


# --------------------------------------------------------------------------
# Cardinality
# --------------------------------------------------------------------------


def test_an_import_creating_too_many_series_is_refused_saying_how_many(
    run_import: Run, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.METRICS_MAX_NEW_SERIES_PER_IMPORT = 10
    monkeypatch.setattr(storage, "BATCH_SIZE", 7)  # the limit is passed mid-file
    content = "".join(f"{T0},power_watts,1,request_id=r{i}\n" for i in range(25))

    job = run_import(content, fmt="csv")

    assert job.status == ImportJob.Status.FAILED
    assert "would create 25 new series" in job.error
    assert "at most 10" in job.error and "METRICS_MAX_NEW_SERIES_PER_IMPORT" in job.error
    assert not Series.objects.exists()
    assert not Sample.objects.exists()


def test_existing_series_do_not_count_against_the_limit(run_import: Run, settings: Any) -> None:
    content = "".join(f"{T0},power_watts,1,gpu={i}\n" for i in range(8))
    assert run_import(content, fmt="csv").status == ImportJob.Status.SUCCEEDED
    settings.METRICS_MAX_NEW_SERIES_PER_IMPORT = 2

    again = "".join(f"{T0 + 60},power_watts,1,gpu={i}\n" for i in range(10))
    job = run_import(again, fmt="csv")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Series.objects.count() == 10


# --------------------------------------------------------------------------
# Nothing stored, bills, CSV headers, grouped rejects, a single scrape
# --------------------------------------------------------------------------

FOCUS = (
    "BilledCost,BillingAccountId,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ServiceName\n"
    "12.5,acct-1,USD,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,Compute\n"
)


@pytest.mark.parametrize("fmt", ["auto", "csv", "prometheus_text"])
def test_a_focus_bill_is_refused_as_a_bill(run_import: Run, fmt: str) -> None:
    job = run_import(FOCUS, fmt=fmt)

    assert job.status == ImportJob.Status.FAILED
    assert "FOCUS bill" in job.error and "upload it as a bill" in job.error
    assert job.rejected == 0  # one reason, not a thousand rejected lines


def test_a_csv_with_a_header_is_read_as_csv(run_import: Run) -> None:
    job = run_import(f"timestamp,metric,value,labels\n{T0},power_watts,5,gpu=0\n")

    assert job.detected_format == "csv"
    assert job.samples_stored == 1


def test_a_csv_with_another_header_is_detected_and_refused_with_the_columns(
    run_import: Run,
) -> None:
    job = run_import(f"time,name,reading\n{T0},power_watts,5\n")

    assert job.detected_format == "csv"
    assert job.status == ImportJob.Status.FAILED
    assert "timestamp,metric,value,labels" in job.error and "'time,name,reading'" in job.error


def test_an_import_that_stores_nothing_fails_with_one_reason(run_import: Run) -> None:
    job = run_import("".join(f"{T0},power_watts,abc{i},gpu=0\n" for i in range(30)), fmt="csv")

    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("Nothing was stored: 30 of 30 samples were rejected")
    assert "is not a number" in job.error
    assert job.rejected == 30


def test_an_import_of_unknown_names_only_fails_saying_so(run_import: Run) -> None:
    job = run_import(f"{T0},no_such_metric,1,\n{T0},other_unknown,2,\n", fmt="csv")

    assert job.status == ImportJob.Status.FAILED
    assert "None of the 2 samples has a known metric name" in job.error


def test_reimporting_a_file_still_succeeds(run_import: Run) -> None:
    content = f"{T0},power_watts,1,gpu=0\n{T0 + 60},power_watts,2,gpu=0\n"
    run_import(content, fmt="csv")

    again = run_import(content, fmt="csv")

    assert (again.status, again.samples_stored, again.duplicates) == ("succeeded", 0, 2)


def test_rejects_are_grouped_by_reason_with_counts_and_first_lines(run_import: Run) -> None:
    lines = [f"{T0 + i},power_watts,x{i},gpu=0" for i in range(40)]  # 1-40: not a number
    lines += [f"{T0 + 10**9 + i},power_watts,1,gpu=0" for i in range(3)]  # 41-43: future
    lines += [f"{T0},power_watts,7,gpu=0"]

    job = run_import("\n".join(lines) + "\n", fmt="csv")

    groups = job.reject_groups
    assert [(g["count"], g["lines"]) for g in groups] == [(40, [1, 2, 3, 4, 5]), (3, [41, 42, 43])]
    assert "is not a number" in groups[0]["reason"]
    assert "in the future" in groups[1]["reason"]


def test_the_job_page_shows_groups_not_every_reject(
    run_import: Run, as_user: Callable[[Any], Client], pm: Any
) -> None:
    lines = [f"{T0 + i},power_watts,x{i},gpu=0" for i in range(2000)] + [f"{T0},power_watts,1,"]
    job = run_import("\n".join(lines) + "\n", fmt="csv")

    body = as_user(pm).get(f"/metrics/imports/{job.pk}/").content.decode()

    assert "2,000" in body
    assert "1, 2, 3, 4, 5" in body
    assert body.count("is not a number") < 20


def test_the_api_gives_reject_groups(run_import: Run, client: Client, finance: Any) -> None:
    job = run_import(f"{T0},power_watts,x,\n{T0},power_watts,1,\n", fmt="csv")
    client.force_login(finance)

    body = client.get(f"/api/v1/imports/{job.pk}/").json()

    assert body["reject_groups"] == [
        {"reason": "value 'x' is not a number", "count": 1, "lines": [1]}
    ]


def test_a_single_scrape_says_it_gives_no_rates(
    run_import: Run, client: Client, finance: Any, backend: Backend
) -> None:
    scrape = "# TYPE vllm:request_success_total counter\nvllm:request_success_total 42\n"

    job = run_import(scrape)

    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.samples_stored == 1
    assert "single scrape" in job.note and "rates" in job.note
    client.force_login(finance)
    summary = client.get(
        "/api/v1/backends/gpu-a/summary/?start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z"
    ).json()
    assert "single sample" in summary["note"]


# --------------------------------------------------------------------------
# The broker is down during an upload
# --------------------------------------------------------------------------


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """``delay`` raises what kombu raises when Redis refuses connections;
    calling the returned function brings the broker back."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(run_import_job, "delay", refuse)
    return lambda: monkeypatch.undo()


# Committed for real, so the after-commit enqueue runs inside the request.
@pytest.mark.django_db(transaction=True)
def test_api_upload_with_the_broker_down_keeps_the_job_and_the_sweep_sends_it(
    client: Client,
    team_member: Any,
    catalog: None,
    backend: Backend,
    settings: Any,
    broker_down: Callable[[], None],
) -> None:
    client.force_login(team_member)
    response = client.post(
        "/api/v1/imports/",
        {
            "file": SimpleUploadedFile("m.csv", f"{T0},power_watts,1,\n".encode()),
            "backend": backend.slug,
        },
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert "queue was unreachable" in body["note"]
    job = ImportJob.objects.get()
    assert job.enqueue_pending
    assert (Path(settings.MEDIA_ROOT) / job.file_path).is_file()

    assert import_jobs_requeue_stale() == []  # still down: nothing lost, nothing sent
    broker_down()  # back
    assert import_jobs_requeue_stale() == [job.pk]

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.samples_stored, job.enqueue_pending) == (1, False)
    assert "unreachable" not in job.note


@pytest.mark.django_db(transaction=True)
def test_page_upload_with_the_broker_down_says_so_and_keeps_the_file(
    as_user: Callable[[Any], Client],
    pm: Any,
    catalog: None,
    backend: Backend,
    settings: Any,
    broker_down: Callable[[], None],
) -> None:
    page = as_user(pm).post(
        "/metrics/imports/new/",
        {
            "file": SimpleUploadedFile("m.csv", f"{T0},power_watts,1,\n".encode()),
            "backend": "gpu-a",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert "queue was unreachable" in page.content.decode()
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED and job.enqueue_pending
    assert (Path(settings.MEDIA_ROOT) / job.file_path).is_file()


def test_the_sweep_runs_every_few_minutes_from_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stale-import-jobs"]
    assert entry["task"] == "metrics.requeue_stale_import_jobs"
    assert float(entry["schedule"]) <= 300
    assert settings.METRICS_IMPORT_STALE_SECONDS < 600
    assert settings.METRICS_IMPORT_HEARTBEAT_SECONDS * 3 <= settings.METRICS_IMPORT_STALE_SECONDS


# --------------------------------------------------------------------------
# A pilot label tags the pilot
# --------------------------------------------------------------------------


def test_a_pilot_label_tags_the_series_with_that_pilot(
    run_import: Run, pilot: Pilot, backend: Backend
) -> None:
    content = (
        f"{T0},power_watts,1,gpu=0;pilot={pilot.pk}\n"
        f"{T0},power_watts,2,gpu=0;pilot={pilot.name}\n"
        f"{T0},power_watts,3,gpu=0;pilot=not-a-pilot\n"
    )

    job = run_import(content, fmt="csv")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    tagged = Series.objects.get(pilot=pilot)
    assert tagged.labels == {"gpu": "0"}  # by id and by name: one series
    assert (job.samples_stored, job.duplicates) == (2, 1)
    assert Series.objects.get(pilot=None).labels == {"gpu": "0", "pilot": "not-a-pilot"}


def test_a_pilot_label_tags_only_pilots_the_uploader_may_tag(
    catalog: None, backend: Backend, other_backend: Backend, pilot_team: Any, pilot: Pilot
) -> None:
    from tests.factories import PilotFactory

    mine = PilotFactory.create(candidate_backend=other_backend, baseline_backend=backend)
    give_raci_letter(pilot_team, mine)
    content = f"{T0},power_watts,1,pilot={pilot.pk}\n{T0},power_watts,2,pilot={mine.pk}\n"
    job = import_job_create(
        actor=pilot_team, backend=backend, file=io.BytesIO(content.encode()), enqueue=False
    )

    imports.import_job_run(job_id=job.pk)

    assert Series.objects.filter(pilot=mine).count() == 1
    assert not Series.objects.filter(pilot=pilot).exists()
    assert Series.objects.get(pilot=None).labels == {"pilot": str(pilot.pk)}


def test_job_api_body_is_json_serialisable(run_import: Run) -> None:
    job = run_import(f"{T0},power_watts,1,\n", fmt="csv")
    json.dumps(job.reject_groups)
