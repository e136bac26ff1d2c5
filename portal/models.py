"""Cross-cutting records: the change log and personal API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class ChangeRecord(models.Model):
    """One change to a governed object: who, when, and old and new values.

    ``scope`` groups the records shown together, e.g. ``pilot:12`` gathers the
    changes to pilot 12, its phases, RACI and readiness for its change log.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    scope = models.CharField(max_length=64, blank=True, db_index=True)
    # {"field": [old, new]} for updates; {"field": value} for create/delete.
    changes = models.JSONField(default=dict)
    message = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="change_object_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr} at {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A personal API token. Only its hash is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                name="apitoken_unique_name_per_user",
                violation_error_message="You already have a token with this name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Notification(models.Model):
    """One email the portal owes someone, sent by a Celery task after commit.

    ``key`` names the event ("review:12:submitted", "budget:CC-4100:2026-11:soft"):
    it is unique, so an event notifies once however many workers or retries
    raise it (a guarded insert, not a check-then-act). Delivery is at least
    once; ``uuid`` goes in the message so a receiver can de-duplicate.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(unique=True, editable=False)
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=50, db_index=True)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sent", "failed"]),
                name="portal_notification_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"
