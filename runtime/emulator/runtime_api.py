"""The Runtime API (2018-06-01) as one environment's runtime sees it.

One `RuntimeAPIServer` per environment, as each Lambda sandbox has its own: the runtime process
is the only client, so the server knows which environment a request belongs to without any
prefix in AWS_LAMBDA_RUNTIME_API (AWS's Node client accepts only `host:port`). Request handlers
are stateless; state lives in the `Environment` and its `Invocation`. Streamed bodies are decoded
with the project's own wire module as they arrive and passed on chunk by chunk, never held whole.
Status rules follow AWS's emulator (Part B §1.2-2.4).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from runtime import wire
from runtime.emulator import invocation as inv

if TYPE_CHECKING:
    from runtime.emulator.environment import Environment

READ_SIZE = 1024 * 1024  # one recv takes whatever the socket holds, up to this
MAX_ERROR_BODY = 1024 * 1024
BUFFERED_SLACK = 100  # RAPID allows 6 MiB + 100 bytes
RESPONSE_ROUTE = re.compile(r"^/runtime/invocation/([^/]+)/(response|error)$")
ERROR_TYPE_PATTERN = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")


class RuntimeAPIServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, environment: Environment) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeAPIHandler)
        self.environment = environment

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, args=(0.1,), name="runtime-api", daemon=True).start()


class RuntimeAPIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeAPIServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the front door logs one line per client request; the runtime's calls are noise

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def environment(self) -> Environment:
        return self.server.environment

    def _route(self) -> str:
        path = self.path.split("?", 1)[0]
        return path.removeprefix("/2018-06-01") if path.startswith("/2018-06-01/") else ""

    def do_GET(self) -> None:
        if self._route() != "/runtime/invocation/next":
            self._send_error(404, "UnknownRoute", f"no route GET {self.path}")
            return
        invocation = self.environment.next_invocation()
        if invocation is None:
            self._send_error(500, "SandboxTerminated", "the environment is shutting down")
            self.close_connection = True
            return
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.environment.config.function_arn),
        ]
        if invocation.trace_id:
            headers.append(("Lambda-Runtime-Trace-Id", invocation.trace_id))
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        headers.append(("Content-Type", "application/json"))  # AWS's clients crash without it
        self._write_response(200, headers, invocation.event)

    def do_POST(self) -> None:
        route = self._route()
        if route == "/runtime/init/error":
            self._init_error()
            return
        match = RESPONSE_ROUTE.match(route)
        if match is None:
            self._send_error(404, "UnknownRoute", f"no route POST {self.path}")
            return
        request_id, kind = match.groups()
        if kind == "response":
            self._response(request_id)
        else:
            self._error(request_id)

    # -- /response ------------------------------------------------------------------------------

    def _response(self, request_id: str) -> None:
        mode = self.headers.get(wire.RESPONSE_MODE_HEADER)
        if mode is not None and mode != wire.STREAMING_MODE:
            self._reject_body(400, "InvalidFunctionResponseMode", f"unknown response mode {mode!r}")
            return
        invocation = self.environment.claim(request_id, inv.State.RESPONDED)
        if invocation is None:
            self._reject_body(403, "InvalidStateTransition", f"{request_id} is not the current invocation")
            return
        content_type = self.headers.get("Content-Type", "application/json")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._streamed_response(invocation, content_type)
        else:
            self._buffered_response(invocation, content_type)

    def _buffered_response(self, invocation: inv.Invocation, content_type: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.environment.config.max_buffered_response_bytes + BUFFERED_SLACK
        if length > limit:
            message = f"response of {length} bytes exceeds the {limit}-byte limit"
            invocation.emit(inv.InvocationFailed("Function.ResponseSizeTooLarge", message))
            self._reject_body(413, "RequestEntityTooLarge", message)
            return
        body = self.rfile.read(length)
        if len(body) < length:
            invocation.emit(inv.InvocationFailed("Runtime.TruncatedResponse", "connection closed mid-body"))
            self.close_connection = True
            return
        invocation.deliver_head(content_type, streaming=False, prelude=None)
        if body:
            invocation.deliver_body([body])
        invocation.emit(inv.ResponseEnded())
        self._send_accepted()

    def _streamed_response(self, invocation: inv.Invocation, content_type: str) -> None:
        relay = StreamRelay(invocation, content_type, self.environment.config.max_streamed_response_bytes)
        decoder = wire.ChunkedDecoder()
        try:
            while not decoder.done:
                data = self.rfile.read1(READ_SIZE)
                if not data:
                    raise ConnectionResetError("runtime closed the connection mid-body")
                events = decoder.feed(data)
                pieces = [event.data for event in events if isinstance(event, wire.Data)]
                if pieces:
                    relay.body(pieces)  # everything one read brought in, relayed as one piece
                if decoder.done:
                    relay.end(events[-1].trailers)
                if relay.oversize and not relay.answered:
                    relay.answered = True
                    message = f"response exceeded {relay.limit} bytes; the stream was cut"
                    self._send_error(413, "RequestEntityTooLarge", message, close=True)
        except (OSError, wire.WireError) as exc:
            invocation.emit(inv.InvocationFailed("Runtime.TruncatedResponse", str(exc)))
            self.close_connection = True
            return
        if decoder.unused:
            self.close_connection = True  # a pipelined request we did not read through rfile
        if not relay.answered:
            self._send_accepted()

    # -- /error and /init/error -------------------------------------------------------------------

    def _error(self, request_id: str) -> None:
        invocation = self.environment.claim(request_id, inv.State.ERRORED)
        if invocation is None:
            self._reject_body(403, "InvalidStateTransition", f"{request_id} is not the current invocation")
            return
        body = self._read_small_body()
        if body is None:
            invocation.emit(inv.InvocationFailed("Runtime.TruncatedResponse", "error body unreadable"))
            return
        invocation.emit(inv.FunctionErrored(self._error_type(body), body))
        self._send_accepted()

    def _init_error(self) -> None:
        body = self._read_small_body()
        if body is None:
            return
        if not self.environment.record_init_error(self._error_type(body), body):
            self._send_error(403, "InvalidStateTransition", "init already completed")
            return
        self._send_accepted()

    def _error_type(self, body: bytes) -> str:
        """Classify like RAPID: keep `Runtime.X`/`Function.X`, else the body's errorType, else Unknown."""
        header = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
        if ERROR_TYPE_PATTERN.match(header):
            return header
        try:
            document = json.loads(body)
            return str(document.get("errorType") or header or "Runtime.Unknown")
        except (ValueError, AttributeError):
            return header or "Runtime.Unknown"

    # -- helpers ---------------------------------------------------------------------------------

    def _read_small_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_small_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_ERROR_BODY:
            self._reject_body(413, "RequestEntityTooLarge", "error body too large")
            return None
        return self.rfile.read(length)

    def _read_small_chunked(self) -> bytes | None:
        decoder, parts, size = wire.ChunkedDecoder(), [], 0
        while not decoder.done:
            data = self.rfile.read1(READ_SIZE)
            if not data:
                self.close_connection = True
                return None
            for event in decoder.feed(data):
                if isinstance(event, wire.Data):
                    size += len(event.data)
                    parts.append(event.data)
            if size > MAX_ERROR_BODY:
                self._send_error(413, "RequestEntityTooLarge", "error body too large", close=True)
                return None
        return b"".join(parts)

    def _reject_body(self, status: int, error_type: str, message: str) -> None:
        """Answer before reading the body: the connection cannot be reused after that."""
        self._send_error(status, error_type, message, close=True)
        self._drain()

    def _drain(self) -> None:
        """Read and discard what the runtime still sends, so closing does not reset our answer."""
        self.connection.settimeout(2.0)
        try:
            while self.rfile.read1(READ_SIZE):
                pass
        except OSError:
            pass

    def _send_accepted(self) -> None:
        self._send_json(202, {"status": "OK"})

    def _send_error(self, status: int, error_type: str, message: str, close: bool = False) -> None:
        self._send_json(status, {"errorMessage": message, "errorType": error_type}, close)

    def _send_json(self, status: int, document: dict[str, str], close: bool = False) -> None:
        body = json.dumps(document).encode("utf-8")
        headers = [("Content-Type", "application/json")]
        if close:
            headers.append(("Connection", "close"))
            self.close_connection = True
        self._write_response(status, headers, body)

    def _write_response(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Head and body in one write: one TCP segment for the runtime to read, not two."""
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        self.wfile.write("".join(lines).encode("latin-1") + body)
        self.wfile.flush()


class StreamRelay:
    """Turns decoded chunks of a streamed `/response` into invocation events, enforcing the cap."""

    def __init__(self, invocation: inv.Invocation, content_type: str, limit: int) -> None:
        self.invocation = invocation
        self.limit = limit
        self.sent = 0
        self.oversize = False
        self.answered = False
        integration = content_type.split(";", 1)[0].strip() == wire.HTTP_INTEGRATION_CONTENT_TYPE
        self.content_type = content_type
        self.splitter = wire.PreludeSplitter() if integration else None
        if self.splitter is None:
            invocation.deliver_head(content_type, streaming=True, prelude=None)

    def body(self, pieces: list[bytes | memoryview]) -> None:
        """Body bytes as decoded; until the prelude is complete they go through the splitter."""
        if self.splitter is None or self.splitter.prelude_found:
            self._relay(pieces)
            return
        for part in self.splitter.feed(b"".join(pieces)):
            if isinstance(part, wire.PreludeReceived):
                self.invocation.deliver_head(self.content_type, streaming=True, prelude=part.prelude)
            else:
                self._relay([part.data])

    def _relay(self, pieces: list[bytes | memoryview]) -> None:
        if self.oversize:
            return  # drained and dropped: the client's stream was already cut
        room = self.limit - self.sent
        size = sum(len(piece) for piece in pieces)
        if size > room:
            kept = _first_bytes(pieces, room)
            if kept:
                self.invocation.deliver_body(kept)
            self.sent = self.limit
            self.oversize = True
            message = f"response exceeded the {self.limit}-byte streaming limit"
            self.invocation.emit(inv.InvocationFailed("Function.ResponseSizeTooLarge", message))
            return
        self.sent += size
        self.invocation.deliver_body(pieces)

    def end(self, trailers: Mapping[str, str]) -> None:
        if self.oversize:
            return
        if self.splitter is not None and not self.splitter.prelude_found:
            message = "the body ended before the prelude delimiter"
            self.invocation.emit(inv.InvocationFailed("Runtime.InvalidResponse", message))
            return
        error_type, error_body = wire.decode_error_trailers(trailers)
        self.invocation.emit(inv.ResponseEnded(error_type, error_body))


def _first_bytes(pieces: list[bytes | memoryview], count: int) -> list[bytes | memoryview]:
    """The first `count` bytes of `pieces`, as pieces (for cutting a stream at the size cap)."""
    kept: list[bytes | memoryview] = []
    for piece in pieces:
        if count <= 0:
            break
        kept.append(piece[:count])
        count -= len(kept[-1])
    return kept
