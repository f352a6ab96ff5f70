"""One request builder per Runtime API call, as frozen values that are tested without a network.

The Runtime API (version 2018-06-01) has four calls a runtime makes: `next`, `response`, `error` and
`init/error`. Each builder returns a `RuntimeRequest`; the client in `client.py` only sends them.
`RuntimeAddress` accepts the forms of AWS_LAMBDA_RUNTIME_API that exist in the wild: `host:port`
(AWS), `http://host:port/prefix` (cargo-lambda) and `host:port/prefix`. The API is described in
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and, for streaming,
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming.
"""

from __future__ import annotations

from runtime import json_codec, wire
from runtime.records import record

API_VERSION = "2018-06-01"
ERROR_CONTENT_TYPE = "application/vnd.aws.lambda.error+json"


class RuntimeAddress(record("RuntimeAddress", "host port prefix", defaults=("",))):
    """Where the Runtime API listens, parsed once from AWS_LAMBDA_RUNTIME_API."""

    __slots__ = ()
    host: str
    port: int
    prefix: str

    @classmethod
    def parse(cls, value: str) -> RuntimeAddress:
        """`host:port`, `host:port/prefix` or `http://host:port/prefix` (IPv6 hosts in brackets).

        AWS sets `host:port`; cargo-lambda sets the URL form; the Rust and Go runtimes prepend
        `http://` to whatever they are given, so `host:port/prefix` works with them too.
        """
        text = value.strip()
        if not text:
            raise ValueError("AWS_LAMBDA_RUNTIME_API is empty")
        scheme, sep, rest = text.partition("://")
        if sep and scheme.lower() != "http":
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API {value!r}: only http:// is supported")
        authority, slash, path = (rest if sep else text).partition("/")
        if any(mark in path for mark in "?#") or any(c.isspace() for c in text):
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API {value!r} is not host:port[/prefix]")
        if sep and not authority.rpartition("]")[2].count(":"):
            authority += ":80"  # a URL may leave out its default port
        host, port = _split_authority(authority, value)
        return cls(host, port, ("/" + path).rstrip("/") if slash else "")

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def path(self, route: str) -> str:
        return f"{self.prefix}/{API_VERSION}{route}"


def _split_authority(authority: str, value: str) -> tuple[str, int]:
    if authority.startswith("["):  # [IPv6]:port
        host, _, port = authority[1:].partition("]")
        port = port[1:] if port.startswith(":") else ""
    else:
        host, _, port = authority.rpartition(":")
        if ":" in host:
            host = ""  # an IPv6 address must be bracketed
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"AWS_LAMBDA_RUNTIME_API {value!r} is not host:port[/prefix]")
    return host, int(port)


class RuntimeRequest(record("RuntimeRequest", "method path headers body", defaults=(b"",))):
    """One Runtime API request: what to send, with no knowledge of how."""

    __slots__ = ()
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def encode_head(self, host_header: str) -> bytes:
        headers = (("Host", host_header), *self.headers)
        return wire.encode_request_head(self.method, self.path, headers)


def next_invocation(address: RuntimeAddress) -> RuntimeRequest:
    return RuntimeRequest("GET", address.path("/runtime/invocation/next"), ())


def invocation_response(
    address: RuntimeAddress, request_id: str, body: bytes, content_type: str = "application/json"
) -> RuntimeRequest:
    """A buffered response: the whole body with its length."""
    headers = (("Content-Type", content_type), ("Content-Length", str(len(body))))
    path = address.path(f"/runtime/invocation/{_quote(request_id)}/response")
    return RuntimeRequest("POST", path, headers, body)


def streaming_response(address: RuntimeAddress, request_id: str, content_type: str) -> RuntimeRequest:
    """The head of a streamed response; the chunked body is written after it. See
    https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming"""
    headers = (
        (wire.RESPONSE_MODE_HEADER, wire.STREAMING_MODE),
        ("Transfer-Encoding", "chunked"),
        ("Trailer", f"{wire.ERROR_TYPE_TRAILER}, {wire.ERROR_BODY_TRAILER}"),
        ("Content-Type", content_type),
    )
    path = address.path(f"/runtime/invocation/{_quote(request_id)}/response")
    return RuntimeRequest("POST", path, headers)


def invocation_error(address: RuntimeAddress, request_id: str, error: ErrorPayload) -> RuntimeRequest:
    path = address.path(f"/runtime/invocation/{_quote(request_id)}/error")
    return _error_request(path, error)


def init_error(address: RuntimeAddress, error: ErrorPayload) -> RuntimeRequest:
    return _error_request(address.path("/runtime/init/error"), error)


def _error_request(path: str, error: ErrorPayload) -> RuntimeRequest:
    body = error.to_json()
    headers = (
        ("Content-Type", ERROR_CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("Lambda-Runtime-Function-Error-Type", error.error_type),
    )
    return RuntimeRequest("POST", path, headers, body)


SAFE_ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _quote(request_id: str) -> str:
    if SAFE_ID_CHARACTERS.issuperset(request_id):
        return request_id  # every id Lambda issues (a UUID) takes this path
    import urllib.parse

    return urllib.parse.quote(request_id, safe="")


class ErrorPayload(record("ErrorPayload", "error_type message stack_trace", defaults=((),))):
    """The error document AWS runtimes send: `{errorMessage, errorType, stackTrace}`."""

    __slots__ = ()
    error_type: str
    message: str
    stack_trace: tuple[str, ...]

    def to_json(self) -> bytes:
        document = {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": list(self.stack_trace),
        }
        return json_codec.dumps(document, ensure_ascii=False).encode("utf-8")

    def fitted(self, max_json_bytes: int) -> ErrorPayload:
        """A copy whose JSON fits `max_json_bytes`: drop outer frames, then shorten the message.

        Needed for the trailer path, whose whole block must stay under 4 KiB: the platform reads
        trailers through Go's net/http, whose buffer for them is 4 KiB.
        """
        payload = self
        while len(payload.to_json()) > max_json_bytes and payload.stack_trace:
            payload = ErrorPayload(payload.error_type, payload.message, payload.stack_trace[1:])
        message, suffix = payload.message, ""
        while (
            overflow := len(ErrorPayload(payload.error_type[:128], message + suffix).to_json()) - max_json_bytes
        ) > 0:
            if not message:
                break
            message, suffix = message[: max(0, len(message) - overflow)], " [truncated]"
        return ErrorPayload(payload.error_type[:128], message + suffix, payload.stack_trace)
