"""Metrics import pages: list, upload, job page and its progress fragment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from metrics.models import ImportJob, Sample
from tests.factories import BackendFactory, PilotFactory
from tests.metrics.conftest import give_raci_letter

pytestmark = pytest.mark.django_db

CSV = (
    b"timestamp,metric,value,labels\n"
    b"2026-01-05T10:00:00Z,DCGM_FI_DEV_POWER_USAGE,301.5,gpu=0\n"
    b"2026-01-05T10:00:15Z,DCGM_FI_DEV_POWER_USAGE,302.5,gpu=0\n"
    b"2026-01-05T10:00:30Z,DCGM_FI_DEV_POWER_USAGE,not-a-number,gpu=0\n"
    b"2026-01-05T10:00:45Z,my_private_metric,1,gpu=0\n"
)


def _backend(**kwargs: Any) -> Any:
    return BackendFactory(**kwargs)


def _job(backend: Any, **kwargs: Any) -> ImportJob:
    defaults: dict[str, Any] = {
        "backend": backend,
        "file_path": "imports/test.csv",
        "original_filename": "test.csv",
        "scrape_time": timezone.now(),
    }
    defaults.update(kwargs)
    return ImportJob.objects.create(**defaults)


def _finished(backend: Any, **kwargs: Any) -> ImportJob:
    started = timezone.now() - dt.timedelta(seconds=12)
    fields: dict[str, Any] = {
        "status": ImportJob.Status.SUCCEEDED,
        "samples_read": 10,
        "samples_stored": 6,
        "duplicates": 1,
        "rejected": 2,
        "unmapped_count": 1,
        "rejects": [
            {"line": 7, "reason": "NaN is not allowed for DCGM_FI_DEV_POWER_USAGE"},
            {"line": 12, "reason": "timestamp 99999999999.000 is more than 1 h in the future"},
        ],
        "unmapped": {"my_private_metric": 1},
        "started_at": started,
        "finished_at": started + dt.timedelta(seconds=2.5),
    }
    fields.update(kwargs)
    return _job(backend, **fields)


# --------------------------------------------------------------------------
# Imports list
# --------------------------------------------------------------------------


def test_imports_list_shows_recent_jobs_to_a_pm(as_user, pm):
    backend = _backend(name="Cerebras EU")
    job = _finished(backend)

    page = as_user(pm).get("/metrics/imports/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "Cerebras EU" in body
    assert f'href="/metrics/imports/{job.pk}/"' in body
    assert 'href="/metrics/imports/new/"' in body  # a PM may upload
    assert 'class="active"' in body or "active" in body


def test_imports_list_has_an_empty_state(as_user, pm):
    page = as_user(pm).get("/metrics/imports/")

    assert page.status_code == 200
    assert "No metrics have been imported yet." in page.content.decode()


def test_imports_list_filters_by_backend_and_status(as_user, pm):
    one, two = _backend(slug="one", name="Backend One"), _backend(slug="two", name="Backend Two")
    ok_one = _finished(one)
    failed_one = _finished(one, status=ImportJob.Status.FAILED, error="boom")
    ok_two = _finished(two)

    body = as_user(pm).get("/metrics/imports/?backend=one&status=failed").content.decode()

    assert f'href="/metrics/imports/{failed_one.pk}/"' in body
    assert f'href="/metrics/imports/{ok_one.pk}/"' not in body
    assert f'href="/metrics/imports/{ok_two.pk}/"' not in body


def test_imports_list_query_count_does_not_grow_with_jobs(as_user, pm, django_assert_num_queries):
    client = as_user(pm)
    backend = _backend()
    pilot = PilotFactory(candidate_backend=backend)
    for _ in range(3):
        _finished(backend, pilot=pilot, created_by=pm)
    # 1 session, 2 user, 3 the user's groups (roles), 4 backends for the
    # filter's choices, 5 jobs with backend, pilot and creator joined.
    with django_assert_num_queries(5):
        assert client.get("/metrics/imports/").status_code == 200
    for _ in range(20):
        _finished(backend, pilot=pilot, created_by=pm)
    with django_assert_num_queries(5):
        assert client.get("/metrics/imports/").status_code == 200


def test_finance_can_view_imports_but_not_upload(as_user, finance):
    client = as_user(finance)

    assert client.get("/metrics/imports/").status_code == 200
    assert 'href="/metrics/imports/new/"' not in client.get("/metrics/imports/").content.decode()
    assert client.get("/metrics/imports/new/").status_code == 403
    upload = SimpleUploadedFile("m.csv", CSV, content_type="text/csv")
    backend = _backend(slug="b1")
    response = client.post("/metrics/imports/new/", {"file": upload, "backend": backend.slug})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["/metrics/imports/", "/metrics/imports/new/", "/metrics/imports/{pk}/"],
)
def test_outsider_gets_403(as_user, outsider, url):
    job = _finished(_backend())

    response = as_user(outsider).get(url.format(pk=job.pk))

    assert response.status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/metrics/imports/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_progress_fragment_is_403_for_outsiders_and_anonymous(client, as_user, outsider):
    job = _finished(_backend())

    assert client.get(f"/metrics/imports/{job.pk}/progress/").status_code == 403
    assert as_user(outsider).get(f"/metrics/imports/{job.pk}/progress/").status_code == 403


# --------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------


def test_upload_form_renders_for_pilot_team(as_user, pilot_team):
    tpu = _backend(name="TPU pod A", slug="tpu-a")
    give_raci_letter(pilot_team, PilotFactory.create(baseline_backend=tpu))

    page = as_user(pilot_team).get("/metrics/imports/new/?backend=tpu-a")

    assert page.status_code == 200
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert '<option value="tpu-a" selected>TPU pod A</option>' in body
    for name in ("file", "backend", "pilot", "format"):
        assert f'name="{name}"' in body


def test_upload_creates_a_job_and_redirects_to_it(
    as_user, pm, catalog, django_capture_on_commit_callbacks
):
    backend = _backend(slug="gpu-a")
    upload = SimpleUploadedFile("power.csv", CSV, content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(pm).post(
            "/metrics/imports/new/", {"file": upload, "backend": "gpu-a", "format": "auto"}
        )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/metrics/imports/{job.pk}/"
    assert job.backend == backend
    assert job.created_by == pm
    assert job.source == ImportJob.Source.UPLOAD
    assert job.original_filename == "power.csv"
    # The task ran eagerly once the upload committed.
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.samples_stored == 2
    assert Sample.objects.count() == 2


def test_upload_job_page_shows_rejects_with_line_numbers_and_unmapped(
    as_user, pm, catalog, django_capture_on_commit_callbacks
):
    _backend(slug="gpu-a")
    upload = SimpleUploadedFile("power.csv", CSV, content_type="text/csv")
    client = as_user(pm)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/metrics/imports/new/", {"file": upload, "backend": "gpu-a"})
    job_url = response["Location"]

    body = client.get(job_url).content.decode()

    assert "Rejected lines" in body
    assert '<td class="num">4</td>' in body  # the not-a-number line (header is line 1)
    assert "my_private_metric" in body
    assert "Unmapped metrics" in body


def test_upload_refuses_a_pilot_that_does_not_use_the_backend(as_user, pm):
    backend = _backend(slug="gpu-a")
    pilot: Any = PilotFactory()
    upload = SimpleUploadedFile("power.csv", CSV, content_type="text/csv")

    page = as_user(pm).post(
        "/metrics/imports/new/", {"file": upload, "backend": backend.slug, "pilot": pilot.pk}
    )

    assert page.status_code == 200
    assert "not on" in page.content.decode()
    assert not ImportJob.objects.exists()
    # The file field itself was fine, but the browser drops it on the way back.
    assert "Choose the file again" in page.content.decode()


def test_upload_without_a_file_names_the_field(as_user, pm):
    _backend(slug="gpu-a")

    page = as_user(pm).post("/metrics/imports/new/", {"backend": "gpu-a"})

    assert page.status_code == 200
    assert page.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_upload_over_the_size_limit_is_refused(as_user, pm, settings):
    settings.IMPORT_MAX_BYTES = 100
    _backend(slug="gpu-a")
    upload = SimpleUploadedFile("power.csv", CSV, content_type="text/csv")

    page = as_user(pm).post("/metrics/imports/new/", {"file": upload, "backend": "gpu-a"})

    assert page.status_code == 200
    assert "the limit is 100 bytes (IMPORT_MAX_BYTES)" in page.content.decode()
    assert "At most 100\xa0bytes." in page.content.decode()
    assert not ImportJob.objects.exists()


# --------------------------------------------------------------------------
# Job page and progress
# --------------------------------------------------------------------------


def test_job_page_shows_counts_rejects_unmapped_and_duration(as_user, finance):
    job = _finished(_backend())

    page = as_user(finance).get(f"/metrics/imports/{job.pk}/")

    assert page.status_code == 200
    body = page.content.decode()
    for label, value in [("Read", 10), ("Stored", 6), ("Duplicates", 1), ("Rejected", 2)]:
        assert f"<dt>{label}</dt><dd>{value}" in body
    assert '<td class="num">7</td><td>NaN is not allowed for DCGM_FI_DEV_POWER_USAGE</td>' in body
    assert '<td class="num">12</td>' in body
    assert '<code>my_private_metric</code></td><td class="num">1</td>' in body
    assert "Took 2.5 s" in body
    # Finished: nothing polls.
    assert 'hx-trigger="every 1s"' not in body


def test_job_page_groups_large_counts_and_rounds_a_quick_job(as_user, finance):
    started = timezone.now() - dt.timedelta(seconds=5)
    job = _finished(
        _backend(),
        samples_read=2_000_000,
        samples_stored=1_999_000,
        started_at=started,
        finished_at=started + dt.timedelta(milliseconds=20),
    )

    body = as_user(finance).get(f"/metrics/imports/{job.pk}/").content.decode()
    listing = as_user(finance).get("/metrics/imports/").content.decode()

    assert "<dt>Read</dt><dd>2,000,000</dd>" in body
    assert "<dt>Stored</dt><dd>1,999,000</dd>" in body
    assert "Took under 0.1 s" in body
    assert '<td class="num">1,999,000</td>' in listing


def test_job_page_of_a_running_job_polls_its_progress(as_user, pm):
    job = _job(_backend(), status=ImportJob.Status.RUNNING, bytes_total=1000, bytes_done=250)

    body = as_user(pm).get(f"/metrics/imports/{job.pk}/").content.decode()

    assert f'hx-get="/metrics/imports/{job.pk}/progress/"' in body
    assert 'hx-trigger="every 1s"' in body
    assert 'aria-valuenow="25"' in body


def test_progress_fragment_stops_polling_once_finished(as_user, pm):
    job = _job(_backend(), status=ImportJob.Status.RUNNING, bytes_total=1000, bytes_done=500)
    client = as_user(pm)

    running = client.get(f"/metrics/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert "<html" not in running.content.decode()  # a fragment, not a page

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.SUCCEEDED, bytes_done=1000, samples_stored=3, samples_read=3
    )
    done = client.get(f"/metrics/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    body = done.content.decode()
    assert 'hx-trigger="every 1s"' not in body
    assert 'aria-valuenow="100"' in body
    assert "<dt>Stored</dt><dd>3" in body


def test_failed_job_page_says_why(as_user, pm):
    job = _finished(
        _backend(), status=ImportJob.Status.FAILED, error="line 3: not UTF-8", samples_stored=0
    )

    body = as_user(pm).get(f"/metrics/imports/{job.pk}/").content.decode()

    assert "The import failed:" in body
    assert "line 3: not UTF-8" in body
    assert "Nothing from this file was stored." in body


def test_job_page_query_count(as_user, pm, django_assert_num_queries):
    job = _finished(_backend(), pilot=PilotFactory(), created_by=pm)
    client = as_user(pm)
    # 1 session, 2 user, 3 groups (roles), 4 the job with backend, pilot, creator.
    with django_assert_num_queries(4):
        assert client.get(f"/metrics/imports/{job.pk}/").status_code == 200


def test_unknown_job_is_404(as_user, pm):
    assert as_user(pm).get("/metrics/imports/999999/").status_code == 404


def test_nav_links_to_imports(as_user, pm):
    body = as_user(pm).get("/metrics/imports/").content.decode()

    assert 'href="/metrics/imports/"' in body
    assert "Metrics imports" in body
