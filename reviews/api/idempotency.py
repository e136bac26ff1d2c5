"""``Idempotency-Key`` for POST endpoints: a retry gets the first response.

The first request with a key runs and its response (status and body) is
stored with a hash of the request; a retry with the same key and the same
body gets that response again, whatever it was; the same key with another
body is refused with 422. The handler and the record are one transaction:
when two requests with one key race, the loser's work is rolled back and it
answers with the winner's response. Keys are per user and endpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api import error_body
from reviews.models import IdempotencyRecord

__all__ = ["IDEMPOTENCY_HEADER", "IDEMPOTENCY_PARAMETER", "idempotent"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, up to 200 characters. A retried POST with the same key and body returns "
        "the first response (same status, same body) instead of acting twice; the same key "
        "with a different body answers 422."
    ),
)


def _request_hash(request: Request) -> str:
    payload = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        return Response(
            error_body(
                "idempotency_key_reused",
                f"The {IDEMPOTENCY_HEADER} was used with a different request body.",
            ),
            status=422,
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    request: Request,
    handle: Callable[[], Response],
    on_error: Callable[[Exception], Response],
) -> Response:
    """Run ``handle`` once per ``Idempotency-Key`` (when the header is there).
    ``on_error`` turns an exception of ``handle`` into its error response
    (the view's ``handle_exception``), so errors are replayed too."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return handle()
    if len(key) > 200:
        return Response(
            error_body("invalid", f"The {IDEMPOTENCY_HEADER} is longer than 200 characters."),
            status=400,
        )
    user = request.user
    if not isinstance(user, User):
        return handle()
    endpoint = request.path[:200]
    digest = _request_hash(request)
    found = IdempotencyRecord.objects.filter(user=user, endpoint=endpoint, key=key).first()
    if found is not None:
        return _replay(found, digest)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    response = handle()
            except Exception as exc:  # noqa: BLE001 - turned into its API error
                response = on_error(exc)
            if response.status_code >= 500:
                return response
            body: Any = json.loads(JSONRenderer().render(response.data) or b"null")
            IdempotencyRecord.objects.create(
                key=key,
                user=user,
                endpoint=endpoint,
                request_hash=digest,
                response_status=response.status_code,
                response_body=body,
            )
    except IntegrityError:
        winner = IdempotencyRecord.objects.filter(user=user, endpoint=endpoint, key=key).first()
        if winner is None:
            raise
        return _replay(winner, digest)
    return response
