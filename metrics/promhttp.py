"""The HTTP client that reads Prometheus' ``/api/v1/query_range``. No ORM:
``metrics.services.pulls`` decides what to pull and imports the answer.

The window is ``last_pulled_until`` (or ``now - lookback``) to ``now``;
``last_pulled_until`` moves on only when the import succeeded, so a failed
pull is retried over the same window next time. Re-pulling a window stores
nothing new: samples are unique by (series, ts).

Queries should select raw series (``vllm:generation_tokens_total{...}``,
``DCGM_FI_DEV_POWER_USAGE``): the import maps them by ``__name__`` and computes
rates itself. An expression such as ``rate(x[5m])`` loses ``__name__`` and is
reported as unmapped.

Only the standard library talks HTTP here (urllib): a timeout on every
request and a cap on the response size, so a misbehaving server can neither
hang a worker nor exhaust its memory.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_POINTS_PER_REQUEST", "PullError", "fetch_query_range", "pull_windows"]

logger = logging.getLogger(__name__)

# Prometheus refuses a query_range that would return more than 11,000 points
# per series; stay under it by splitting long windows.
MAX_POINTS_PER_REQUEST = 10_000


class PullError(Exception):
    """A query could not be fetched; the message says which and why."""


def pull_windows(
    start: dt.datetime, end: dt.datetime, step_seconds: int
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Split [start, end] into windows of at most MAX_POINTS_PER_REQUEST steps."""
    span = dt.timedelta(seconds=step_seconds * (MAX_POINTS_PER_REQUEST - 1))
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + span, end)
        yield chunk_start, chunk_end
        chunk_start = chunk_end


def fetch_query_range(
    *,
    base_url: str,
    query: str,
    start: dt.datetime,
    end: dt.datetime,
    step_seconds: int,
    timeout: float,
    max_bytes: int,
) -> list[dict[str, Any]]:
    """One ``query_range`` call; returns the matrix's result list."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise PullError(f"base URL {base_url!r} is not an http(s) URL")
    params = urllib.parse.urlencode(
        {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": str(step_seconds),
        }
    )
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise PullError(f"query {query!r}: HTTP {exc.code}: {_prometheus_error(exc)}") from exc
    except urllib.error.URLError as exc:
        raise PullError(f"query {query!r}: cannot reach {base_url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise PullError(f"query {query!r}: no answer from {base_url} in {timeout:g} s") from exc
    if len(body) > max_bytes:
        raise PullError(f"query {query!r}: the answer is larger than {max_bytes:,} bytes")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PullError(f"query {query!r}: the answer is not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("status") != "success":
        reason = document.get("error") if isinstance(document, dict) else None
        raise PullError(f"query {query!r}: Prometheus answered an error: {reason or document!r}")
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise PullError(f"query {query!r}: expected a matrix result")
    result = data.get("result")
    if not isinstance(result, list):
        raise PullError(f"query {query!r}: the matrix has no result list")
    return result


def _prometheus_error(exc: urllib.error.HTTPError) -> str:
    """Prometheus explains failures in a JSON body; fall back to the reason."""
    try:
        body = json.loads(exc.read(64 * 1024))
    except (OSError, ValueError):
        return str(exc.reason)
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return str(exc.reason)
