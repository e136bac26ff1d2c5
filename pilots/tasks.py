"""Celery tasks of the pilots app (none yet: pilot writes are synchronous;
the vendors issue adds the red-flag and reorder jobs' callers)."""
