"""The request parsers of the API (``DEFAULT_PARSER_CLASSES``). A module of
its own: DRF reads the setting while ``rest_framework.views`` is imported,
so the parsers cannot live beside the views' helpers in ``portal.api``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

__all__ = ["JSONParser", "MultiPartParser"]


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a JSON number with a fraction or an
    exponent is read as a ``Decimal``, never a float: money sent as a number
    (``"capex": 123456789012345678.91``) keeps every digit it was sent with.
    NaN and Infinity stay refused (DRF's strict constants); float fields
    take the ``Decimal`` as their float."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, parse_float=Decimal, parse_constant=_not_a_number)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


def _not_a_number(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, except that a body with content but not one
    named part (``False``, a JSON list sent as multipart) is a 400: Django
    would read it as an empty form, and a PATCH would "succeed" changing
    nothing."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        if parsed.data or parsed.files:
            return parsed
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        boundary = str(media_type or "").rpartition("boundary=")[2].strip()
        # An empty form is the closing boundary alone: "--" boundary "--" CRLF.
        if length > len(boundary) + 8:
            raise exceptions.ParseError("The multipart body has no named part.")
        return parsed
