"""API conventions shared by every endpoint: pagination and the error shape.

Errors are always ``{"error": {"code", "message", "fields"?}}``; validation
errors name each field. No stack trace reaches a client.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.dateparse import parse_datetime
from django_filters import (  # type: ignore[import-untyped]
    BooleanFilter,
    DateFilter,
    DateTimeFilter,
    IsoDateTimeFilter,
    NumberFilter,
)
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]
from rest_framework import exceptions, serializers, status
from rest_framework.fields import empty
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import html
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
    # No list has a billion rows; a page past this is a 400, not an offset
    # the database cannot hold (SQLite and PostgreSQL answer with an error).
    max_page = 10_000_000

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.page_size_now = self._page_size(request)
        self.page_number = self._positive_int(request, self.page_query_param, default=1)
        if self.page_number > self.max_page:
            raise exceptions.ValidationError(
                {self.page_query_param: [f"A page number of at most {self.max_page}."]}
            )
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
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page},
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


class SlugRelatedField(serializers.SlugRelatedField[Any]):
    """An object by its slug, code or username, which is a non-empty string.
    DRF's field would also take a number (``0`` finds ``"0"``) and read ``""``
    as null; both are a 400 naming the field, as the schema says. So is a
    NUL character, which PostgreSQL refuses in a query (a 500 otherwise)."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "blank": "This field may not be blank.",
        "null_characters": "Null characters are not allowed.",
        "incorrect_type": "Incorrect type. Expected a string, received {data_type}.",
    }

    def get_value(self, dictionary: Any) -> Any:
        # A form's "" is not null here: DRF would turn it into None before
        # validation for a nullable field. Null is JSON's ``null``.
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def run_validation(self, data: Any = empty) -> Any:
        if isinstance(data, str) and data == "":
            self.fail("blank")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)


FORM_BOOLEANS = frozenset({"true", "false"})


def _json_type(field: Any) -> tuple[tuple[type[Any], ...], str] | None:
    """The JSON types a writable field takes, as the schema says, or None
    for fields that check their own (relations, lists, decimals, files)."""
    if isinstance(field, serializers.BooleanField):
        return (bool,), "true or false"
    if isinstance(field, serializers.IntegerField):
        return (int,), "a whole number"
    if isinstance(field, serializers.FloatField):
        return (int, float, Decimal), "a number"
    if isinstance(field, serializers.ManyRelatedField | serializers.ListField):
        return (list,), "a list"
    if isinstance(
        field,
        serializers.CharField | serializers.DateField | serializers.DateTimeField,
    ):
        return (str,), "a string"
    return None


class JsonTypesMixin:
    """For serializers of request bodies: a value of the wrong JSON type is a
    400 naming the field. DRF reads ``0`` as ``"0"`` for a text field and
    ``1`` or ``"1"`` as true for a yes/no one; the schema says a string or a
    boolean, and so does the API. In a form every value is text: there a
    yes/no field takes ``true`` or ``false``. Text longer than its
    ``maxLength`` is refused before DRF trims the spaces off its ends (the
    schema counts them)."""

    def to_internal_value(self, data: Any) -> Any:
        fields: Mapping[str, Any] = self.fields  # type: ignore[attr-defined]
        errors: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            for name, field in fields.items():
                limit = getattr(field, "max_length", None)
                value = data.get(name)
                if (
                    isinstance(field, serializers.CharField)
                    and not field.read_only
                    and limit is not None
                    and isinstance(value, str)
                    and len(value) > limit
                ):
                    errors[name] = [f"Ensure this field has no more than {limit} characters."]
        if html.is_html_input(data):
            for name, field in fields.items():
                value = data.get(name)
                if (
                    isinstance(field, serializers.BooleanField)
                    and not field.read_only
                    and value not in (None, "")
                    and value not in FORM_BOOLEANS
                    and not (field.allow_null and value == "null")
                ):
                    errors[name] = [f"true or false, not {str(value)[:40]!r}."]
        elif isinstance(data, Mapping):
            for name, field in fields.items():
                expected = _json_type(field)
                if field.read_only or expected is None or name not in data:
                    continue
                value = data[name]
                types, label = expected
                if name in errors:
                    continue
                wrong_bool = isinstance(value, bool) and bool not in types
                if value is not None and (wrong_bool or not isinstance(value, types)):
                    errors[name] = [f"Incorrect type: expected {label}."]
        if errors:
            raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(JsonTypesMixin, RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A request body. A key that is not one of its writable fields is a 400
    naming it, never silently ignored (``pilot_id`` for ``pilot`` would
    otherwise "succeed" without the pilot); nested input serializers that
    derive from it are checked too."""


BOOLEAN_VALUES = frozenset({"", "true", "false", "True", "False", "1", "0"})
# Filters whose value has a type (the schema's format): given empty, django-filter
# would read them as absent and filter nothing; the API says what it expects.
TYPED_FILTERS: tuple[tuple[type[Any], str], ...] = (
    (DateFilter, "A date, YYYY-MM-DD"),
    (IsoDateTimeFilter, "An ISO 8601 time, e.g. 2026-11-30T00:00:00Z"),
    (DateTimeFilter, "An ISO 8601 time, e.g. 2026-11-30T00:00:00Z"),
    (NumberFilter, "A number"),
)


def _typed_filter_error(declared: Any, values: list[str]) -> str | None:
    for kind, expected in TYPED_FILTERS:
        if isinstance(declared, kind):
            if any(not value.strip() for value in values):
                return f"{expected}; leave the parameter out to filter nothing."
            if kind is DateFilter and any(_not_iso_date(value) for value in values):
                return f"{expected}, not {values[-1][:40]!r}."
            if kind is not DateFilter and any(_offset_off_the_map(value) for value in values):
                return f"{expected}, with a UTC offset from -14:00 to +14:00."
            return None
    return None


def _offset_off_the_map(value: str) -> bool:
    # Python takes offsets up to 24 hours; PostgreSQL refuses a query with one
    # past about 16 (a 500). No place on Earth is more than 14 hours off UTC.
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return False
    offset = parsed.utcoffset() if parsed is not None else None
    return offset is not None and abs(offset) > dt.timedelta(hours=14)


def _not_iso_date(value: str) -> bool:
    # Django's DateField also reads 11/30/2026; the schema says format: date.
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return True
    return len(value) != len("2026-11-30")


class FilterBackend(DjangoFilterBackend):  # type: ignore[misc]
    """django-filter, except that a yes/no filter given anything but true or
    false is a 400 naming it (django-filter would ignore it and filter
    nothing), and so is a date, time or number filter given empty or (dates)
    not as ISO 8601."""

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        params = request.query_params
        errors = {
            name: [f"true or false, not {params[name][:40]!r}."]
            for name, declared in filterset.filters.items()
            if isinstance(declared, BooleanFilter)
            and name in params
            and any(value not in BOOLEAN_VALUES for value in params.getlist(name))
        }
        for name, declared in filterset.filters.items():
            if name in params and name not in errors:
                message = _typed_filter_error(declared, params.getlist(name))
                if message:
                    errors[name] = [message]
        if errors:
            raise exceptions.ValidationError(errors)
        return filterset


class QuerySerializer(serializers.Serializer[Any]):
    """The query string of a report endpoint. A parameter given empty
    (``?period=``) is a 400 naming it unless its field allows blank: DRF
    reads an empty form value as absent, so the default would answer for a
    value the caller meant to give."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            blank = {
                name: ["Give a value, or leave the parameter out for the default."]
                for name, field in self.fields.items()
                if not field.read_only
                and name in data
                and data[name] == ""
                and not getattr(field, "allow_blank", False)
            }
            if blank:
                raise exceptions.ValidationError(blank)
        return super().to_internal_value(data)


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
