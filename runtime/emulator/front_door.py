"""The Function URL front door: HTTP in, a payload-format 2.0 invocation, the response relayed out.

In stream mode (RESPONSE_STREAM) the prelude's status, headers and cookies go out first, then every
body chunk as it arrives, flushed; a failure after that cuts the connection without the final
chunk so the client sees an incomplete transfer (Part A §7). In buffered mode the return value is
interpreted as a BUFFERED Function URL does. The Lambda Invoke API shares the port (`invoke_api.py`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from runtime import wire
from runtime.emulator import function_url
from runtime.emulator import invocation as inv
from runtime.emulator.config import EmulatorConfig
from runtime.emulator.environment import Environment, Throttled
from runtime.emulator.throttle import Throttle

if TYPE_CHECKING:
    from runtime.emulator.server import FrontDoorServer

READ_SIZE = 64 * 1024
INTERNAL_ERROR = b'{"Message":"Internal Server Error"}'


class ClientGone(Exception):
    """The HTTP client closed its connection while we were answering."""


class FrontDoorHandler(BaseHTTPRequestHandler):
    """Shared machinery: reading request bodies, starting invocations, writing responses."""

    protocol_version = "HTTP/1.1"
    server: FrontDoorServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # replaced by one access-log line per request in `_access_log`

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent_bytes = 0
        self.status = 0
        self.started = time.monotonic()

    @property
    def config(self) -> EmulatorConfig:
        return self.server.config

    def _access_log(self, note: str = "") -> None:
        if not self.config.access_log and not note:
            return
        elapsed = (time.monotonic() - self.started) * 1000
        path = self.path.split("?", 1)[0]
        line = f"{self.command} {path} {self.status} {self.sent_bytes}B {elapsed:.1f}ms"
        self.server.log(f"{line} {note}".rstrip())

    def read_request_body(self) -> bytes | None:
        """The whole request body, or None after answering 413 (over the request limit)."""
        limit = self.config.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body(limit)
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit():
            self.send_simple(400, b'{"Message":"Bad Content-Length"}', close=True)
            return None
        length = int(length_text)
        if length > limit:
            self._discard(length)
            self.send_payload_too_large()
            return None
        return self.rfile.read(length)

    def _read_chunked_body(self, limit: int) -> bytes | None:
        decoder, parts, size = wire.ChunkedDecoder(), [], 0
        while not decoder.done:
            data = self.rfile.read1(READ_SIZE)
            if not data:
                raise ClientGone("client closed the connection mid-body")
            for event in decoder.feed(data):
                if isinstance(event, wire.Data):
                    size += len(event.data)
                    if size <= limit:
                        parts.append(event.data)
        if size > limit:
            self.send_payload_too_large()
            return None
        return b"".join(parts)

    def _discard(self, length: int) -> None:
        while length > 0:
            data = self.rfile.read(min(READ_SIZE, length))
            if not data:
                return
            length -= len(data)

    def send_payload_too_large(self) -> None:
        limit = self.config.max_request_bytes
        message = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        self.send_simple(413, json.dumps({"Message": message}).encode(), close=True)

    def send_simple(
        self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None, close: bool = False
    ) -> None:
        self.status = status
        self.send_response(status)
        for name, value in headers or [("content-type", "application/json")]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.write_raw(body)

    def write_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone(str(exc)) from exc
        self.sent_bytes += len(data)

    def write_chunk(self, *pieces: bytes | memoryview) -> None:
        """One chunk to the client without copying `pieces`: a gather write of size line, data, CRLF."""
        size = sum(len(piece) for piece in pieces)
        views = [memoryview(wire.chunk_size_line(size)), *map(memoryview, pieces), memoryview(wire.CRLF)]
        try:
            while views:
                sent = self.connection.sendmsg(views)
                while views and sent >= len(views[0]):
                    sent -= len(views.pop(0))
                if views and sent:
                    views[0] = views[0][sent:]
        except OSError as exc:
            raise ClientGone(str(exc)) from exc
        self.sent_bytes += size

    def start_invocation(
        self, event: bytes, client_context: str | None = None, client: ClientStream | None = None
    ) -> tuple[inv.Invocation, Environment] | None:
        """Queue `event` on an environment; None after answering 429 when all are busy."""
        try:
            environment = self.server.pool.acquire()
        except Throttled:
            self.send_throttled()
            return None
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        invocation = inv.Invocation(
            event, time.time() + self.config.timeout, trace_id=trace, client_context=client_context, client=client
        )
        environment.assign(invocation)
        return invocation, environment

    def send_throttled(self) -> None:
        self.send_simple(429, b'{"Message":"Rate Exceeded."}')

    def next_event(self, invocation: inv.Invocation, environment: Environment) -> inv.Event:
        """The invocation's next event; past the deadline the environment is killed (Sandbox.Timeout)."""
        event = invocation.next_event(invocation.remaining())
        if event is not None:
            return event
        message = f"Task timed out after {self.config.timeout:.2f} seconds"
        environment.kill("Sandbox.Timeout", message)
        invocation.abandoned.set()
        return inv.InvocationFailed("Sandbox.Timeout", message)

    def log_failure(self, invocation: inv.Invocation, event: inv.Event) -> str:
        """Describe a failed invocation for the access log (the client never sees the details)."""
        if isinstance(event, inv.InvocationFailed):
            return f"{event.error_type}: {event.message}"
        if isinstance(event, inv.FunctionErrored):
            return f"{event.error_type}: {event.error_body.decode('utf-8', 'replace')}"
        if isinstance(event, inv.ResponseEnded) and event.error_type:
            body = (event.error_body or b"").decode("utf-8", "replace")
            return f"{event.error_type}: {body}"
        return ""


class FunctionURLHandler(FrontDoorHandler):
    """Function URL requests: every method and path that is not the Invoke API."""

    def handle_function_url(self) -> None:
        note = ""
        invocation: inv.Invocation | None = None
        try:
            body = self.read_request_body()
            if body is None:
                return
            event = self._event(body)
            if len(event) > self.config.max_request_bytes:
                self.send_payload_too_large()
                return
            client = ClientStream(self, self._throttle()) if self.config.mode == "stream" else None
            started = self.start_invocation(event, client=client)
            if started is None:
                return
            invocation, environment = started
            if self.config.mode == "buffered":
                note = self._relay_buffered(invocation, environment)
            else:
                note = self._relay_stream(invocation, environment)
        except ClientGone as exc:
            note = f"client disconnected: {exc}"
            self.close_connection = True
        finally:
            if invocation is not None:
                invocation.abandoned.set()
            self._access_log(note)

    def _event(self, body: bytes) -> bytes:
        host, _ = self.client_address[:2]
        request = function_url.HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=host,
            request_id=str(uuid.uuid4()),
        )
        identity = function_url.FunctionUrlIdentity(region=self.config.region)
        return json.dumps(function_url.build_event(request, identity)).encode("utf-8")

    def _relay_stream(self, invocation: inv.Invocation, environment: Environment) -> str:
        """Wait for the end while the Runtime API thread writes head and body to `invocation.client`."""
        client = invocation.client
        assert client is not None
        event = self.next_event(invocation, environment)
        while not isinstance(event, inv.FINAL_EVENTS):  # head and body went straight to the client
            event = self.next_event(invocation, environment)
        failure = self.log_failure(invocation, event)
        if failure and client.started:
            client.abort()  # a writer blocked on a slow client wakes up and stops
        with client.lock:
            client.closed = True
            if not client.started:
                self.send_simple(502, INTERNAL_ERROR)
                return failure
            if failure:
                self.close_connection = True  # cut: no terminating chunk (Part A §7)
                return f"stream cut: {failure}"
            if client.gone:
                self.close_connection = True
                return "client disconnected"
            self.write_raw(wire.encode_last_chunk())
            return ""

    def send_stream_head(self, prelude: wire.Prelude) -> None:
        self.status = prelude.status_code
        self.send_response(prelude.status_code)
        for name, value in prelude.headers.items():
            if name in ("transfer-encoding", "connection"):
                continue
            self.send_header("x-amzn-remapped-content-length" if name == "content-length" else name, value)
        for cookie in prelude.cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.write_raw(b"")

    def _throttle(self) -> Throttle | None:
        if not self.config.aws_throttle:
            return None
        return Throttle(self.config.throttle_burst_bytes, self.config.throttle_rate_bytes)

    def _relay_buffered(self, invocation: inv.Invocation, environment: Environment) -> str:
        collected = collect_response(self, invocation, environment, self.config.max_buffered_response_bytes)
        if collected.failure:
            self.send_simple(502, INTERNAL_ERROR)
            return collected.failure
        if collected.prelude is not None:
            prelude = collected.prelude
            headers = [(k, v) for k, v in prelude.headers.items()] + [("set-cookie", c) for c in prelude.cookies]
            response = function_url.HttpResponse(prelude.status_code, headers, collected.body)
        else:
            response = function_url.interpret_buffered(collected.body)
        self.send_simple(response.status, response.body, response.headers)
        return ""


class ClientStream:
    """The Function URL client's connection, written by the thread that decodes the runtime's body.

    Every write happens under `lock`, so the front door's own thread (which ends the response) and
    the Runtime API thread never interleave bytes. A client that went away is remembered and the
    rest of the body is dropped; the runtime is never blocked by a missing reader.
    """

    def __init__(self, handler: FunctionURLHandler, throttle: Throttle | None) -> None:
        self.handler = handler
        self.throttle = throttle
        self.lock = threading.Lock()
        self.started = False
        self.closed = False
        self.gone = False

    def start(self, prelude: wire.Prelude) -> None:
        with self.lock:
            if self.closed or self.started:
                return
            self.started = True
            try:
                self.handler.send_stream_head(prelude)
            except (ClientGone, OSError):
                self.gone = True

    def body(self, pieces: list[bytes | memoryview]) -> None:
        with self.lock:
            if self.closed or self.gone or not self.started:
                return
            if self.throttle is not None:
                self.throttle.wait(sum(len(piece) for piece in pieces))
            if self.handler.command == "HEAD":
                return
            try:
                self.handler.write_chunk(*pieces)
            except ClientGone:
                self.gone = True

    def abort(self) -> None:
        """Stop now, from another thread: shut the socket so a blocked write returns at once."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.handler.connection.shutdown(socket.SHUT_RDWR)


class CollectedResponse:
    """A whole response gathered from invocation events (buffered mode and the Invoke API)."""

    def __init__(self) -> None:
        self.prelude: wire.Prelude | None = None
        self.parts: list[bytes] = []
        self.size = 0
        self.failure = ""
        self.error_type: str | None = None
        self.error_body: bytes | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self.parts)


def collect_response(
    handler: FrontDoorHandler, invocation: inv.Invocation, environment: Environment, limit: int
) -> CollectedResponse:
    collected = CollectedResponse()
    while True:
        event = handler.next_event(invocation, environment)
        if isinstance(event, inv.ResponseStarted):
            continue
        if isinstance(event, inv.PreludeReceived):
            collected.prelude = event.prelude
        elif isinstance(event, inv.BodyData):
            collected.size += len(event.data)
            if collected.size > limit:
                invocation.abandoned.set()
                collected.failure = f"Function.ResponseSizeTooLarge: response exceeded {limit} bytes"
                collected.error_type = "Function.ResponseSizeTooLarge"
                return collected
            collected.parts.append(event.data)
        else:
            collected.failure = handler.log_failure(invocation, event)
            if isinstance(event, inv.FunctionErrored):
                collected.error_type, collected.error_body = event.error_type, event.error_body
            elif isinstance(event, inv.InvocationFailed):
                collected.error_type = event.error_type
                collected.error_body = json.dumps(
                    {"errorMessage": event.message, "errorType": event.error_type}
                ).encode()
            elif isinstance(event, inv.ResponseEnded):
                collected.error_type, collected.error_body = event.error_type, event.error_body
            return collected
