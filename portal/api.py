"""API conventions shared by every endpoint: pagination and the error shape.

Errors are always ``{"error": {"code", "message", "fields"?}}``; validation
errors name each field. No stack trace reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters import BooleanFilter  # type: ignore[import-untyped]
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]
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


class StrictPageSizeMixin:
    """``page_size`` that is not a whole number of at least 1 is a 400 naming
    it, not silently the default (for any DRF pagination class)."""

    page_size_query_param: str | None

    def get_page_size(self, request: Any) -> int | None:
        param = self.page_size_query_param
        if param and param in request.query_params:
            raw = request.query_params[param]
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
                raise exceptions.ValidationError(
                    {param: [f"A whole number of at least 1, not {raw[:40]!r}."]}
                )
        size: int | None = super().get_page_size(request)  # type: ignore[misc]
        return size


class Pagination(StrictPageSizeMixin, PageNumberPagination):
    """Page numbers; ``page`` must be a whole number of at least 1 (an empty
    or unreadable one is a 400, not the first page)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_number(self, request: Any, paginator: Any) -> int | str:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and (not raw.isascii() or not raw.isdigit() or int(raw) < 1):
            raise exceptions.ValidationError(
                {self.page_query_param: [f"A whole number of at least 1, not {raw[:40]!r}."]}
            )
        return raw or 1


BOOLEAN_VALUES = frozenset({"", "true", "false", "True", "False", "1", "0"})


class FilterBackend(DjangoFilterBackend):  # type: ignore[misc]
    """django-filter, except that a yes/no filter given anything but true or
    false is a 400 naming it (django-filter would ignore it and filter nothing)."""

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        errors = {
            name: [f"true or false, not {request.query_params[name][:40]!r}."]
            for name, declared in filterset.filters.items()
            if isinstance(declared, BooleanFilter)
            and name in request.query_params
            and any(value not in BOOLEAN_VALUES for value in request.query_params.getlist(name))
        }
        if errors:
            raise exceptions.ValidationError(errors)
        return filterset


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
    if isinstance(exc, RequestDataTooBig):
        # An upload past IMPORT_MAX_BYTES (portal.request_guards): say so, not 500.
        return Response(error_body("too_large", str(exc)), status=413)
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
