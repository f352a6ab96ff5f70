"""The small typed request handlers receive, and the responses they return.

Handlers never see the raw Function URL event: `request_from_event` builds a `Request` (decoded
body bytes, lower-cased headers, cookies, query, request id). A handler returns `JsonResponse`
or `StreamResponse` (a status, headers and an iterable of body chunks written as they come).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers import jsonbody
from handlers.errors import invalid, missing_token

DEFAULT_MAX_JSON_BYTES = 16 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    cookies: tuple[str, ...]
    body: bytes
    request_id: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    remaining_ms: Callable[[], int] = field(default=lambda: 15 * 60 * 1000)  # the invocation's time left

    def json(self, max_bytes: int = DEFAULT_MAX_JSON_BYTES) -> dict[str, Any]:
        """The body as a JSON object, bounded in size, depth and digits (an empty body is `{}`)."""
        return jsonbody.parse_object(self.body, max_bytes)

    def bearer_token(self) -> str:
        """The token from `Authorization: Bearer <token>`; 401 when there is none."""
        scheme, _, token = self.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise missing_token()
        return token.strip()


def request_from_event(event: Mapping[str, Any]) -> Request:
    """Build a `Request` from a payload-format 2.0 event (Function URL); 400 for anything else."""
    try:
        return _request_from_event(event)
    except (AttributeError, TypeError, UnicodeError):  # an Invoke API caller sent some other event shape
        raise invalid("event", "is not a Function URL (payload format 2.0) event") from None


def _request_from_event(event: Mapping[str, Any]) -> Request:
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    if not isinstance(http.get("method"), str) or not http["method"]:
        raise invalid("event", "is not a Function URL (payload format 2.0) event")  # e.g. `{}` from Invoke
    body_text = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise invalid("body", "isBase64Encoded is set but the body is not base64") from None
    else:
        body = body_text.encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return Request(
        method=http["method"].upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
        headers=headers,
        cookies=tuple(event.get("cookies") or ()),
        body=body,
        request_id=str(context.get("requestId") or ""),
    )


@dataclass
class JsonResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode("utf-8")


@dataclass
class StreamResponse:
    """A body produced piece by piece: each item of `chunks` is written to the client at once."""

    status: int
    chunks: Iterable[bytes]
    headers: dict[str, str] = field(default_factory=dict)
