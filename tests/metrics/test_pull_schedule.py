"""The Celery beat schedule of each metric source: a django-celery-beat
PeriodicTask kept in step with the source (interval, enabled, source id)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from metrics.models import MetricSource
from metrics.services import PULL_TASK_NAME, metric_source_sync_schedule, metric_source_unschedule
from portal.models import ChangeRecord
from tests.factories import BackendFactory


def _backend() -> Any:
    return BackendFactory(slug="gpu-eu", name="GPU EU")


@pytest.fixture
def source(db: None) -> MetricSource:
    return MetricSource.objects.create(
        name="prom-eu",
        backend=_backend(),
        base_url="http://127.0.0.1:9/",
        queries=["DCGM_FI_DEV_POWER_USAGE"],
        interval_seconds=300,
    )


def test_sync_creates_the_periodic_task_with_the_interval(source):
    task = metric_source_sync_schedule(source=source)

    task = PeriodicTask.objects.get(pk=task.pk)
    assert task.task == PULL_TASK_NAME
    assert json.loads(task.args) == [source.pk]
    assert task.interval.every == 300
    assert task.interval.period == IntervalSchedule.SECONDS
    assert task.enabled
    source.refresh_from_db()
    assert source.periodic_task_id == task.pk


def test_sync_updates_the_same_task_and_disables_it_with_the_source(source):
    first = metric_source_sync_schedule(source=source)
    source.interval_seconds = 60
    source.enabled = False
    source.save()

    second = metric_source_sync_schedule(source=source)

    assert second.pk == first.pk
    assert PeriodicTask.objects.filter(task=PULL_TASK_NAME).count() == 1
    task = PeriodicTask.objects.get(pk=first.pk)
    assert task.interval.every == 60
    assert not task.enabled


def test_unschedule_deletes_the_periodic_task(source):
    task = metric_source_sync_schedule(source=source)

    metric_source_unschedule(source=source)

    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_saving_a_source_in_the_admin_schedules_it(client, admin_user):
    backend = _backend()
    client.force_login(admin_user)

    response = client.post(
        "/admin/metrics/metricsource/add/",
        {
            "name": "prom-us",
            "backend": backend.pk,
            "base_url": "http://prometheus.internal:9090",
            "queries": '["DCGM_FI_DEV_POWER_USAGE"]',
            "step_seconds": 30,
            "interval_seconds": 120,
            "lookback_seconds": 3600,
            "enabled": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    source = MetricSource.objects.get(name="prom-us")
    task = PeriodicTask.objects.get(pk=source.periodic_task_id)
    assert task.task == PULL_TASK_NAME
    assert task.interval.every == 120
    assert json.loads(task.args) == [source.pk]
    record = ChangeRecord.objects.get(
        content_type__model="metricsource", object_id=str(source.pk), action="create"
    )
    assert record.actor == admin_user


@pytest.mark.parametrize("queries", ['"DCGM_FI_DEV_POWER_USAGE"', "[]", '["", 3]'])
def test_admin_refuses_queries_that_are_not_a_list_of_expressions(client, admin_user, queries):
    backend = _backend()
    client.force_login(admin_user)

    response = client.post(
        "/admin/metrics/metricsource/add/",
        {
            "name": "prom-bad",
            "backend": backend.pk,
            "base_url": "http://prometheus.internal:9090",
            "queries": queries,
            "step_seconds": 30,
            "interval_seconds": 120,
            "lookback_seconds": 3600,
        },
    )

    assert response.status_code == 200
    assert "Give a JSON list of PromQL expressions" in response.content.decode()
    assert not MetricSource.objects.exists()
    assert not PeriodicTask.objects.filter(task=PULL_TASK_NAME).exists()


def test_deleting_a_source_in_the_admin_removes_its_schedule(client, admin_user, source):
    task = metric_source_sync_schedule(source=source)
    client.force_login(admin_user)

    response = client.post(f"/admin/metrics/metricsource/{source.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not MetricSource.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_sync_reuses_an_existing_interval_even_when_duplicated(source):
    for _ in range(2):
        IntervalSchedule.objects.create(every=300, period=IntervalSchedule.SECONDS)

    task = metric_source_sync_schedule(source=source)

    assert IntervalSchedule.objects.filter(every=300).count() == 2
    assert task.interval.every == 300
