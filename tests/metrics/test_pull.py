"""Scheduled pulls against a real HTTP server on 127.0.0.1 (started here),
and the beat schedule kept in step with each metric source."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from metrics.models import ImportJob, MetricSource, Sample, Series
from metrics.promhttp import MAX_POINTS_PER_REQUEST, pull_windows
from metrics.services import PULL_TASK_NAME, pull_source
from tests.factories import BackendFactory

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
QUERIES = ["vllm:generation_tokens_total", "DCGM_FI_DEV_POWER_USAGE"]


class FakePrometheus(ThreadingHTTPServer):
    """Answers /api/v1/query_range like Prometheus: one series per query,
    a point every ``step`` from ``start`` to ``end``, values derived from the
    timestamp so the same instant always has the same value."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, str]] = []
        self.fail_status: int | None = None
        self.delay_seconds = 0.0
        self.padding = 0

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def matrix(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        values = []
        ts = start
        while ts <= end:
            if query.startswith("vllm:"):
                value = str(int(ts - NOW.timestamp() + 100_000))  # a counter
            else:
                value = f"{250 + (int(ts) // 60) % 7}.5"  # watts
            values.append([ts, value])
            ts += step
        labels = {"__name__": query, "instance": "node-1:9400", "gpu": "0"}
        return {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": labels, "values": values}],
            },
            "padding": "x" * self.padding,
        }


class _Handler(BaseHTTPRequestHandler):
    server: FakePrometheus

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append({"path": parts.path, **params})
        if self.server.delay_seconds:
            time.sleep(self.server.delay_seconds)
        if parts.path != "/api/v1/query_range":
            self._send(404, {"status": "error", "error": "not found"})
        elif self.server.fail_status:
            self._send(
                self.server.fail_status,
                {"status": "error", "errorType": "internal", "error": "storage is on fire"},
            )
        else:
            body = self.server.matrix(
                params["query"], float(params["start"]), float(params["end"]), float(params["step"])
            )
            self._send(200, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _backend() -> Any:
    return BackendFactory(slug="gpu-eu", name="GPU EU")


@pytest.fixture
def source(catalog: None, prometheus: FakePrometheus) -> MetricSource:
    return MetricSource.objects.create(
        name="prom-eu",
        backend=_backend(),
        base_url=prometheus.url,
        queries=QUERIES,
        step_seconds=60,
        interval_seconds=300,
        lookback_seconds=3600,
    )


def _pull(source: MetricSource, now: dt.datetime) -> ImportJob:
    job = pull_source(source_id=source.pk, now=now)
    assert job is not None
    return job


# Points per query in [NOW - 1 h, NOW] at a 60 s step, both ends included.
POINTS = 61


def test_pull_stores_samples_through_an_import_job(source, prometheus):
    job = _pull(source, NOW)

    assert job is not None
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.source == ImportJob.Source.PULL
    assert job.backend_id == source.backend_id
    assert job.samples_stored == POINTS * len(QUERIES)
    assert Sample.objects.filter(series__backend=source.backend).count() == POINTS * len(QUERIES)
    assert {r["query"] for r in prometheus.requests} == set(QUERIES)
    first = prometheus.requests[0]
    assert float(first["start"]) == (NOW - dt.timedelta(hours=1)).timestamp()
    assert float(first["end"]) == NOW.timestamp()
    assert first["step"] == "60"
    source.refresh_from_db()
    assert source.last_pulled_until == NOW


def test_pull_shows_up_in_the_imports_list(source, as_user, pm):
    job = _pull(source, NOW)

    page = as_user(pm).get("/metrics/imports/?status=succeeded")

    assert page.status_code == 200
    assert f'href="/metrics/imports/{job.pk}/"' in page.content.decode()
    assert "Scheduled pull" in page.content.decode()


def test_next_pull_starts_where_the_last_one_ended(source, prometheus):
    pull_source(source_id=source.pk, now=NOW)
    prometheus.requests.clear()

    later = NOW + dt.timedelta(minutes=5)
    job = _pull(source, later)

    assert float(prometheus.requests[0]["start"]) == NOW.timestamp()
    assert float(prometheus.requests[0]["end"]) == later.timestamp()
    job.refresh_from_db()
    # The point at NOW was stored by the first pull; five new minutes remain.
    assert job.samples_stored == 5 * len(QUERIES)
    assert job.duplicates == len(QUERIES)


def test_second_pull_of_the_same_window_stores_nothing_new(source):
    pull_source(source_id=source.pk, now=NOW)
    stored = Sample.objects.count()
    MetricSource.objects.filter(pk=source.pk).update(last_pulled_until=None)

    again = _pull(source, NOW)

    again.refresh_from_db()
    assert again.status == ImportJob.Status.SUCCEEDED
    assert again.samples_stored == 0
    assert again.duplicates == POINTS * len(QUERIES)
    assert Sample.objects.count() == stored


def test_server_error_fails_the_job_with_the_reason_and_keeps_the_watermark(source, prometheus):
    before = NOW - dt.timedelta(hours=2)
    MetricSource.objects.filter(pk=source.pk).update(last_pulled_until=before)
    prometheus.fail_status = 500

    job = _pull(source, NOW)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "HTTP 500" in job.error
    assert "storage is on fire" in job.error
    assert job.source == ImportJob.Source.PULL
    assert not Series.objects.exists()
    source.refresh_from_db()
    assert source.last_pulled_until == before


def test_unreachable_server_fails_the_job(source, prometheus):
    url = prometheus.url
    prometheus.shutdown()
    prometheus.server_close()
    MetricSource.objects.filter(pk=source.pk).update(base_url=url)

    job = _pull(source, NOW)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "cannot reach" in job.error
    source.refresh_from_db()
    assert source.last_pulled_until is None


def test_slow_server_times_out(source, prometheus, settings):
    settings.PULL_TIMEOUT_SECONDS = 0.3
    prometheus.delay_seconds = 1.5

    job = _pull(source, NOW)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "no answer" in job.error
    assert not Sample.objects.exists()


def test_oversized_answer_is_refused(source, prometheus, settings):
    settings.PULL_MAX_RESPONSE_BYTES = 50_000
    prometheus.padding = 60_000

    job = _pull(source, NOW)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "larger than 50,000 bytes" in job.error


def test_disabled_source_is_not_pulled(source, prometheus):
    MetricSource.objects.filter(pk=source.pk).update(enabled=False)

    assert pull_source(source_id=source.pk, now=NOW) is None
    assert prometheus.requests == []
    assert not ImportJob.objects.exists()


def test_long_windows_are_split_under_the_prometheus_point_limit():
    start = NOW - dt.timedelta(days=30)
    windows = list(pull_windows(start, NOW, 60))

    assert windows[0][0] == start
    assert windows[-1][1] == NOW
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(
        (end - begin).total_seconds() / 60 < MAX_POINTS_PER_REQUEST for begin, end in windows
    )
    assert len(windows) == 5  # 43,200 steps in chunks of 9,999


def test_pull_task_runs_a_pull(source):
    from metrics.tasks import pull_metric_source

    assert pull_metric_source.name == PULL_TASK_NAME
    pull_metric_source.delay(source.pk)

    assert ImportJob.objects.filter(source=ImportJob.Source.PULL).count() == 1


def test_pull_task_ignores_a_deleted_source(db):
    from metrics.tasks import pull_metric_source

    assert pull_metric_source.run(987654) is None
