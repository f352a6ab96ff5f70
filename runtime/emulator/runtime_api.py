"""The Runtime API (2018-06-01) as one execution environment's runtime sees it.

One `RuntimeAPIServer` per environment, as each Lambda sandbox has its own: the runtime process
is the only client, so requests need no prefix in AWS_LAMBDA_RUNTIME_API (AWS's Node.js client
accepts only `host:port`). The server knows nothing of processes or pools: it talks to its
environment through the small `RuntimeAPIBackend` interface and to each invocation through the
invocation's own moves. Streamed bodies are decoded as they arrive and passed on chunk by chunk.
Statuses follow AWS's Runtime API reference:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
and its response-streaming section:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from runtime import wire
from runtime.emulator.http_connection import ConnectionLimits, IncomingRequest, ServerConnection
from runtime.emulator.http_server import HttpServer
from runtime.emulator.invocation import Invocation, platform_error

API_PREFIX = "/2018-06-01"
MAX_ERROR_BODY = 1024 * 1024
BUFFERED_SLACK = 100  # the Runtime API allows 6 MiB + 100 bytes for a buffered response
RESPONSE_ROUTE = re.compile(r"^/runtime/invocation/([^/]+)/(response|error)$")
ERROR_TYPE_PATTERN = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")


class RuntimeAPIBackend(Protocol):
    """What the Runtime API needs from its execution environment."""

    function_arn: str

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is assigned (the long poll); None once the environment ends."""

    def find_invocation(self, request_id: str) -> Invocation | None:
        """The environment's in-flight invocation with this id, if any."""

    def record_init_error(self, error_type: str, body: bytes) -> bool:
        """Keep an init error for the invocations waiting on init; False once init completed."""


@dataclass(frozen=True)
class ResponseLimits:
    buffered_bytes: int
    streamed_bytes: int


class RuntimeAPI:
    """The request handler: stateless; state lives in the backend and the invocations."""

    def __init__(self, backend: RuntimeAPIBackend, limits: ResponseLimits) -> None:
        self.backend = backend
        self.limits = limits

    # -- Application interface ------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]:
        return _json_error(status, "InvalidRequest", message)

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None:
        pass  # the invocation's own failure is what gets logged

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None:
        path = request.path
        route = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else ""
        if request.method == "GET" and route == "/runtime/invocation/next":
            self._next(connection)
            return
        if request.method == "POST" and route == "/runtime/init/error":
            self._init_error(connection, request)
            return
        match = RESPONSE_ROUTE.match(route) if request.method == "POST" else None
        if match is None:
            self._answer(connection, 404, "UnknownRoute", f"no route {request.method} {path}", close=True)
            return
        request_id, kind = match.groups()
        if kind == "response":
            self._response(connection, request, request_id)
        else:
            self._error(connection, request, request_id)

    # -- /next ------------------------------------------------------------------------------------

    def _next(self, connection: ServerConnection) -> None:
        while True:
            invocation = self.backend.next_invocation()
            if invocation is None:
                self._answer(connection, 500, "SandboxTerminated", "the environment is shutting down", close=True)
                return
            try:
                head = self._next_head(invocation)
            except ValueError as exc:  # defence in depth: inputs are checked before they get here
                invocation.fail("Sandbox.Failure", f"the invocation could not be passed to the runtime: {exc}")
                continue
            connection.respond(200, head, invocation.event)
            return

    def _next_head(self, invocation: Invocation) -> list[tuple[str, str]]:
        """The /next answer's fields, each checked (a value that is not HTTP raises ValueError)."""
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.backend.function_arn),
        ]
        if invocation.trace_id:
            headers.append(("Lambda-Runtime-Trace-Id", invocation.trace_id))
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        headers.append(("Content-Type", "application/json"))  # AWS's clients fail without it
        for name, value in headers:
            wire.check_field(name, value)
        return headers

    # -- /response ----------------------------------------------------------------------------------

    def _response(self, connection: ServerConnection, request: IncomingRequest, request_id: str) -> None:
        mode = request.headers.get(wire.RESPONSE_MODE_HEADER.lower())
        if mode is not None and mode != wire.STREAMING_MODE:
            self._refuse_body(connection, 400, "InvalidFunctionResponseMode", f"unknown response mode {mode!r}")
            return
        invocation = self.backend.find_invocation(request_id)
        if invocation is None or not invocation.claim_response():
            self._refuse_body(connection, 403, "InvalidStateTransition", f"{request_id} is not awaiting a response")
            return
        content_type = request.header("content-type", "application/json")
        if request.framing.kind == wire.CHUNKED:
            self._streamed_response(connection, invocation, content_type)
        else:
            self._buffered_response(connection, request, invocation, content_type)

    def _buffered_response(
        self, connection: ServerConnection, request: IncomingRequest, invocation: Invocation, content_type: str
    ) -> None:
        limit = self.limits.buffered_bytes + BUFFERED_SLACK
        if request.framing.length > limit:
            message = f"response of {request.framing.length} bytes exceeds the {limit}-byte limit"
            invocation.fail("Function.ResponseSizeTooLarge", message)
            self._refuse_body(connection, 413, "RequestEntityTooLarge", message)
            return
        try:
            body = connection.read_body(limit)
        except Exception:
            invocation.fail("Runtime.TruncatedResponse", "the runtime's connection closed mid-body")
            raise
        invocation.begin(None, content_type)
        if body:
            invocation.body([body])
        invocation.complete()
        self._accepted(connection)

    def _streamed_response(self, connection: ServerConnection, invocation: Invocation, content_type: str) -> None:
        relay = StreamRelay(invocation, content_type, self.limits.streamed_bytes)
        try:
            for pieces in connection.body_pieces():
                if not relay.answered and not relay.body(pieces):
                    self._stop_early(connection, relay)
            if not relay.answered:
                relay.end(connection.trailers)
        except Exception as exc:  # malformed chunks, or the runtime went away mid-body
            invocation.fail("Runtime.TruncatedResponse", f"the streamed response broke off: {exc}")
            raise
        if not relay.answered:
            self._accepted(connection)

    def _stop_early(self, connection: ServerConnection, relay: StreamRelay) -> None:
        """The invocation takes no more body: answer now, then drain (the runtime stops when it reads this)."""
        relay.answered = True
        outcome = relay.invocation.outcome
        if outcome is not None and outcome.error_type == "Function.ResponseSizeTooLarge":
            self._answer(connection, 413, "RequestEntityTooLarge", "the response exceeded its size limit", close=True)
        else:
            self._answer(connection, 410, "InvocationEnded", "the invocation has already ended", close=True)

    # -- /error and /init/error ------------------------------------------------------------------------

    def _error(self, connection: ServerConnection, request: IncomingRequest, request_id: str) -> None:
        invocation = self.backend.find_invocation(request_id)
        if invocation is None or not invocation.claim_error_report():
            self._refuse_body(connection, 403, "InvalidStateTransition", f"{request_id} is not awaiting a response")
            return
        try:
            body = connection.read_body(MAX_ERROR_BODY)
        except Exception:
            invocation.fail("Runtime.TruncatedResponse", "the error report could not be read")
            raise
        invocation.report_error(_error_type(request.headers, body), body)
        self._accepted(connection)

    def _init_error(self, connection: ServerConnection, request: IncomingRequest) -> None:
        body = connection.read_body(MAX_ERROR_BODY)
        if not self.backend.record_init_error(_error_type(request.headers, body), body):
            self._answer(connection, 403, "InvalidStateTransition", "init already completed")
            return
        self._accepted(connection)

    # -- answers -------------------------------------------------------------------------------------------

    def _accepted(self, connection: ServerConnection) -> None:
        connection.respond(202, [("Content-Type", "application/json")], b'{"status":"OK"}')

    def _answer(
        self, connection: ServerConnection, status: int, error_type: str, message: str, close: bool = False
    ) -> None:
        headers, body = _json_error(status, error_type, message)
        connection.respond(status, headers, body, close=close)

    def _refuse_body(self, connection: ServerConnection, status: int, error_type: str, message: str) -> None:
        """Answer before reading the body: the connection cannot carry another request after it."""
        self._answer(connection, status, error_type, message, close=True)
        connection.linger = True


def _json_error(status: int, error_type: str, message: str) -> tuple[list[tuple[str, str]], bytes]:
    return [("Content-Type", "application/json")], platform_error(error_type, message)


def _error_type(headers: Mapping[str, str], body: bytes) -> str:
    """Classify as the Runtime API does: keep `Runtime.X`/`Function.X`, else the body's errorType."""
    header = headers.get("lambda-runtime-function-error-type", "")
    if ERROR_TYPE_PATTERN.match(header):
        return header
    try:
        document = json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("errorType"), str) and document["errorType"]:
            return document["errorType"][:256]
    except ValueError:
        pass
    return header[:256] or "Runtime.Unknown"


class StreamRelay:
    """Turns a streamed `/response` body into invocation moves, enforcing the streamed-size cap.

    With the HTTP-integration content type the body starts with the prelude: it is split off as
    it arrives (across any read boundary) and becomes the response head.
    """

    def __init__(self, invocation: Invocation, content_type: str, limit: int) -> None:
        self.invocation = invocation
        self.limit = limit
        self.sent = 0
        self.answered = False
        self.content_type = content_type
        integration = content_type.split(";", 1)[0].strip().lower() == wire.HTTP_INTEGRATION_CONTENT_TYPE
        self.splitter = wire.PreludeSplitter() if integration else None
        if self.splitter is None:
            invocation.begin(None, content_type)

    def body(self, pieces: list[bytes | memoryview]) -> bool:
        """Relay body bytes; False when the invocation takes no more."""
        if self.splitter is None or self.splitter.prelude_found:
            return self._relay(pieces)
        try:
            events = self.splitter.feed(b"".join(pieces))
        except wire.WireError as exc:
            self.invocation.fail("Runtime.InvalidResponse", f"malformed prelude: {exc}")
            return False
        for event in events:
            if isinstance(event, wire.PreludeReceived):
                self.invocation.begin(event.prelude, self.content_type)
            elif not self._relay([event.data]):
                return False
        return True

    def _relay(self, pieces: list[bytes | memoryview]) -> bool:
        size = sum(len(piece) for piece in pieces)
        if size > self.limit - self.sent:
            kept = _first_bytes(pieces, self.limit - self.sent)
            if kept:
                self.invocation.body(kept)
            message = f"response exceeded the {self.limit}-byte streaming limit"
            self.invocation.fail("Function.ResponseSizeTooLarge", message)
            return False
        self.sent += size
        return self.invocation.body(pieces)

    def end(self, trailers: Mapping[str, str]) -> None:
        error_type, error_body = wire.decode_error_trailers(trailers)
        if self.splitter is not None and not self.splitter.prelude_found and not error_type:
            self.invocation.fail("Runtime.InvalidResponse", "the body ended before the prelude delimiter")
            return
        # With error trailers and no prelude, the runtime failed before writing anything (AWS's
        # Node.js runtime does this when a streamifyResponse handler throws early): the client
        # sees the same 502 as for /error, since nothing reached it.
        self.invocation.complete(error_type, error_body)


def _first_bytes(pieces: list[bytes | memoryview], count: int) -> list[bytes | memoryview]:
    """The first `count` bytes of `pieces`, as pieces (for cutting a stream at the size cap)."""
    kept: list[bytes | memoryview] = []
    for piece in pieces:
        if count <= 0:
            break
        kept.append(piece[:count])
        count -= len(kept[-1])
    return kept


class RuntimeAPIServer(HttpServer):
    """One environment's Runtime API on a free loopback port."""

    def __init__(self, backend: RuntimeAPIBackend, limits: ResponseLimits, connection_limits: ConnectionLimits) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeAPI(backend, limits), connection_limits)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
