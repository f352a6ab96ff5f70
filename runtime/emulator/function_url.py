"""Function URL translation as pure functions: HTTP request -> payload-format 2.0 event, and a
BUFFERED function's return value -> HTTP response.

Rules: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (the event's fields and
the BUFFERED response format). Which request bodies stay text is not documented: text/*, JSON,
XML, JavaScript, form data and bodies without a content type stay text, anything else is base64.
Nothing here does I/O, so every rule is unit-tested on plain values.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime import wire

TEXT_CONTENT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True)
class HttpRequest:
    """What the front door received, before translation."""

    method: str
    target: str  # path and query exactly as sent
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    server_port: int = 443


@dataclass(frozen=True)
class FunctionUrlIdentity:
    """The names a real Function URL would carry in `requestContext`."""

    url_id: str = "localfunctionurl"
    region: str = "us-east-1"
    account_id: str = "anonymous"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    problem: str = ""  # why a returned value could not be an HTTP response (for the log, not the client)


def is_text_content_type(content_type: str | None) -> bool:
    """Which request bodies reach the function as text rather than base64."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in TEXT_CONTENT_TYPES
        or (media.startswith("application/") and media.endswith(("+json", "+xml")))
    )


def _joined_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _query_parameters(raw_query: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    return parameters


def _cookies(cookie_header: str | None) -> list[str]:
    if not cookie_header:
        return []
    return [part.strip() for part in cookie_header.split(";") if part.strip()]


def _request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _forwarded(headers: dict[str, str], request: HttpRequest) -> dict[str, str]:
    """The `x-forwarded-*` fields a Function URL adds, for the local hop (plain HTTP, this port).

    Frameworks build absolute URLs from them (an ASGI scope's scheme, Flask's url_for); the
    client's own `x-forwarded-for`, if any, is kept in front of its address, as proxies append.
    """
    earlier = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{earlier}, {request.source_ip}" if earlier else request.source_ip
    headers["x-forwarded-proto"] = "http"
    headers["x-forwarded-port"] = str(request.server_port)
    return headers


def build_event(request: HttpRequest, identity: FunctionUrlIdentity = FunctionUrlIdentity()) -> dict[str, Any]:
    """The payload-format 2.0 event a Function URL sends for `request`."""
    raw_path, _, raw_query = request.target.partition("?")
    headers = _forwarded(_joined_headers(request.headers), request)
    domain = f"{identity.url_id}.lambda-url.{identity.region}.on.aws"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": raw_query,
        "headers": headers,
    }
    cookies = _cookies(headers.get("cookie"))
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = _query_parameters(raw_query)
    event["requestContext"] = {
        "accountId": identity.account_id,
        "apiId": identity.url_id,
        "domainName": domain,
        "domainPrefix": identity.url_id,
        "http": {
            "method": request.method,
            "path": raw_path or "/",
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _request_time(request.time_epoch_ms),
        "timeEpoch": request.time_epoch_ms,
    }
    event["isBase64Encoded"] = False
    if request.body:
        _add_body(event, request.body, headers.get("content-type"))
    return event


def _add_body(event: dict[str, Any], body: bytes, content_type: str | None) -> None:
    if is_text_content_type(content_type):
        try:
            event["body"] = body.decode("utf-8")
            return
        except UnicodeDecodeError:
            pass  # not really text: fall through to base64, as the platform must
    event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = True


INTERNAL_ERROR = HttpResponse(502, [("content-type", "application/json")], b'{"Message":"Internal Server Error"}')


def _unusable(problem: str) -> HttpResponse:
    return HttpResponse(INTERNAL_ERROR.status, list(INTERNAL_ERROR.headers), INTERNAL_ERROR.body, problem)


def _fields(headers: object, cookies: object) -> list[tuple[str, str]] | None:
    """Response fields from a returned `headers` map and `cookies` list; None if one is not HTTP."""
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        return None
    fields = [(str(name).lower(), _text(value)) for name, value in headers.items()]
    fields += [("set-cookie", cookie) for cookie in cookies]
    if any(wire.field_name_problem(name) or wire.field_value_problem(name, value) for name, value in fields):
        return None
    return fields


def _text(value: object) -> str:
    """A header value as JSON would print a scalar: numbers and booleans as text."""
    return value if isinstance(value, str) else json.dumps(value)


def interpret_buffered(payload: bytes) -> HttpResponse:
    """A BUFFERED Function URL's reading of a function's return value.

    A value that cannot become an HTTP response (not JSON, a status outside 200-599, a header
    that is not a valid HTTP field, a body that is not valid base64) is the function's error: 502,
    with the reason for the emulator's log (the client sees only Lambda's generic body).
    """
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return _unusable("the returned value is not JSON")
    if not isinstance(document, dict) or "statusCode" not in document:
        return HttpResponse(200, [("content-type", "application/json")], payload)
    status = document.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        return _unusable(f"statusCode {status!r} is not an integer from 200 to 599")
    headers = _fields(document.get("headers") or {}, document.get("cookies") or [])
    if headers is None:
        return _unusable("headers must be a map and cookies a list, of valid HTTP field names and values")
    body = document.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode("utf-8")
    elif document.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return _unusable("isBase64Encoded is true but body is not valid base64")
    else:
        data = body.encode("utf-8")
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, headers, data)
