"""The HTTP request a Function URL event describes, for the ASGI and WSGI adapters.

A Function URL (and API Gateway HTTP API) hands the function a payload format 2.0 event
(https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads): headers
lower-cased with repeated values comma-joined, cookies split out into `cookies`, the path still
percent-encoded in `rawPath`, the query in `rawQueryString`, a body that is base64 when
`isBase64Encoded` says so. `request_from_event` turns that into what a web server would have seen,
as bytes where HTTP has bytes, and rejects anything else with `NotAnHttpEvent`.
"""

from __future__ import annotations

import binascii
import urllib.parse
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class NotAnHttpEvent(ValueError):
    """The event is not a payload format 2.0 HTTP request (or is a malformed one)."""


class HttpRequest(
    namedtuple("HttpRequest", "method path raw_path query_string headers body client server scheme http_version")
):
    """One HTTP request, as a server would have received it."""

    __slots__ = ()
    method: str  # upper-case
    path: str  # percent-decoded, UTF-8 decoded
    raw_path: bytes  # as the client sent it, without the query
    query_string: bytes  # after the `?`, still percent-encoded
    headers: list[tuple[bytes, bytes]]  # names lower-case; one `cookie` header holding every cookie
    body: bytes
    client: tuple[str, int] | None  # the caller's address; Lambda does not pass its port (0)
    server: tuple[str, int]  # the host the client asked for, and the port
    scheme: str  # "https" unless `x-forwarded-proto` says otherwise
    http_version: str  # "1.0", "1.1" or "2"


def request_from_event(event: Any) -> HttpRequest:
    """The request in a payload format 2.0 event. Raises NotAnHttpEvent for anything else."""
    if not isinstance(event, dict):
        raise NotAnHttpEvent(f"expected a Function URL event (payload format 2.0), got {type(event).__name__}")
    http = _mapping(_mapping(event.get("requestContext"), "requestContext").get("http"), "requestContext.http")
    method = http.get("method")
    if not isinstance(method, str) or not method:
        raise NotAnHttpEvent("expected a Function URL event (payload format 2.0): no requestContext.http.method")
    raw_path = _text(event.get("rawPath") or http.get("path") or "/", "rawPath")
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    headers = _headers(_mapping(event.get("headers") or {}, "headers"), event.get("cookies"))
    scheme = _first(_header(headers, b"x-forwarded-proto")).lower() or "https"
    source_ip = http.get("sourceIp")
    return HttpRequest(
        method=method.upper(),
        path=urllib.parse.unquote(raw_path),
        raw_path=raw_path.encode("utf-8"),
        query_string=_query(event).encode("utf-8"),
        headers=headers,
        body=_body(event),
        client=(source_ip, 0) if isinstance(source_ip, str) and source_ip else None,
        server=_server(headers, scheme, event),
        scheme=scheme,
        http_version=_http_version(http.get("protocol")),
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NotAnHttpEvent(f"expected a Function URL event (payload format 2.0): {where} is not an object")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise NotAnHttpEvent(f"{where} must be a string, not {type(value).__name__}")
    return value


def _query(event: dict[str, Any]) -> str:
    raw = event.get("rawQueryString")
    if raw is not None:
        return _text(raw, "rawQueryString").removeprefix("?")
    parameters = event.get("queryStringParameters")  # a hand-written event may only have these
    if isinstance(parameters, dict):
        return urllib.parse.urlencode({str(k): str(v) for k, v in parameters.items()})
    return ""


def _encode(text: str) -> bytes:
    """A header as its bytes on the wire: Latin-1 when it fits, else the UTF-8 the client sent."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _headers(headers: dict[str, Any], cookies: Any) -> list[tuple[bytes, bytes]]:
    """Headers as bytes. Cookies travel in the event's `cookies` list (the `cookie` header may be
    missing, as API Gateway drops it): they become one `cookie` header joined with "; "."""
    pairs = [
        (_encode(str(name).lower()), _encode(_text(value, f"header {name!r}")))
        for name, value in headers.items()
        if str(name).lower() != "cookie" or not cookies
    ]
    if cookies:
        if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
            raise NotAnHttpEvent("cookies must be a list of strings")
        pairs.append((b"cookie", _encode("; ".join(cookies))))
    return pairs


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def _first(value: str) -> str:
    """The first of comma-joined values (`x-forwarded-*` grow by one entry per proxy)."""
    return value.split(",", 1)[0].strip()


def _server(headers: list[tuple[bytes, bytes]], scheme: str, event: dict[str, Any]) -> tuple[str, int]:
    host = _header(headers, b"host") or str(event["requestContext"].get("domainName") or "localhost")
    name, port = host, ""
    if host.startswith("["):  # [IPv6]:port
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    if not (port.isascii() and port.isdigit()):
        port = _first(_header(headers, b"x-forwarded-port"))
    if not (port.isascii() and port.isdigit()):
        port = "443" if scheme == "https" else "80"
    return name, int(port)


def _http_version(protocol: Any) -> str:
    version = str(protocol or "").upper().removeprefix("HTTP/")
    return {"1.0": "1.0", "2": "2", "2.0": "2"}.get(version, "1.1")


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    text = _text(body, "body")
    if not event.get("isBase64Encoded"):
        return text.encode("utf-8")
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NotAnHttpEvent(f"body is marked isBase64Encoded but is not base64: {exc}") from exc
