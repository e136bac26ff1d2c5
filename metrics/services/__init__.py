"""Writes of the metrics app: imports (every entry point — page, API,
command, scheduled pull — goes through ``import_job_create``; the task runs
``import_job_run``), scheduled pulls, and the beat schedules of pull sources."""

from metrics.services.imports import (
    ImportSummary,
    import_job_create,
    import_job_progress_key,
    import_job_run,
    import_jobs_requeue_stale,
)
from metrics.services.pulls import pull_source
from metrics.services.schedules import (
    PULL_TASK_NAME,
    metric_source_sync_schedule,
    metric_source_unschedule,
)

__all__ = [
    "PULL_TASK_NAME",
    "ImportSummary",
    "import_job_create",
    "import_job_progress_key",
    "import_job_run",
    "import_jobs_requeue_stale",
    "metric_source_sync_schedule",
    "metric_source_unschedule",
    "pull_source",
]
