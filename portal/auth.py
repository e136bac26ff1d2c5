"""Login throttling (django-axes): per account and per client address.

After ``LOGIN_FAILURE_LIMIT`` failed logins for one username, or from one
client address, further attempts are refused for ``LOGIN_COOLOFF_MINUTES``
(each refused attempt starts the cool-off again). The portal's login page and
the admin's share the rule; a success resets the count. Every failure and
lockout is logged.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

logger = logging.getLogger("portal.auth")


class ThrottledLoginBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """Axes' lockout check, first in ``AUTHENTICATION_BACKENDS``.

    A web login always passes the request (Django's login views, the admin's).
    ``authenticate()`` without one comes from code (the shell, a management
    command, the test client's ``login()``): there is no client to throttle,
    so the check steps aside instead of raising.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT``
    proxies the address the outermost trusted proxy saw (``X-Forwarded-For``
    read from the right, so a client cannot forge it)."""
    proxies: int = settings.TRUSTED_PROXY_COUNT
    remote: str | None = request.META.get("REMOTE_ADDR")
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part
    ]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies] or remote


def cooloff_minutes(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = cooloff_minutes(request)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed logins; try again in {minutes} {unit}."


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The login page again, with the reason and status 429 (``AXES_LOCKOUT_CALLABLE``).

    Used for the admin's login too: it is a login page, and the message is
    the same."""
    username = get_client_username(request, credentials) or ""
    logger.warning(
        "Login locked out: username=%r address=%s path=%s",
        username,
        client_ip(request),
        request.path,
    )
    form = AuthenticationForm(request, initial={"username": username})
    response = TemplateResponse(
        request,
        "registration/login.html",
        {
            "form": form,
            "lockout_message": lockout_message(request),
            "next": request.POST.get("next", "") or request.GET.get("next", ""),
        },
        status=429,
    )
    response.render()
    return response
