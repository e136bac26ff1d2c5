"""The request parsers of the API (``DEFAULT_PARSER_CLASSES``). A module of
its own: DRF reads the setting while ``rest_framework.views`` is imported,
so the parsers cannot live beside the views' helpers in ``portal.api``."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

__all__ = ["MultiPartParser"]


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
