"""Metrics API: imports (202 flow, roles, validation) and the backend
summary (window validation, query count)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from metrics.models import ImportJob, Sample
from pilots.models import Backend, Pilot, Site
from tests.factories import BackendFactory
from tests.metrics.conftest import ISSUE_SUMMARY_FIELDS

pytestmark = pytest.mark.django_db

T0 = 1772359200
CSV = b"1772359200,power_watts,200,gpu=0\n1772359260,power_watts,300,gpu=0\n"


def upload(client: Client, backend: Backend, **extra: Any) -> Any:
    data = {
        "file": SimpleUploadedFile("m.csv", CSV, content_type="text/csv"),
        "backend": backend.slug,
    }
    data.update(extra)
    return client.post("/api/v1/imports/", data)


@pytest.mark.parametrize("persona", ["team_member", "pm", "admin_user"])
def test_import_roles_get_202_and_the_job_runs_after_commit(
    persona: str,
    request: pytest.FixtureRequest,
    client: Client,
    catalog: None,
    backend: Backend,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(request.getfixturevalue(persona))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, backend)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["backend"] == backend.slug
    assert response["Location"].endswith(f"/api/v1/imports/{body['id']}/")
    job = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert job["status"] == "succeeded"
    assert (job["samples_read"], job["samples_stored"]) == (2, 2)
    assert job["source"] == "api"


@pytest.mark.parametrize("persona", ["finance", "approver"])
def test_readers_cannot_import(
    persona: str, request: pytest.FixtureRequest, client: Client, catalog: None, backend: Backend
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert upload(client, backend).status_code == 403
    assert ImportJob.objects.count() == 0
    assert client.get("/api/v1/imports/").status_code == 200


def test_outsider_and_anonymous_are_refused(
    client: Client, outsider: Any, backend: Backend
) -> None:
    assert client.get("/api/v1/imports/").status_code in (401, 403)
    assert client.get(
        f"/api/v1/backends/{backend.slug}/summary/?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z"
    ).status_code in (401, 403)
    client.force_login(outsider)
    assert client.get("/api/v1/imports/").status_code == 403
    assert upload(client, backend).status_code == 403
    assert (
        client.get(
            f"/api/v1/backends/{backend.slug}/summary/?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z"
        ).status_code
        == 403
    )


def test_import_validation_names_the_field(
    client: Client,
    pilot_team: Any,
    catalog: None,
    backend: Backend,
    other_backend: Backend,
    settings: Any,
) -> None:
    client.force_login(pilot_team)
    response = client.post("/api/v1/imports/", {"backend": backend.slug})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    response = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("m.csv", CSV), "backend": "nope"}
    )
    assert "backend" in response.json()["error"]["fields"]
    response = upload(client, backend, format="xml")
    assert "format" in response.json()["error"]["fields"]
    settings.IMPORT_MAX_BYTES = 10
    response = upload(client, backend)
    assert response.status_code == 400
    assert (
        "the limit is 10 bytes (IMPORT_MAX_BYTES)" in response.json()["error"]["fields"]["file"][0]
    )
    assert ImportJob.objects.count() == 0


def test_import_for_a_pilot_on_another_backend_is_refused(
    client: Client, pilot_team: Any, catalog: None, backend: Backend, pilot: Pilot, vendor: Any
) -> None:
    third = Backend.objects.create(
        name="TPU",
        slug="tpu",
        kind="tpu_pod",
        vendor=vendor,
        device_model="v5",
        device_count=4,
        site=Site.objects.get_or_create(slug="x", defaults={"name": "x"})[0],
        region="y",
    )
    client.force_login(pilot_team)
    response = upload(client, third, pilot=pilot.pk)
    assert response.status_code == 400
    assert "pilot" in response.json()["error"]["fields"]


def test_import_list_is_cursor_paginated_with_constant_queries(
    client: Client,
    finance: Any,
    run_import: Callable[..., ImportJob],
    django_assert_num_queries: Any,
) -> None:
    for i in range(3):
        run_import(f"{T0 + i},power_watts,1,\n")
    client.force_login(finance)
    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the page of jobs, backend and creator joined (no COUNT: cursor pagination)
    with django_assert_num_queries(4):
        response = client.get("/api/v1/imports/?page_size=2")
    body = response.json()
    assert len(body["results"]) == 2
    assert body["next"]
    for i in range(3, 8):
        run_import(f"{T0 + i},power_watts,1,\n")
    with django_assert_num_queries(4):
        client.get("/api/v1/imports/?page_size=5")


SUMMARY = "/api/v1/backends/{slug}/summary/"


def test_summary_endpoint_returns_the_selector_figures_in_constant_queries(
    client: Client,
    finance: Any,
    backend: Backend,
    run_import: Callable[..., ImportJob],
    django_assert_num_queries: Any,
) -> None:
    run_import(CSV.decode())
    client.force_login(finance)
    url = SUMMARY.format(slug=backend.slug) + "?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z"
    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the backend by slug
    # 5. the grouped aggregate over hourly rollups
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["power_mean"] == 250.0
    assert body["sample_count"] == 2
    assert body["e2e_p99"] is None
    assert body["covered_start"] == "2026-03-01T10:00:00Z"
    run_import("".join(f"{T0 + 60 * i},power_watts,{i},gpu={i}\n" for i in range(50)))
    with django_assert_num_queries(5):
        client.get(url)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?start=yesterday&end=2026-03-01T10:00:00Z", "start"),
        ("?start=2026-03-01T12:00:00Z&end=2026-03-01T10:00:00Z", "end"),
        ("?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z&pilot=999", "pilot"),
    ],
    ids=["bad-start", "inverted", "unknown-pilot"],
)
def test_summary_window_errors_name_the_field(
    query: str, field: str, client: Client, finance: Any, backend: Backend
) -> None:
    client.force_login(finance)
    response = client.get(SUMMARY.format(slug=backend.slug) + query)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_summary_of_an_unknown_backend_is_404(client: Client, finance: Any, db: None) -> None:
    client.force_login(finance)
    response = client.get(
        SUMMARY.format(slug="nope") + "?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z"
    )
    assert response.status_code == 404


def test_backend_detail_route_still_resolves_beside_the_summary(
    client: Client, finance: Any, backend: Backend
) -> None:
    client.force_login(finance)
    assert client.get(f"/api/v1/backends/{backend.slug}/").json()["slug"] == backend.slug


def test_schema_builds_with_the_metrics_endpoints(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/imports/" in text
    assert "/api/v1/backends/{slug}/summary/" in text


def test_stored_samples_only_appear_after_a_successful_job(
    client: Client,
    team_member: Any,
    catalog: None,
    backend: Backend,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(team_member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports/",
            {
                "file": SimpleUploadedFile("bad.om", b"# TYPE a gauge\na 1\n"),
                "backend": backend.slug,
                "format": "openmetrics",
            },
        )
    job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert job["status"] == "failed"
    assert "EOF" in job["error"]
    assert Sample.objects.count() == 0


def test_summary_endpoint_gives_every_figure_the_issue_lists(
    client: Client, finance: Any, catalog: None
) -> None:
    """On a day of vLLM + DCGM data (the demo generator) none is missing."""
    BackendFactory(slug="h100-cluster")
    call_command("seed_demo_metrics", "--days", "1", "--until", "2026-03-02", stdout=io.StringIO())
    client.force_login(finance)

    body = client.get(
        SUMMARY.format(slug="h100-cluster") + "?start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z"
    ).json()

    missing = [name for name in ISSUE_SUMMARY_FIELDS if body.get(name) is None]
    assert missing == []
    assert 0 < body["error_rate"] < 0.01  # a fraction, not a percentage
    assert body["e2e_p50"] < body["e2e_p95"] < body["e2e_p99"] <= body["e2e_p999"]


def test_outsider_cannot_read_a_job(
    client: Client, outsider: Any, run_import: Callable[..., ImportJob]
) -> None:
    job = run_import(CSV.decode())

    assert client.get(f"/api/v1/imports/{job.pk}/").status_code in (401, 403)
    client.force_login(outsider)
    assert client.get(f"/api/v1/imports/{job.pk}/").status_code == 403


def test_summary_refuses_a_pilot_that_does_not_run_on_the_backend(
    client: Client, finance: Any, pilot: Pilot
) -> None:
    elsewhere = BackendFactory.create(slug="cpu-pool", kind=Backend.Kind.CPU)
    client.force_login(finance)
    response = client.get(
        SUMMARY.format(slug=elsewhere.slug)
        + f"?start=2026-03-01T10:00:00Z&end=2026-03-01T12:00:00Z&pilot={pilot.pk}"
    )
    assert response.status_code == 400
    assert "does not run on cpu-pool" in response.json()["error"]["fields"]["pilot"][0]
