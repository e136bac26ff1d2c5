"""What every app's admin shares: ``AuditedAdmin`` (every save and delete
recorded with the acting user) and the read-only change log and tokens.
Change records are history; tokens are created and revoked by their owners
on the token pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import models, transaction
from django.forms import ModelForm
from django.http import HttpRequest

from portal.audit import record_change, snapshot
from portal.forms import apply_service_error
from portal.models import ApiToken, ChangeRecord

__all__ = [
    "AuditedAdmin",
    "ReadOnlyAdmin",
    "ServiceAdmin",
    "delete_recorded",
    "save_recorded",
]


def _scope_of(obj: models.Model) -> str:
    """The change-log scope the model exposes (``audit_scope()``), if any:
    a pilot's phase is recorded under the pilot."""
    scope = getattr(obj, "audit_scope", None)
    return str(scope()) if callable(scope) else ""


def save_recorded(request: HttpRequest, obj: models.Model, save: Callable[[], None]) -> None:
    """Run ``save`` and record what it changed, in one transaction."""
    with transaction.atomic():
        adding = obj._state.adding
        before = None if adding else snapshot(type(obj)._default_manager.get(pk=obj.pk))
        save()
        record_change(
            actor=request.user,
            instance=obj,
            action=ChangeRecord.Action.CREATE if adding else ChangeRecord.Action.UPDATE,
            before=before,
            after=snapshot(obj),
            scope=_scope_of(obj),
            message="admin",
        )


def delete_recorded(request: HttpRequest, obj: models.Model, delete: Callable[[], Any]) -> None:
    """Record ``obj`` as deleted and run ``delete``, in one transaction."""
    with transaction.atomic():
        record_change(
            actor=request.user,
            instance=obj,
            action=ChangeRecord.Action.DELETE,
            before=snapshot(obj),
            scope=_scope_of(obj),
            message="admin",
        )
        delete()


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Records every admin save and delete with the acting user."""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        save_recorded(request, obj, partial(super().save_model, request, obj, form, change))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        delete_recorded(request, obj, partial(super().delete_model, request, obj))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # One record per object, not one silent bulk delete.
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "content_type", "object_repr", "scope", "message"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "scope", "actor__username", "message"]
    list_select_related = ["actor", "content_type"]
    date_hierarchy = "at"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    # The hash never shows, not even to admins.
    exclude = ["key_hash"]


class ServiceAdmin(AuditedAdmin):
    """An admin that saves through the app's services, so it keeps their
    rules: the service runs while the form is validated, and a refusal
    (a ValidationError, e.g. ``DomainError``) shows on the form as it would
    on the app's own page, with nothing written. The service records the
    change itself, as for any other caller.

    Subclasses implement ``service_create`` and ``service_update`` (and
    ``service_delete`` where deleting is allowed).
    """

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        raise PermissionDenied

    def service_update(
        self, request: HttpRequest, obj: models.Model, data: dict[str, Any]
    ) -> models.Model:
        raise PermissionDenied

    def service_delete(self, request: HttpRequest, obj: models.Model) -> None:
        raise PermissionDenied

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[Any]]:
        base = super().get_form(request, obj, change, **kwargs)
        admin_site_admin = self

        class ServiceForm(base):  # type: ignore[valid-type,misc]
            saved: models.Model | None = None

            def _post_clean(self) -> None:
                super()._post_clean()
                if self.errors:
                    return
                try:
                    # A savepoint: a refused write leaves nothing behind.
                    with transaction.atomic():
                        if self.instance._state.adding:
                            self.saved = admin_site_admin.service_create(
                                request, dict(self.cleaned_data)
                            )
                        else:
                            current = type(self.instance)._default_manager.get(pk=self.instance.pk)
                            changed = {
                                name: self.cleaned_data[name]
                                for name in self.changed_data
                                if name in self.cleaned_data
                            }
                            self.saved = admin_site_admin.service_update(request, current, changed)
                except ValidationError as error:
                    apply_service_error(self, error)

        return ServiceForm

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        saved = getattr(form, "saved", None)
        if saved is None:  # pragma: no cover - the form is valid only once saved
            raise ImproperlyConfigured("ServiceAdmin form saved without its service")
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service saved the object and its relations; inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.service_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.service_delete(request, obj)
