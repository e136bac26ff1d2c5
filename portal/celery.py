"""The Celery application. Settings come from Django's, prefixed ``CELERY_``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="portal.ping", time_limit=10, soft_time_limit=5, ignore_result=False)
def ping(value: str) -> str:
    """Round trip used by /readyz-style checks and the CI worker test."""
    return value
