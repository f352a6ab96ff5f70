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

from handlers.errors import ApiError, invalid, missing_token


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

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; 400 for anything else (an empty body is `{}`)."""
        if not self.body.strip():
            return {}
        try:
            document = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object")
        return document

    def bearer_token(self) -> str:
        """The token from `Authorization: Bearer <token>`; 401 when there is none."""
        scheme, _, token = self.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise missing_token()
        return token.strip()


def request_from_event(event: Mapping[str, Any]) -> Request:
    """Build a `Request` from a payload-format 2.0 event (Function URL)."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    body_text = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("body", "isBase64Encoded is set but the body is not base64") from None
    else:
        body = body_text.encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return Request(
        method=str(http.get("method") or "GET").upper(),
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
