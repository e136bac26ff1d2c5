"""The API's documentation pages: Swagger UI and ReDoc.

Both are pages for people: logged out, they send you to the login page (the
schema endpoint itself stays an API and answers JSON 401/403). They run under
the portal's Content-Security-Policy with the request's nonce on their inline
script, and ReDoc's bundle is served without the one request it makes to
another host (its "API docs by Redocly" logo on cdn.redoc.ly).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from csp.constants import SELF
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# The sidebar's footer logo: an <img> that removes itself when it fails to
# load. An empty src fails at once, without a request.
REDOC_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
REDOC_LOGO_DROPPED = b'src:""'
# The styles the bundle injects while it loads take the nonce of its own
# <script> tag (ReDoc.init's ``nonce`` option comes too late for those).
REDOC_NONCE = b"},r.nc=void 0;var i={}"
REDOC_NONCE_FROM_SCRIPT = (
    b"},r.nc=document.currentScript&&document.currentScript.nonce||void 0;var i={}"
)


class _LoginPageOnAuthFailure:
    """An anonymous visitor is sent to the login page, and comes back after."""

    def handle_exception(self, exc: Exception) -> Any:
        request: Any = self.request  # type: ignore[attr-defined]
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) and (
            not request.user.is_authenticated
        ):
            return redirect_to_login(request.get_full_path())
        return super().handle_exception(exc)  # type: ignore[misc]


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema. A refusal is the API's JSON error, not YAML."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code >= 400 and isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


class SwaggerView(_LoginPageOnAuthFailure, SpectacularSwaggerView):
    template_name = "portal/swagger_ui.html"


class RedocView(_LoginPageOnAuthFailure, SpectacularRedocView):
    # The stock template loads Google Fonts, and no page may leave the host.
    template_name = "portal/redoc.html"

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        # ReDoc's search runs in a web worker it makes from a blob.
        response._csp_update = {"worker-src": [SELF, "blob:"]}
        return super().finalize_response(request, response, *args, **kwargs)


@functools.cache
def _redoc_bundle() -> tuple[bytes, str]:
    found = finders.find(REDOC_BUNDLE)
    if not found:
        raise ImproperlyConfigured(
            f"{REDOC_BUNDLE} not found: is drf-spectacular-sidecar installed?"
        )
    content = Path(str(found)).read_bytes()
    if content.count(REDOC_LOGO) != 1 or content.count(REDOC_NONCE) != 1:
        # A new ReDoc version: check what it requests and injects, then update
        # these (tests/portal/test_csp_browser.py shows what the browser refuses).
        raise ImproperlyConfigured("The ReDoc bundle changed; update REDOC_LOGO and REDOC_NONCE.")
    patched = content.replace(REDOC_LOGO, REDOC_LOGO_DROPPED).replace(
        REDOC_NONCE, REDOC_NONCE_FROM_SCRIPT
    )
    return patched, hashlib.sha256(patched).hexdigest()[:16]


@require_GET
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """ReDoc's standalone bundle without its logo from another host. Public,
    like every static file."""
    content, etag = _redoc_bundle()
    if request.headers.get("If-None-Match") == f'"{etag}"':
        return HttpResponse(status=304)
    response = HttpResponse(content, content_type="text/javascript; charset=utf-8")
    response["ETag"] = f'"{etag}"'
    patch_cache_control(response, public=True, max_age=86400)
    return response
