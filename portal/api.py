"""API conventions shared by every endpoint: pagination and the error shape.

Errors are always ``{"error": {"code", "message", "fields"?}}``; validation
errors name each field. No stack trace reaches a client.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django_filters import BooleanFilter  # type: ignore[import-untyped]
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView
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


class Pagination(BasePagination):
    """Page numbers without a count: the one envelope of every list,
    ``{"next", "previous", "results"}``, as the cursor-paginated lists
    answer. A page reads one row more than it shows to know whether there is
    a next one, so no list runs a ``COUNT(*)``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_query_param = "page"

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_size_now = self._page_size(request)
        self.page_number = self._positive_int(request, self.page_query_param, default=1)
        offset = (self.page_number - 1) * self.page_size_now
        rows = list(queryset[offset : offset + self.page_size_now + 1])
        self.has_next = len(rows) > self.page_size_now
        if not rows and self.page_number > 1:
            raise exceptions.NotFound(f"Page {self.page_number} is past the last page.")
        return rows[: self.page_size_now]

    def _positive_int(self, request: Request, name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        # An empty or unreadable value is a 400 naming it, not the default.
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise exceptions.ValidationError({name: ["A whole number of 1 or more."]})
        return value

    def _page_size(self, request: Request) -> int:
        size = self._positive_int(request, self.page_size_query_param, default=self.page_size)
        return min(size, self.max_page_size)

    def _link(self, page: int) -> str:
        url = self.request.build_absolute_uri()
        if page == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.page_number + 1) if self.has_next else None,
                "previous": self._link(self.page_number - 1) if self.page_number > 1 else None,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "example": "http://api.example.org/accounts/?page=3"},
                "previous": {**link, "example": "http://api.example.org/accounts/?page=1"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number (from 1).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]


def iso_datetime(value: dt.datetime | None) -> str | None:
    """A time as DRF's DateTimeField writes it (UTC, ISO 8601, ``Z``), for
    lists that serialize from ``values()`` without a serializer field."""
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ValuesListMixin:
    """``list()`` from ``values()`` rows for a viewset: ``list_rows(queryset)``
    selects the columns, ``list_json(rows)`` writes the JSON of
    ``serializer_class``, which stays the documented schema (a test per list
    holds them equal). No model instance and no serializer field per row:
    that, not the queries, is what a list costs (DESIGN.md)."""

    @staticmethod
    def list_rows(queryset: QuerySet[Any]) -> QuerySet[Any, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def list_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        queryset = view.get_queryset()
        # Without query parameters the filters (filterset, search, ordering)
        # change nothing but cost a form per request: skip them.
        if request.query_params:
            queryset = view.filter_queryset(queryset)
        page = view.paginate_queryset(self.list_rows(queryset))
        response: Response = view.get_paginated_response(self.list_json(page))
        return response


class Conflict(exceptions.APIException):
    """409: the request is well formed but the object's state refuses it
    (the phase is not planned, another phase is active, the pilot is closed)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class InputSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A request body. A key that is not one of its writable fields is a 400
    naming it, never silently ignored (``pilot_id`` for ``pilot`` would
    otherwise "succeed" without the pilot); nested input serializers that
    derive from it are checked too."""


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
        # Model-wide rules (constraints, clean()) come keyed "__all__".
        if "__all__" in fields:
            fields = {**fields}
            general = fields.pop("__all__")
            fields["non_field_errors"] = [*general, *fields.get("non_field_errors", [])]
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
