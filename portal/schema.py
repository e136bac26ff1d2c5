"""The OpenAPI schema says what the API answers (checked by schemathesis,
``.ci/schemathesis``).

- Every operation documents the error shape of ``portal.api`` for the
  refusals any endpoint can give: 400 (bad parameters or body), 401, 403 and
  404 (an unknown id, or a page past the end); the refusals it documents
  itself (409) have that shape too.
- A request body whose serializer refuses unknown fields
  (``RejectUnknownFieldsMixin``) says so: ``additionalProperties: false``.
- A decimal in a request body is a string or a JSON number (DRF takes both).
- A query parameter with choices also takes the empty string: django-filter
  reads ``?status=`` as "any status".
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

from portal.api import RejectUnknownFieldsMixin

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error: a code, a message for people, and per-field messages.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "Field name to its messages (nested for nested fields).",
                    "additionalProperties": {},
                },
            },
        }
    },
}
ERROR_RESPONSES = {
    "400": "Invalid parameters or body; `fields` names each problem.",
    "401": "Not authenticated, or the token is invalid, revoked or expired.",
    "403": "Authenticated, but no role that may do this; the message names the roles.",
    "404": "No such object, or a page past the end.",
}
# Answered by the server in front (gunicorn, a proxy) before the API sees the request.
SERVER_RESPONSES = {"414": "The URL is longer than the server accepts."}
METHODS = ("get", "put", "post", "patch", "delete")


# Keys that describe a field rather than its type: kept outside the anyOf.
FIELD_META = ("description", "nullable", "readOnly", "writeOnly", "default", "title")


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        if (
            direction == "request"
            and isinstance(field, serializers.DecimalField)
            and result.get("type") == "string"
        ):
            # Money and thresholds go out as strings (exact); in, DRF also takes
            # a JSON number (``"threshold": 1.1``), and the schema says so.
            meta = {key: result.pop(key) for key in FIELD_META if key in result}
            result = {"anyOf": [result, {"type": "number"}], **meta}
        return result

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        result: dict[str, Any] = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        if direction == "request" and isinstance(serializer, RejectUnknownFieldsMixin):
            result["additionalProperties"] = False
        return result


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (``POSTPROCESSING_HOOKS``)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    error_ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
            for code, response in responses.items():
                # An operation's own refusals (409: the object's state) have the error shape too.
                if code.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": error_ref}}
            for code, description in SERVER_RESPONSES.items():
                responses.setdefault(code, {"description": description})
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and "" not in schema.get("enum", [""]):
                    schema["enum"] = [*schema["enum"], ""]
    return result
