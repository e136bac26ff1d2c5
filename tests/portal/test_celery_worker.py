"""A real Celery worker against Redis: the round trip production relies on."""

from __future__ import annotations

import os

import pytest
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult, allow_join_result

from portal.celery import app, ping

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]

RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")


def test_task_round_trip_through_real_worker(celery_worker_process):
    # The worker stores results in Redis; read them with an explicit backend
    # because the test process runs eagerly with no result backend.
    backend = RedisBackend(app=app, url=RESULT_BACKEND)
    sent = ping.apply_async(("round-trip",), queue=celery_worker_process)
    result: AsyncResult[str] = AsyncResult(sent.id, app=app, backend=backend)
    # This process is the client, not a worker: waiting here cannot deadlock
    # a pool, whatever Celery's process-wide join guard was left at by the
    # eager tasks that ran earlier in the session.
    with allow_join_result():
        assert result.get(timeout=60) == "round-trip"
    assert result.successful()
