"""Fixtures for the metrics tests: the seeded catalog (pytest runs without
migrations, so the data migration's seed is applied here), a backend and a
pilot, and a helper that imports bytes through the real service."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from metrics.catalog import seed_catalog
from metrics.models import ImportJob
from metrics.services import import_job_create, import_job_run
from pilots.models import Backend, Pilot, Site, Vendor
from tests.conftest import SAMPLE_DATA
from tests.factories import CostCenterFactory

# The figures issue 3 asks the metrics summary for (API and pilot panel).
ISSUE_SUMMARY_FIELDS = (
    "requests",
    "tokens_generated",
    "tokens_per_second",
    *(f"{kind}_{q}" for kind in ("e2e", "ttft") for q in ("p50", "p95", "p99", "p999")),
    "error_rate",
    "utilization_mean",
    "utilization_max",
    "power_mean",
    "energy_joules",
    "joules_per_token",
    "temperature_max",
    "throttle_seconds",
)

# Tests that read these files carry the ``sample_data`` marker.
DATA = SAMPLE_DATA

if os.environ.get("CI", "").lower() == "true" and not DATA.is_dir():
    # Locally the real-sample tests skip without the data; CI must run them
    # (parametrised cases over the data would otherwise vanish silently).
    raise RuntimeError(f"CI=true but the shared sample data is missing at {DATA}")


@pytest.fixture
def catalog(db: None) -> None:
    seed_catalog()


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def vendor(db: None) -> Vendor:
    return Vendor.objects.create(name="Cerebras-ish", slug="wafer")


@pytest.fixture
def backend(vendor: Vendor) -> Backend:
    return Backend.objects.create(
        name="GPU A",
        slug="gpu-a",
        kind=Backend.Kind.GPU_CLUSTER,
        vendor=vendor,
        device_model="L4",
        device_count=8,
        site=Site.objects.get_or_create(slug="fra1", defaults={"name": "fra1"})[0],
        region="eu",
    )


@pytest.fixture
def other_backend(vendor: Vendor) -> Backend:
    return Backend.objects.create(
        name="Wafer B",
        slug="wafer-b",
        kind=Backend.Kind.WAFER_SCALE,
        vendor=vendor,
        device_model="WSE-3",
        device_count=1,
        site=Site.objects.get_or_create(slug="fra1", defaults={"name": "fra1"})[0],
        region="eu",
    )


@pytest.fixture
def pilot(backend: Backend, other_backend: Backend) -> Pilot:
    return Pilot.objects.create(
        name="Llama on wafer",
        model_name="llama-70b",
        candidate_backend=other_backend,
        baseline_backend=backend,
        team="inference",
        cost_center=CostCenterFactory.create(code="CC-42"),
        target_start=dt.date(2026, 1, 1),
        target_end=dt.date(2026, 6, 30),
    )


SCRAPE_TIME = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def run_import(catalog: None, backend: Backend) -> Callable[..., ImportJob]:
    """Import ``content`` (bytes, str or a Path) synchronously; return the job."""

    def run(
        content: bytes | str | Path,
        *,
        fmt: str = "auto",
        on: Backend | None = None,
        pilot: Pilot | None = None,
        scrape_time: dt.datetime | None = SCRAPE_TIME,
    ) -> ImportJob:
        file: Any
        if isinstance(content, Path):
            file = content
        else:
            data = content.encode() if isinstance(content, str) else content
            file = io.BytesIO(data)
            file.name = "metrics.txt"
        job = import_job_create(
            actor=None,
            backend=on or backend,
            pilot=pilot,
            fmt=fmt,
            source=ImportJob.Source.CLI,
            file=file,
            scrape_time=scrape_time,
            enqueue=False,
        )
        import_job_run(job_id=job.pk)
        job.refresh_from_db()
        return job

    return run


__all__ = ["DATA", "SCRAPE_TIME", "Decimal"]


def give_raci_letter(user: Any, pilot: Pilot, letter: str = "R") -> None:
    """``user`` holds ``letter`` on an activity of ``pilot`` (import scope)."""
    from pilots.models import RaciActivity, RaciAssignment

    activity = RaciActivity.objects.create(pilot=pilot, name=f"Activity for {user}", order=900)
    RaciAssignment.objects.create(activity=activity, user=user, letter=letter)


@pytest.fixture
def team_member(pilot_team: Any, pilot: Pilot) -> Any:
    """The pilot-team persona with a RACI letter on ``pilot`` (which runs on
    ``backend`` and ``other_backend``): may import into both."""
    give_raci_letter(pilot_team, pilot)
    return pilot_team


def spawn_worker(
    queue: str, log_path: Path, *, extra_env: dict[str, str] | None = None, concurrency: int = 0
) -> Any:
    """Start a real ``celery worker`` on ``queue`` against the test database
    (as ``tests.conftest.celery_worker_process`` does), with ``extra_env``;
    ``concurrency`` > 0 runs a prefork pool of that many processes, else the
    solo pool. The caller stops it (``stop_worker``)."""
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_RESULT_BACKEND": os.environ.get(
            "CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"
        ),
        **(extra_env or {}),
    }
    pool = ["--pool=prefork", f"--concurrency={concurrency}"] if concurrency else ["--pool=solo"]
    log = log_path.open("a")
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "portal",
            "worker",
            *pool,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=INFO",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )


def stop_worker(proc: Any) -> None:
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
