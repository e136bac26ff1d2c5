"""Admin of the reviews app: a pilot's review settings and its webhooks save
through the review services (``portal.admin.ServiceAdmin``), so the admin
keeps their rules: a webhook host the allow-list does not hold is a field
error with nothing written, and every change is in the change log (the
secret only as a fingerprint). Webhook deliveries are read-only facts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from portal.admin import ReadOnlyAdmin, ServiceAdmin
from reviews import services
from reviews.models import ReviewSettings, Webhook, WebhookDelivery


@admin.register(ReviewSettings)
class ReviewSettingsAdmin(ServiceAdmin):
    list_display = ["pilot", "pass_score", "marginal_score", "resamples", "temperature_limit"]
    list_select_related = ["pilot"]
    fields = ["pilot", *services.REVIEW_SETTINGS_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["pilot"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        fields = {k: v for k, v in data.items() if k in services.REVIEW_SETTINGS_FIELDS}
        return services.review_settings_update(pilot=data["pilot"], actor=request.user, data=fields)

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> models.Model:
        fields = {k: v for k, v in data.items() if k in services.REVIEW_SETTINGS_FIELDS}
        return services.review_settings_update(pilot=obj.pilot, actor=request.user, data=fields)


@admin.register(Webhook)
class WebhookAdmin(ServiceAdmin):
    list_display = ["pilot", "url", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["pilot"]
    search_fields = ["url", "pilot__name"]
    fields = ["pilot", "url", "secret", "active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["pilot"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Switch it off instead: its deliveries stay listed on the pilot page.
        return False

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "secret" and field is not None:
            # Write-only: the form never shows the stored secret; left empty
            # on a change, the secret stays as it is.
            field.widget = forms.PasswordInput(render_value=False)
            field.required = False
            field.help_text = "Signs each delivery. On a change, leave empty to keep it."
        return field

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        return services.webhook_create(
            pilot=data["pilot"],
            actor=request.user,
            url=data["url"],
            secret=data.get("secret") or "",
            active=bool(data.get("active")),
        )

    def service_update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> models.Model:
        changes = {k: v for k, v in data.items() if k in {"url", "secret", "active"}}
        if not changes.get("secret"):
            changes.pop("secret", None)
        return services.webhook_update(webhook=obj, actor=request.user, data=changes)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "webhook", "event", "attempt", "status", "status_code"]
    list_filter = ["status", "event"]
    list_select_related = ["webhook"]
    exclude = ["body"]
