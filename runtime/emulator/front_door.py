"""A Function URL: HTTP in, a payload-format 2.0 event, the function's response back out.

One `FunctionUrl` per function, each on its own port. The request becomes an event (pure, in
`function_url.py`), the invocation goes to the function's environment pool, and the response
comes back through a sink from `renderers.py`: streamed as it is produced in RESPONSE_STREAM
mode, or interpreted whole as a BUFFERED Function URL does. See
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
and https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from runtime.emulator import function_url
from runtime.emulator.config import STREAM
from runtime.emulator.http_connection import IncomingRequest, ServerConnection
from runtime.emulator.invocation import Invocation, Outcome, new_trace_id
from runtime.emulator.pool import EnvironmentPool, Throttled
from runtime.emulator.renderers import INTERNAL_ERROR, JSON, CollectedResponse, FunctionUrlStream, json_error
from runtime.emulator.throttle import Throttle

Logger = Callable[[str], None]


@dataclass(frozen=True)
class FrontDoorSettings:
    region: str
    max_request_bytes: int
    max_buffered_response_bytes: int
    aws_throttle: bool = False
    throttle_burst_bytes: int = 0
    throttle_rate_bytes: int = 1
    access_log: bool = True


def request_too_large_message(limit: int) -> str:
    return f"Request must be smaller than {limit} bytes for the InvokeFunction operation"


class AccessLog:
    """One line per request: method, path, status, body bytes sent, duration, and any failure."""

    def __init__(self, log: Logger, enabled: bool) -> None:
        self.log = log
        self.enabled = enabled

    def write(self, request: IncomingRequest, status: int, sent: int, started: float, note: str = "") -> None:
        if not self.enabled and not note:
            return
        elapsed = (time.monotonic() - started) * 1000
        line = f"{request.method} {request.path} {status} {sent}B {elapsed:.1f}ms {note}"
        self.log(line.rstrip())


class FunctionUrl:
    """The Function URL application (an `http_server.Application`) for one function."""

    def __init__(self, pool: EnvironmentPool, settings: FrontDoorSettings, log: Logger) -> None:
        self.pool = pool
        self.function = pool.function
        self.settings = settings
        self.log = log
        self.access = AccessLog(log, settings.access_log)

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]:
        if status == 413:
            message = request_too_large_message(self.settings.max_request_bytes)
        return json_error(status, message)

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None:
        self.log(f"refused a request from {connection.peer_host}: {status} {message}")

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None:
        started = time.monotonic()
        body = connection.read_body(self.settings.max_request_bytes)
        event = self._event(connection, request, body)
        if len(event) > self.settings.max_request_bytes:
            headers, answer = self.error_response(413, "")
            sent = connection.respond(413, headers, answer, method=request.method, close=True)
            self.access.write(request, 413, sent, started, "the event exceeds the request limit")
            return
        if self.function.invoke_mode == STREAM:
            self._stream(connection, request, event, started)
        else:
            self._buffered(connection, request, event, started)

    def _event(self, connection: ServerConnection, request: IncomingRequest, body: bytes) -> bytes:
        http_request = function_url.HttpRequest(
            method=request.method,
            target=request.target,
            headers=list(request.head.fields),
            body=body,
            source_ip=connection.peer_host,
            request_id=str(uuid.uuid4()),
            server_port=connection.local_port,
        )
        identity = function_url.FunctionUrlIdentity(region=self.settings.region)
        return json.dumps(function_url.build_event(http_request, identity)).encode("utf-8")

    def _start(self, connection: ServerConnection, request: IncomingRequest, invocation: Invocation) -> bool:
        try:
            self.pool.dispatch(invocation)
        except Throttled:
            sent = connection.respond(429, JSON, b'{"Message":"Rate Exceeded."}', method=request.method)
            self.access.write(request, 429, sent, time.monotonic())
            return False
        return True

    def _stream(self, connection: ServerConnection, request: IncomingRequest, event: bytes, started: float) -> None:
        sink = FunctionUrlStream(connection, request.method, request.head.version, self._throttle())
        invocation = Invocation(event, sink, self.function.timeout, trace_id=new_trace_id())
        if not self._start(connection, request, invocation):
            return
        outcome = self.pool.wait(invocation)
        self.access.write(request, sink.status, sink.sent, started, _stream_note(outcome, sink))

    def _throttle(self) -> Throttle | None:
        if not self.settings.aws_throttle:
            return None
        return Throttle(self.settings.throttle_burst_bytes, self.settings.throttle_rate_bytes)

    def _buffered(self, connection: ServerConnection, request: IncomingRequest, event: bytes, started: float) -> None:
        sink = CollectedResponse(self.settings.max_buffered_response_bytes)
        invocation = Invocation(event, sink, self.function.timeout, trace_id=new_trace_id())
        if not self._start(connection, request, invocation):
            return
        outcome = self.pool.wait(invocation)
        if not outcome.succeeded:
            sent = connection.respond(502, JSON, INTERNAL_ERROR, method=request.method)
            self.access.write(request, 502, sent, started, outcome.describe())
            return
        response = _buffered_answer(sink)
        sent = connection.respond(response.status, response.headers, response.body, method=request.method)
        self.access.write(request, response.status, sent, started, response.problem)


def _buffered_answer(sink: CollectedResponse) -> function_url.HttpResponse:
    """A BUFFERED URL's answer: a streamed prelude is honoured; a returned value is interpreted."""
    if sink.prelude is None:
        return function_url.interpret_buffered(sink.body_bytes)
    prelude = sink.prelude
    headers = list((prelude.headers or {}).items()) + [("set-cookie", cookie) for cookie in prelude.cookies]
    return function_url.HttpResponse(prelude.status_code, headers, sink.body_bytes)


def _stream_note(outcome: Outcome, sink: FunctionUrlStream) -> str:
    if sink.cut:
        return f"stream cut: {outcome.describe()}"
    if not outcome.succeeded:
        return outcome.describe()
    if sink.client_gone:
        return "client disconnected"
    return ""
