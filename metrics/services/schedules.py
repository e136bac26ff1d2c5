"""Keep each MetricSource's Celery beat schedule in step with the source.

The schedule is a django-celery-beat ``PeriodicTask`` (so it stays editable in
the admin, and beat's database scheduler picks changes up without a restart).
The source owns it: saving a source calls ``metric_source_sync_schedule``,
deleting one calls ``metric_source_unschedule``.
"""

from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from metrics.models import MetricSource

__all__ = ["PULL_TASK_NAME", "metric_source_sync_schedule", "metric_source_unschedule"]

# The registered name of metrics.tasks.pull_metric_source.
PULL_TASK_NAME = "metrics.pull_metric_source"


def _task_name(source: MetricSource) -> str:
    # PeriodicTask.name is unique; the id keeps it so across renames.
    return f"Pull metrics: {source.name} (source #{source.pk})"


@transaction.atomic
def metric_source_sync_schedule(*, source: MetricSource) -> PeriodicTask:
    """Create or update the source's periodic task: every ``interval_seconds``,
    task ``metrics.pull_metric_source`` with the source id, enabled as the source is.
    """
    if source.pk is None:
        raise ValueError("Save the metric source before scheduling it.")
    # Not get_or_create: django-celery-beat does not make schedules unique,
    # and an admin may have added the same interval twice.
    interval = IntervalSchedule.objects.filter(
        every=source.interval_seconds, period=IntervalSchedule.SECONDS
    ).first() or IntervalSchedule.objects.create(
        every=source.interval_seconds, period=IntervalSchedule.SECONDS
    )
    task = (
        PeriodicTask.objects.select_for_update().filter(pk=source.periodic_task_id).first()
        if source.periodic_task_id
        else None
    ) or PeriodicTask(task=PULL_TASK_NAME)
    task.name = _task_name(source)
    task.task = PULL_TASK_NAME
    task.interval = interval
    task.crontab = None
    task.solar = None
    task.clocked = None
    task.one_off = False
    task.args = json.dumps([source.pk])
    task.kwargs = "{}"
    task.enabled = source.enabled
    task.description = f"Scheduled query_range pull of {source.base_url} for {source.backend}."
    task.full_clean()
    task.save()
    if source.periodic_task_id != task.pk:
        # update() rather than save(): the caller may be mid-save of this very
        # source (the admin hook), and only this one column changes.
        MetricSource.objects.filter(pk=source.pk).update(periodic_task=task)
        source.periodic_task = task
    return task


@transaction.atomic
def metric_source_unschedule(*, source: MetricSource) -> None:
    """Delete the source's periodic task (before the source itself goes)."""
    if source.periodic_task_id:
        PeriodicTask.objects.filter(pk=source.periodic_task_id).delete()
        source.periodic_task = None
