"""Two small guards in front of every view, each refusing before a byte of
the body is read:

- ``RequestBodyLimitMiddleware``: a body announced (``Content-Length``)
  larger than ``IMPORT_MAX_BYTES`` is a 413, and an anonymous client may
  send no more than ``ANONYMOUS_MAX_BODY_BYTES`` (a login form): without
  this, the CSRF check of a page reads ``request.POST`` — and spools a
  multipart upload to the temp folder — before the view refuses the
  visitor. ``MaxBytesUploadHandler`` caps what the multipart parser spools
  whatever the headers said (a body without ``Content-Length`` is never
  read under WSGI, so this is the backstop).
- ``ApiSlashMiddleware``: ``POST /api/v1/imports`` (no trailing slash) is a
  JSON 404 naming ``/api/v1/imports/``, never ``APPEND_SLASH``'s redirect
  (which ``curl -L`` turns into a GET, losing the upload) or its debug-mode
  500. It sits before ``CommonMiddleware``.

The proxy in front should refuse earlier still: ``client_max_body_size``
(nginx) set to the same figure (README, Production).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from portal.api import error_body

__all__ = ["ApiSlashMiddleware", "MaxBytesUploadHandler", "RequestBodyLimitMiddleware"]

API_PREFIX = "/api/v1/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Multipart framing (boundaries, part headers, the other fields) on top of the file.
MULTIPART_SLACK = 64 * 1024


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    # Nothing of the body was read: the client must not reuse the connection.
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(error_body(code, message), status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Connection"] = "close"
    return response


def _maybe_authenticated(request: HttpRequest) -> bool:
    """A session user, or an API client presenting a token (which DRF checks
    before reading the body)."""
    if request.META.get("HTTP_AUTHORIZATION"):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class RequestBodyLimitMiddleware:
    """Refuse a too-large or anonymous body by its ``Content-Length``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        if length:
            limit = int(settings.IMPORT_MAX_BYTES) + MULTIPART_SLACK
            if length > limit:
                return _refuse(
                    request,
                    413,
                    "too_large",
                    f"The request body is {length:,} bytes; at most "
                    f"{int(settings.IMPORT_MAX_BYTES):,} bytes are accepted (IMPORT_MAX_BYTES).",
                )
            if length > int(settings.ANONYMOUS_MAX_BODY_BYTES) and not _maybe_authenticated(
                request
            ):
                return _refuse(
                    request,
                    401 if request.path.startswith(API_PREFIX) else 403,
                    "not_authenticated",
                    "Log in (or send an API token) before uploading.",
                )
        return self.get_response(request)


class MaxBytesUploadHandler(FileUploadHandler):
    """First of the upload handlers: counts the file bytes of a multipart
    body and stops at ``IMPORT_MAX_BYTES`` (a 400, nothing more spooled)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if not hasattr(self.request, "_upload_bytes"):
            self.request._upload_bytes = 0  # type: ignore[union-attr]

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        total = int(getattr(self.request, "_upload_bytes", 0)) + len(raw_data)
        self.request._upload_bytes = total  # type: ignore[union-attr]
        # The form or serializer says "the file is N bytes; the limit is M"
        # for a file a little over; this stops a body far past it.
        if total > int(settings.IMPORT_MAX_BYTES) + MULTIPART_SLACK:
            raise RequestDataTooBig(
                f"Upload larger than {int(settings.IMPORT_MAX_BYTES):,} bytes (IMPORT_MAX_BYTES)."
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class ApiSlashMiddleware:
    """A write to an API URL without its trailing slash: JSON 404 naming the
    URL with the slash (when that one exists)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            request.method in BODY_METHODS
            and path.startswith(API_PREFIX)
            and not path.endswith("/")
            and _resolves(path)
        ):
            return _refuse(
                request,
                404,
                "not_found",
                f"{request.method} {path} is not an endpoint; use {path}/ (with the trailing "
                "slash). Nothing was done.",
            )
        return self.get_response(request)


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        pass
    else:
        return False  # the path itself is an endpoint
    try:
        resolve(path + "/")
    except Resolver404:
        return False
    return True
