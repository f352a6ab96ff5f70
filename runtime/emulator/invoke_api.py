"""The Lambda Invoke API, for boto3's Lambda client (`endpoint_url=`), routing by FunctionName.

`Invoke` (RequestResponse, Event, DryRun) answers with the whole payload; InvokeWithResponseStream
answers `application/vnd.amazon.eventstream`: one `PayloadChunk` per body chunk as the runtime
produces it, then `InvokeComplete`, which carries the error type and details when the function
failed. FunctionName may be a function's name, its template logical id, or an ARN (a qualifier is
ignored: there is only $LATEST locally); a single function served with `--handler` answers to
any name, since nobody named it. Requests are not signature-checked: any credentials work.
https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
https://docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from runtime.emulator.front_door import AccessLog, FrontDoorSettings
from runtime.emulator.http_connection import IncomingRequest, ServerConnection
from runtime.emulator.invocation import Invocation, ResponseSink, new_request_id, new_trace_id
from runtime.emulator.pool import EnvironmentPool, Throttled
from runtime.emulator.renderers import CollectedResponse, EventStreamResponse

INVOKE_ROUTE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
STREAM_ROUTE = re.compile(r"^/2021-11-15/functions/([^/]+)/response-streaming-invocations$")
EXECUTED_VERSION = ("X-Amz-Executed-Version", "$LATEST")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
JSON = ("Content-Type", "application/json")
Logger = Callable[[str], None]


def function_key(function_name: str) -> str:
    """The name part of a FunctionName: `f`, `f:alias`, `arn:aws:lambda:r:a:function:f[:q]`."""
    name = urllib.parse.unquote(function_name)
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else name
    return name.split(":", 1)[0]


class InvokeAPI:
    """The Invoke API application (an `http_server.Application`) for every function served."""

    def __init__(self, pools: Mapping[str, EnvironmentPool], settings: FrontDoorSettings, log: Logger) -> None:
        self.pools = dict(pools)
        unique = {id(pool): pool for pool in self.pools.values()}
        only = next(iter(unique.values())) if len(unique) == 1 else None
        self.fallback = only if only is not None and only.function.logical_id is None else None
        self.settings = settings
        self.log = log
        self.access = AccessLog(log, settings.access_log)

    def matches(self, request: IncomingRequest) -> bool:
        return request.method == "POST" and bool(INVOKE_ROUTE.match(request.path) or STREAM_ROUTE.match(request.path))

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]:
        error_type = {413: "RequestTooLargeException", 429: "TooManyRequestsException"}.get(status, "InvalidRequest")
        if status == 413:
            message = f"Request must be smaller than {self.settings.max_request_bytes} bytes for the Invoke operation"
        return _api_error(status, error_type, message)

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None:
        self.log(f"refused a request from {connection.peer_host}: {status} {message}")

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None:
        started = time.monotonic()
        match = INVOKE_ROUTE.match(request.path) or STREAM_ROUTE.match(request.path)
        pool = self.pools.get(function_key(match.group(1)), self.fallback) if match else None
        call = Call(connection, request, pool, b"", started)
        if request.method != "POST" or match is None:
            self._error(call, 404, "UnknownOperationException", "unknown operation")
            return
        if pool is None:
            self._error(call, 404, "ResourceNotFoundException", f"Function not found: {match.group(1)}")
            return
        call.payload = connection.read_body(self.settings.max_request_bytes) or b"{}"
        if STREAM_ROUTE.match(request.path):
            self._invoke_with_response_stream(call)
        else:
            self._invoke(call)

    def _error(self, call: Call, status: int, kind: str, text: str) -> None:
        headers, body = _api_error(status, kind, text)
        if call.request.framing.kind != "none" and not call.payload:
            call.connection.linger = True  # answered before reading the payload: let the caller finish
            call.connection.closing = True
        sent = call.connection.respond(status, headers, body, close=status == 413)
        self.access.write(call.request, status, sent, call.started, text if status != 429 else "")

    def _start(self, call: Call, sink: ResponseSink, request_id: str | None = None) -> Invocation | None:
        """The invocation, dispatched; None after answering 400 or 429."""
        assert call.pool is not None
        try:
            client_context = _client_context(call.request)
        except BadClientContext as exc:
            self._error(call, 400, "InvalidRequestContentException", str(exc))
            return None
        if not _is_json(call.payload):
            message = "Could not parse request body into json: the payload is not a JSON document"
            self._error(call, 400, "InvalidRequestContentException", message)
            return None
        invocation = Invocation(
            call.payload,
            sink,
            call.pool.function.timeout,
            trace_id=new_trace_id(),
            client_context=client_context,
            request_id=request_id,
        )
        try:
            call.pool.dispatch(invocation)
        except Throttled:
            self._error(call, 429, "TooManyRequestsException", "Rate Exceeded.")
            return None
        return invocation

    def _invoke(self, call: Call) -> None:
        assert call.pool is not None
        invocation_type = call.request.header("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES:
            message = f"InvocationType {invocation_type[:64]!r} is not one of {', '.join(INVOCATION_TYPES)}"
            self._error(call, 400, "InvalidParameterValueException", message)
            return
        if invocation_type == "DryRun":
            call.connection.respond(204, [EXECUTED_VERSION])
            self.access.write(call.request, 204, 0, call.started)
            return
        sink = CollectedResponse(self.settings.max_buffered_response_bytes)
        invocation = self._start(call, sink)
        if invocation is None:
            return
        request_id = ("x-amzn-RequestId", invocation.request_id)
        if invocation_type == "Event":
            threading.Thread(target=self._finish_in_background, args=(call.pool, invocation), daemon=True).start()
            call.connection.respond(202, [EXECUTED_VERSION, request_id])
            self.access.write(call.request, 202, 0, call.started, "queued asynchronously")
            return
        outcome = call.pool.wait(invocation)
        if outcome.succeeded:
            sent = call.connection.respond(200, [JSON, EXECUTED_VERSION, request_id], sink.raw_bytes)
            self.access.write(call.request, 200, sent, call.started)
            return
        headers = [JSON, ("X-Amz-Function-Error", "Unhandled"), EXECUTED_VERSION, request_id]
        sent = call.connection.respond(200, headers, outcome.error_body or b"{}")
        self.access.write(call.request, 200, sent, call.started, outcome.describe())

    def _finish_in_background(self, pool: EnvironmentPool, invocation: Invocation) -> None:
        outcome = pool.wait(invocation)
        if not outcome.succeeded:
            self.log(f"asynchronous invocation {invocation.request_id} failed: {outcome.describe()}")

    def _invoke_with_response_stream(self, call: Call) -> None:
        assert call.pool is not None
        request_id = new_request_id()  # the response head carries it, and may go out before dispatch returns
        sink = EventStreamResponse(call.connection, request_id)
        invocation = self._start(call, sink, request_id)
        if invocation is None:
            return
        outcome = call.pool.wait(invocation)
        self.access.write(call.request, sink.status, sink.sent, call.started, outcome.describe())


@dataclass
class Call:
    """One Invoke API request being served."""

    connection: ServerConnection
    request: IncomingRequest
    pool: EnvironmentPool | None
    payload: bytes
    started: float


MAX_CLIENT_CONTEXT = 3583  # bytes of base64, as the Invoke API allows


class BadClientContext(ValueError):
    """X-Amz-Client-Context is not base64 of a JSON object of at most 3583 bytes."""


def _client_context(request: IncomingRequest) -> str | None:
    """The client context as compact ASCII JSON (it travels in a /next header), or None."""
    encoded = request.header("x-amz-client-context")
    if not encoded:
        return None
    if len(encoded) > MAX_CLIENT_CONTEXT:
        raise BadClientContext(f"X-Amz-Client-Context is longer than {MAX_CLIENT_CONTEXT} bytes")
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        raise BadClientContext("X-Amz-Client-Context must be base64 of a JSON object") from None
    if not isinstance(document, dict):
        raise BadClientContext("X-Amz-Client-Context must be base64 of a JSON object")
    return json.dumps(document, separators=(",", ":"))  # ASCII: a header value cannot break


def _is_json(payload: bytes) -> bool:
    """The Invoke API takes a JSON document (or nothing) and refuses anything else before invoking."""
    if not payload.strip():
        return True
    try:
        json.loads(payload)
    except ValueError:  # UnicodeDecodeError included
        return False
    return True


def _api_error(status: int, error_type: str, message: str) -> tuple[list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message, "Type": "User"}).encode("utf-8")
    return [JSON, ("x-amzn-ErrorType", error_type)], body
