"""Roles are Django groups. Pages and endpoints ask for roles, not for users.

A user without any role sees nothing: every view and endpoint requires at
least one role (``HasAnyRole`` is in DRF's default permissions, and
``RoleRequiredMixin`` guards pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission


class Role(models.TextChoices):
    PROGRAM_MANAGER = "program_manager", "Program manager"
    FINANCE = "finance", "Finance analyst"
    APPROVER = "approver", "Accountable approver"
    PILOT_TEAM = "pilot_team", "Pilot team"
    PROCUREMENT = "procurement", "Procurement"
    ADMIN = "admin", "Platform admin"


ALL_ROLES: frozenset[str] = frozenset(Role.values)

# Model permissions each group holds (used by the admin site and by
# ``user.has_perm``). Read access is wider than write access on purpose:
# every role can see pilots; only program managers change them.
_VIEW_ALL = [
    "pilots.view_backend",
    "pilots.view_vendor",
    "pilots.view_pilot",
    "pilots.view_phase",
    "pilots.view_exitcriterion",
    "pilots.view_raciactivity",
    "pilots.view_raciassignment",
    "pilots.view_readinessanswer",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.PROGRAM_MANAGER: [
        *_VIEW_ALL,
        "pilots.add_pilot",
        "pilots.change_pilot",
        "pilots.add_phase",
        "pilots.change_phase",
        "pilots.add_exitcriterion",
        "pilots.change_exitcriterion",
        "pilots.delete_exitcriterion",
        "pilots.add_raciactivity",
        "pilots.change_raciactivity",
        "pilots.add_raciassignment",
        "pilots.change_raciassignment",
        "pilots.delete_raciassignment",
        "pilots.change_readinessanswer",
        "pilots.add_readinessanswer",
    ],
    Role.FINANCE: _VIEW_ALL,
    Role.APPROVER: _VIEW_ALL,
    Role.PILOT_TEAM: _VIEW_ALL,
    Role.PROCUREMENT: [*_VIEW_ALL, "pilots.add_vendor", "pilots.change_vendor"],
    Role.ADMIN: _VIEW_ALL,
}


def user_roles(user: Any) -> frozenset[str]:
    """The user's role names, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_pilotgate_roles", None)
    if cached is None:
        if getattr(user, "is_superuser", False):
            cached = ALL_ROLES
        else:
            names = user.groups.values_list("name", flat=True)
            cached = frozenset(name for name in names if name in ALL_ROLES)
        user._pilotgate_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    """True when the user holds any of ``roles`` (or any role when none given)."""
    held = user_roles(user)
    if not roles:
        return bool(held)
    return bool(held.intersection(roles))


def sync_role_groups() -> None:
    """Create one group per role with its permissions. Safe to run repeatedly."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for dotted in codenames:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


class RoleRequiredMixin(AccessMixin):
    """Page guard: anonymous users go to login, users without a role get 403.

    ``required_roles`` empty means "any role".
    """

    required_roles: Iterable[str] = ()
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_role(request.user, *self.required_roles):
            self.raise_exception = True
            return self.handle_no_permission()
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return response


class HasAnyRole(BasePermission):
    """DRF default: an authenticated user must hold at least one role."""

    message = "Your account has no PilotGate role."

    def has_permission(self, request: Any, view: Any) -> bool:
        required: Iterable[str] = getattr(view, "required_roles", ())
        return has_role(request.user, *required)
