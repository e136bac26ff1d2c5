"""Shared fixtures: personas, API clients, and the service-test policy.

Tests marked ``postgres``, ``celery_worker`` or ``browser`` need a service.
Without it they are skipped with the reason printed in the summary (``-ra``);
under CI (``CI=true``) the same condition fails the test instead, so CI can
never go green by skipping what it was meant to check.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from portal.roles import Role, sync_role_groups

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
# The real sample files sit beside the repository (../shared/data), where CI
# puts them too; a clone elsewhere can point at them with this variable.
SAMPLE_DATA = Path(
    os.environ.get("PILOTGATE_SAMPLE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    if not parsed.hostname:
        return False
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def _service_problem(marker: str) -> str | None:
    if marker == "postgres":
        if not settings.IS_POSTGRES:
            return "needs PostgreSQL: set DATABASE_URL=postgres://... (the default is SQLite)"
    elif marker == "celery_worker":
        if not settings.IS_POSTGRES:
            return "a real worker shares the test database: needs PostgreSQL (DATABASE_URL)"
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if not broker.startswith("redis://"):
            return "needs a Redis broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
        if not _reachable(broker):
            return f"Redis broker {broker} is not reachable"
    elif marker == "browser" and not shutil.which(CHROMIUM):
        return f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    elif marker == "sample_data" and not SAMPLE_DATA.is_dir():
        return f"needs the shared sample data at {SAMPLE_DATA} (or set PILOTGATE_SAMPLE_DATA)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "celery_worker", "browser", "sample_data"):
        if item.get_closest_marker(marker) is None:
            continue
        problem = _service_problem(marker)
        if problem is None:
            continue
        if IN_CI:
            pytest.fail(f"CI=true and this service test cannot run: {problem}", pytrace=False)
        pytest.skip(problem)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # PBKDF2 is slow by design; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_celery(settings: Any) -> None:
    """Tasks run in-process during tests unless a test starts a real worker."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False


@pytest.fixture
def roles(db: None) -> None:
    sync_role_groups()


@pytest.fixture
def make_user(db: None, django_user_model: Any) -> Callable[..., Any]:
    sync_role_groups()

    def make(username: str, *roles: str, **extra: Any) -> Any:
        user = django_user_model.objects.create_user(
            username=username, password="pw-" + username, email=f"{username}@example.com", **extra
        )
        if roles:
            user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def pm(make_user: Callable[..., Any]) -> Any:
    return make_user("pm", Role.PROGRAM_MANAGER, first_name="Pat", last_name="Manager")


@pytest.fixture
def finance(make_user: Callable[..., Any]) -> Any:
    return make_user("fin", Role.FINANCE)


@pytest.fixture
def approver(make_user: Callable[..., Any]) -> Any:
    return make_user("appr", Role.APPROVER)


@pytest.fixture
def pilot_team(make_user: Callable[..., Any]) -> Any:
    return make_user("team", Role.PILOT_TEAM)


@pytest.fixture
def procurement(make_user: Callable[..., Any]) -> Any:
    return make_user("proc", Role.PROCUREMENT)


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user("boss", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(make_user: Callable[..., Any]) -> Any:
    """Logged in, but holds no role."""
    return make_user("outsider")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user(client: Any) -> Callable[[Any], Any]:
    def login(user: Any) -> Any:
        client.force_login(user)
        return client

    return login


# queue name -> the worker's Popen, for tests that kill a worker mid-task.
worker_processes: dict[str, Any] = {}


@pytest.fixture
def celery_worker_process(transactional_db: None, tmp_path: Any) -> Any:
    """A real ``celery worker`` process on the test database and the Redis broker.

    Yields the queue name to send tasks to. The worker reads the same
    PostgreSQL test database, so the test must commit (transactional_db).
    """
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from django.db import connection

    from portal.celery import app

    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_RESULT_BACKEND": os.environ.get(
            "CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"
        ),
        # Big Prometheus text files are parsed by child processes of the
        # worker's, whatever the number of cores of the machine.
        "METRICS_PARSER_PROCESSES": "2",
    }
    celery_bin = Path(sys.executable).with_name("celery")
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            str(celery_bin),
            "-A",
            "portal",
            "worker",
            "--pool=solo",
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
    app.conf.task_always_eager = False
    try:
        worker_processes[queue] = proc
        yield queue
    finally:
        worker_processes.pop(queue, None)
        app.conf.task_always_eager = True
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # Shown by pytest when the test failed: what the worker said.
        print(log_path.read_text()[-4000:])


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A Playwright page in Debian's Chromium (tests marked ``browser``)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # a test makes between browser steps are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # ORM calls made while Playwright's event loop runs in this
            # thread keep their connection apart (asgiref's Local follows
            # the loop's context), out of reach of the test teardown: left
            # open, it stops PostgreSQL from dropping the test database.
            from django.db import connections

            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
