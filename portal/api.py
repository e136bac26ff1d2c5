"""API conventions shared by every endpoint: pagination and the error shape.

Errors are always ``{"error": {"code", "message", "fields"?}}``; validation
errors name each field. No stack trace reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


# Sent by browsers with every form; never a field of the resource.
IGNORED_BODY_KEYS = frozenset({"csrfmiddlewaretoken"})


def unknown_fields(data: Any, accepted: Iterable[str]) -> list[str]:
    """The keys of a request body that are not among ``accepted``, sorted."""
    if not isinstance(data, Mapping):
        return []
    return sorted(set(data) - set(accepted) - IGNORED_BODY_KEYS)


def unknown_field_errors(unknown: list[str], accepted: Iterable[str]) -> dict[str, list[str]]:
    expected = ", ".join(sorted(accepted))
    return {name: [f"Unknown field; this request accepts: {expected}."] for name in unknown}


class RejectUnknownFieldsMixin:
    """For input serializers: a body field the serializer does not accept
    (``pilot_id`` for ``pilot``, a typo, a read-only field) is a 400 naming
    it, instead of being silently ignored.

    ``class MyInput(RejectUnknownFieldsMixin, serializers.Serializer): ...``
    The request schema says so too (``additionalProperties: false``, by
    ``portal.schema.postprocess``).
    """

    def to_internal_value(self, data: Any) -> Any:
        fields: Mapping[str, Any] = self.fields  # type: ignore[attr-defined]
        accepted = [name for name, field in fields.items() if not field.read_only]
        unknown = unknown_fields(data, accepted)
        if unknown:
            raise exceptions.ValidationError(unknown_field_errors(unknown, accepted))
        return super().to_internal_value(data)  # type: ignore[misc]


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [
            str(item) if not isinstance(item, (dict, list)) else _flatten(item) for item in detail
        ]
    return str(detail)


def error_body(code: str, message: str, fields: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        # Keep the guard's reason (``portal.roles.refusal`` names the roles that may).
        exc = exceptions.PermissionDenied(str(exc.args[0]) if exc.args else None)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "Internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = (
            _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
        )
        response.data = error_body("invalid", "The request has invalid fields.", fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(exc.detail))
    return response
