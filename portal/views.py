"""Probes for load balancers, and the JSON error pages of the API."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache

from portal.api import error_body
from portal.roles import home_page_for


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is alive. Touches nothing else, so it never flaps."""
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return {"ok": True, "mode": "eager (tasks run in the web process)"}
    from portal.celery import app

    started = time.monotonic()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Database and broker reachable; 503 with the failing part otherwise."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def _refusal_reason(exception: Exception | None) -> str:
    """The reason a guard gave (``portal.roles.refusal``: which roles may), or ''."""
    if isinstance(exception, PermissionDenied) and exception.args:
        return str(exception.args[0])
    return ""


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = _refusal_reason(exception)
    if _wants_json(request):
        return JsonResponse(
            error_body("permission_denied", reason or "Permission denied."), status=403
        )
    return render(request, "403.html", {"reason": reason}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "Internal error; it has been logged."), status=500
        )
    return render(request, "500.html", status=500)


class LoginView(auth_views.LoginView):
    """Django's login page; without a ``next``, a user lands on their
    role's registered page (``portal.roles.home_page_for``) or the home."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        page = home_page_for(self.request.user)
        return resolve_url(page) if page else super().get_default_redirect_url()
