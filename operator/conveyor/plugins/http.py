"""`http.request`: one HTTP(S) request with a status check, on the standard library only.

    graph.add_task("http.request", {"url": "https://web.shop/healthz", "expected_status": [200, 204]})

Failures a retry can fix (connection refused or reset, timeouts, 429/502/503/504 by default) raise
RecoverableError, honouring a numeric Retry-After; any other unexpected status is NonRecoverableError.
"""

from __future__ import annotations

import json as jsonlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from http.client import HTTPMessage, HTTPResponse
from typing import Any

from conveyor.workflows.context import OperationContext
from conveyor.workflows.errors import NonRecoverableError, RecoverableError

__all__ = ["request"]

BODY_LIMIT = 1024 * 1024
RETRYABLE_STATUS = (429, 502, 503, 504)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are returned as responses: the caller says which statuses it expects."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def _retry_after(headers: HTTPMessage) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _read(response: HTTPResponse | urllib.error.HTTPError) -> str:
    data = response.read(BODY_LIMIT)
    charset = response.headers.get_content_charset() or "utf-8"
    return data.decode(charset, errors="replace")


def request(
    ctx: OperationContext,
    url: str,
    method: str = "GET",
    expected_status: int | Sequence[int] = 200,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    body: str | bytes | None = None,
    retry_on_status: Sequence[int] = RETRYABLE_STATUS,
) -> dict[str, Any]:
    """Send the request; return {"status", "headers", "body"} (body: text, first MiB).

    `json` (serialised, with a JSON content type) and `body` are mutually exclusive.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise NonRecoverableError(f"http.request needs an http:// or https:// url, got {url!r}")
    if json is not None and body is not None:
        raise NonRecoverableError("http.request takes either json or body, not both")
    expected = {expected_status} if isinstance(expected_status, int) else set(expected_status)
    request_headers = dict(headers or {})
    data: bytes | None = body.encode() if isinstance(body, str) else body
    if json is not None:
        data = jsonlib.dumps(json).encode()
        request_headers.setdefault("Content-Type", "application/json")
    prepared = urllib.request.Request(url, data=data, headers=request_headers, method=method.upper())
    ctx.logger.info("%s %s", method.upper(), url)
    try:
        with _opener.open(prepared, timeout=timeout) as response:
            status, response_headers, text = response.status, response.headers, _read(response)
    except urllib.error.HTTPError as error:
        status, response_headers, text = error.code, error.headers, _read(error)
    except urllib.error.URLError as error:
        raise RecoverableError(f"{method.upper()} {url}: cannot connect: {error.reason}") from error
    except (TimeoutError, ConnectionError) as error:
        raise RecoverableError(f"{method.upper()} {url}: {type(error).__name__}: {error}") from error
    ctx.logger.info("%s %s -> %s", method.upper(), url, status)
    if status not in expected:
        message = (f"{method.upper()} {url} returned {status}, expected "
                   f"{' or '.join(str(code) for code in sorted(expected))}: {text[:500]}")
        if status in retry_on_status:
            raise RecoverableError(message, retry_after=_retry_after(response_headers))
        raise NonRecoverableError(message)
    return {"status": status, "headers": dict(response_headers.items()), "body": text}
