"""Roles are Django groups. Pages and endpoints ask for a capability, and
``POLICY`` (the one role-policy table) says which roles hold it.

A user without any role sees nothing: every view and endpoint requires a
capability, ``READ`` at least (``HasAnyRole`` is in DRF's default
permissions; ``RoleRequiredMixin`` and ``role_required`` guard pages, and
all three ask ``may``). Rules finer than a role (a RACI letter, cost-center
membership) are checked by the services and selectors on top of this.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBase
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


# ---------------------------------------------------------------------------
# The role-policy table: which roles may do what, for pages and endpoints.
# ---------------------------------------------------------------------------

READ = "read"
PILOTS_WRITE = "pilots.write"
METRICS_IMPORT = "metrics.import"
METRICS_IMPORT_ANYWHERE = "metrics.import_anywhere"
COSTS_WRITE = "costs.write"
VENDORS_WRITE = "vendors.write"
REVIEWS_SUBMIT = "reviews.submit"
# Everyone's API tokens: the list of all and revoking any (portal/account_views.py).
TOKENS_MANAGE = "tokens.manage"

POLICY: dict[str, frozenset[str]] = {
    # Every page and read endpoint: any role.
    READ: ALL_ROLES,
    # Pilots, phases, exit criteria, RACI and readiness.
    PILOTS_WRITE: frozenset({Role.PROGRAM_MANAGER, Role.ADMIN}),
    # Metrics uploads and pushes: the pilot team brings evidence.
    METRICS_IMPORT: frozenset({Role.PILOT_TEAM, Role.PROGRAM_MANAGER, Role.ADMIN}),
    # ...into any backend and pilot; the others only where they hold a RACI letter.
    METRICS_IMPORT_ANYWHERE: frozenset({Role.PROGRAM_MANAGER, Role.ADMIN}),
    # Cost centers, cost models, usage mappings, closing periods, bills.
    COSTS_WRITE: frozenset({Role.FINANCE, Role.ADMIN}),
    # Vendors, contracts, incidents, sites, parts, stock.
    VENDORS_WRITE: frozenset({Role.PROCUREMENT, Role.ADMIN}),
    # Go/no-go reviews: the RACI letter decides beyond this (R or C, or a PM).
    REVIEWS_SUBMIT: frozenset({Role.PILOT_TEAM, Role.PROGRAM_MANAGER, Role.APPROVER, Role.ADMIN}),
    # Every user's API tokens: platform admins (their own: any role).
    TOKENS_MANAGE: frozenset({Role.ADMIN}),
}


def roles_for(capability: str) -> frozenset[str]:
    """The roles holding ``capability``; an unknown name is a programming error."""
    try:
        return POLICY[capability]
    except KeyError:
        raise ImproperlyConfigured(f"No role policy for {capability!r}") from None


def may(user: Any, capability: str = READ) -> bool:
    """True when the user holds a role that ``capability`` admits."""
    return bool(user_roles(user) & roles_for(capability))


def refusal(capability: str) -> str:
    """Why a user was refused: which roles may."""
    if capability == READ:
        return "Your account has no PilotGate role; ask a platform admin for one."
    names = ", ".join(sorted(Role(role).label for role in roles_for(capability)))
    return f"This needs one of these roles: {names}."


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


P = ParamSpec("P")
PageView = Callable[Concatenate[HttpRequest, P], HttpResponse]


def page_access(request: HttpRequest, capability: str) -> None:
    """The page guard both page styles share: raises PermissionDenied (403,
    with the reason) for a user whose roles ``capability`` does not admit.
    Callers send anonymous users to the login page first."""
    if not may(request.user, capability):
        raise PermissionDenied(refusal(capability))


class RoleRequiredMixin(AccessMixin):
    """Page guard for class-based pages: anonymous users go to login, users
    whose roles ``capability`` does not admit get 403."""

    capability: str = READ

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        page_access(request, self.capability)
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return response


def role_required(
    capability: str = READ, *, fragment: bool = False
) -> Callable[[PageView[P]], PageView[P]]:
    """The same guard for function pages. Anonymous users go to the login
    page, except for HTMX fragments, which answer 403: a login form swapped
    into a panel would help nobody."""

    def decorate(view: PageView[P]) -> PageView[P]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            if not request.user.is_authenticated and not fragment:
                return redirect_to_login(request.get_full_path())
            if not request.user.is_authenticated:
                raise PermissionDenied(refusal(READ))
            page_access(request, capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class HasAnyRole(BasePermission):
    """DRF default: the view's ``capability`` (``READ`` unless it says
    otherwise; a viewset may name one per action in ``capabilities``)."""

    message = refusal(READ)

    def has_permission(self, request: Any, view: Any) -> bool:
        capability = view_capability(view)
        if may(request.user, capability):
            return True
        if user_roles(request.user):
            self.message = refusal(capability)
        return False


def view_capability(view: Any) -> str:
    """The capability an API view needs for this request."""
    by_action: dict[str, str] = getattr(view, "capabilities", {})
    action = getattr(view, "action", None) or getattr(view.request, "method", "").lower()
    if action in by_action:
        return by_action[action]
    return str(getattr(view, "capability", READ))


# ---------------------------------------------------------------------------
# Landing pages: where a role lands after logging in (apps above portal
# register theirs in AppConfig.ready, e.g. finance -> the showback dashboard).
# ---------------------------------------------------------------------------

HOME_PAGES: dict[str, str] = {}


def register_home_page(role: str, url_name: str) -> None:
    """``role`` lands on ``url_name`` after logging in."""
    HOME_PAGES[role] = url_name


def home_page_for(user: Any) -> str | None:
    """The URL name a user lands on: the registered page when every role
    the user holds registered that same page (a finance analyst who is also
    a program manager keeps the portal home), else None."""
    held = user_roles(user)
    pages = {HOME_PAGES.get(role) for role in held}
    if len(pages) == 1:
        (page,) = pages
        return page
    return None
