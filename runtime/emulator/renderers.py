"""How an invocation's response reaches the HTTP client that asked for it: the `ResponseSink`s.

Every response takes one path: the Runtime API decodes the runtime's answer and moves the
invocation, and the invocation hands head, body and outcome to its sink. Sinks differ only in
rendering:

- `FunctionUrlStream`: a RESPONSE_STREAM Function URL. The head goes out when the prelude
  arrives (or, without a prelude, with the first body byte), every chunk as it arrives. An
  invocation that fails before anything reached the client gets 502, as Lambda answers; one that
  fails after is cut (no terminating chunk), so the client sees an incomplete transfer. The
  client socket has one writer at a time.
- `CollectedResponse`: the whole body in memory, up to a limit, for BUFFERED Function URLs and
  the Invoke API's RequestResponse; the front door renders it once the invocation ended.
- `EventStreamResponse`: InvokeWithResponseStream's `PayloadChunk` events, then `InvokeComplete`.
"""

from __future__ import annotations

import json
import threading

from runtime import wire
from runtime.emulator import eventstream
from runtime.emulator.http_connection import ClientGone, ServerConnection, reason_phrase
from runtime.emulator.invocation import Outcome
from runtime.emulator.throttle import Throttle

INTERNAL_ERROR = b'{"Message":"Internal Server Error"}'
JSON = [("Content-Type", "application/json")]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "trailer", "te"})
LOCK_PATIENCE = 1.0  # how long an ending waits for a writer before cutting the socket under it
JOIN_PIECES_OVER = 64  # a read that brought many tiny chunks is copied into one client chunk


def stream_head_fields(prelude: wire.Prelude) -> list[tuple[str, str]]:
    """The prelude as response fields, as a Function URL sends them: hop-by-hop fields dropped,
    `content-length` renamed (the body is streamed), one `Set-Cookie` per cookie."""
    fields = []
    for name, value in (prelude.headers or {}).items():
        if name in HOP_BY_HOP:
            continue
        fields.append(("x-amzn-remapped-content-length" if name == "content-length" else name, value))
    fields += [("Set-Cookie", cookie) for cookie in prelude.cookies]
    return fields


class FunctionUrlStream:
    """A RESPONSE_STREAM Function URL response, written as the runtime produces it."""

    def __init__(self, connection: ServerConnection, request_method: str, version: str, throttle: Throttle | None):
        self.connection = connection
        self.method = request_method
        self.chunked = version == "HTTP/1.1"
        self.throttle = throttle
        self.status = 0
        self.sent = 0
        self.cut = False
        self.client_gone = False
        self._lock = threading.Lock()
        self._deferred: wire.Prelude | None = None  # a head without prelude waits for the first byte
        self._head_written = False
        self._has_body = True
        self._settled = False

    # -- ResponseSink ------------------------------------------------------------------------------

    def begin(self, prelude: wire.Prelude | None, content_type: str) -> None:
        with self._lock:
            if self._settled or self._head_written:
                return
            if prelude is None:
                self._deferred = wire.Prelude(200, {"content-type": content_type}, ())
            else:
                self._write_head(prelude)

    def body(self, pieces: list[bytes | memoryview]) -> bool:
        with self._lock:
            if self._settled:
                return True
            if not self._head_written:
                self._write_head(self._deferred or wire.Prelude(200, {}, ()))
            if self.client_gone or not self._has_body:
                return True  # dropped: the runtime is never blocked by a missing reader
            size = sum(len(piece) for piece in pieces)
            if len(pieces) > JOIN_PIECES_OVER:  # many tiny writes: one copy beats a thousand buffers
                pieces = [b"".join(pieces)]
            if self.throttle is not None:
                self.throttle.wait(size)
            try:
                if self.chunked:
                    self.connection.send_pieces([wire.chunk_size_line(size), *pieces, wire.CRLF])
                else:
                    self.connection.send_pieces(pieces)
                self.sent += size
            except ClientGone:
                self.client_gone = True
        return True

    def settle(self, outcome: Outcome) -> None:
        if not self._lock.acquire(timeout=LOCK_PATIENCE):
            self.connection.abort()  # a writer is stuck on a client that does not read: cut under it
            self._lock.acquire()
        try:
            self._settled = True
            if outcome.succeeded:
                self._finish()
            elif not self._head_written:
                self._write_simple(502, INTERNAL_ERROR)
            else:
                self.cut = True  # no terminating chunk: the client sees an incomplete transfer
                self.connection.abort()
        finally:
            self._lock.release()

    # -- writing (the lock is held) ----------------------------------------------------------------

    def _write_head(self, prelude: wire.Prelude) -> None:
        self._head_written = True
        self.status = prelude.status_code
        self._has_body = wire.status_has_body(prelude.status_code, self.method)
        fields = stream_head_fields(prelude)
        if self._has_body:
            fields.append(("Transfer-Encoding", "chunked") if self.chunked else ("Connection", "close"))
        if not self.chunked:
            self.connection.closing = True
        try:
            head = wire.encode_response_head(prelude.status_code, reason_phrase(prelude.status_code), fields)
        except ValueError:  # already checked when the prelude was decoded; never relay a bad head
            self._head_written = False
            self._write_simple(502, INTERNAL_ERROR)
            self._has_body = False
            return
        self.connection.response_started = True
        try:
            self.connection.send(head)
        except ClientGone:
            self.client_gone = True

    def _finish(self) -> None:
        if not self._head_written:
            self._write_head(self._deferred or wire.Prelude(200, {}, ()))
        if self.client_gone:
            self.connection.closing = True
            return
        if self._has_body and self.chunked:
            try:
                self.connection.send(wire.encode_last_chunk())
            except ClientGone:
                self.client_gone = True
                self.connection.closing = True

    def _write_simple(self, status: int, body: bytes) -> None:
        self._head_written = True
        self.status = status
        self._has_body = False
        try:
            self.connection.respond(status, JSON, body, method=self.method)
        except ClientGone:
            self.client_gone = True


class CollectedResponse:
    """A response gathered whole, up to `limit` bytes (BUFFERED URLs, RequestResponse invokes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prelude: wire.Prelude | None = None
        self.content_type = "application/json"
        self.parts: list[bytes] = []
        self.size = 0

    def begin(self, prelude: wire.Prelude | None, content_type: str) -> None:
        self.prelude = prelude
        self.content_type = content_type

    def body(self, pieces: list[bytes | memoryview]) -> bool:
        size = sum(len(piece) for piece in pieces)
        if self.size + size > self.limit:
            return False
        self.size += size
        self.parts.extend(bytes(piece) for piece in pieces)
        return True

    def settle(self, outcome: Outcome) -> None:
        pass  # the front door renders it once the invocation has ended

    @property
    def body_bytes(self) -> bytes:
        return b"".join(self.parts)

    @property
    def raw_bytes(self) -> bytes:
        """What the runtime sent, prelude and delimiter included (the Invoke API returns that)."""
        if self.prelude is None:
            return self.body_bytes
        return wire.encode_prelude(self.prelude) + wire.PRELUDE_DELIMITER + self.body_bytes


class EventStreamResponse:
    """InvokeWithResponseStream: `application/vnd.amazon.eventstream` events as the runtime writes."""

    HEAD_FIELDS = (
        ("Content-Type", "application/vnd.amazon.eventstream"),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("Transfer-Encoding", "chunked"),
    )

    def __init__(self, connection: ServerConnection, request_id: str) -> None:
        self.connection = connection
        self.request_id = request_id  # the invocation's: the head carries it
        self.status = 0
        self.sent = 0
        self.client_gone = False
        self._lock = threading.Lock()
        self._head_written = False

    def begin(self, prelude: wire.Prelude | None, content_type: str) -> None:
        if prelude is not None:  # the caller gets the raw body, prelude included
            self.body([wire.encode_prelude(prelude) + wire.PRELUDE_DELIMITER])

    def body(self, pieces: list[bytes | memoryview]) -> bool:
        self._send(eventstream.payload_chunk(b"".join(pieces)))
        return True

    def settle(self, outcome: Outcome) -> None:
        details = None
        if not outcome.succeeded:
            details = (outcome.error_body or b"").decode("utf-8", "replace")
        if not self._lock.acquire(timeout=LOCK_PATIENCE):
            self.connection.abort()  # a writer is stuck on a caller that does not read: cut under it
            self._lock.acquire()
        self._lock.release()
        self._send(eventstream.invoke_complete(outcome.error_type, details), end=True)

    def _send(self, message: bytes, end: bool = False) -> None:
        with self._lock:
            if self.client_gone or (self.connection.closing and not self._head_written):
                return
            try:
                if not self._head_written:
                    self._head_written = True
                    self.status = 200
                    self.connection.response_started = True
                    fields = [*self.HEAD_FIELDS, ("x-amzn-RequestId", self.request_id)]
                    self.connection.send(wire.encode_response_head(200, "OK", fields))
                self.connection.send_pieces([wire.chunk_size_line(len(message)), message, wire.CRLF])
                self.sent += len(message)
                if end:
                    self.connection.send(wire.encode_last_chunk())
            except ClientGone:
                self.client_gone = True
                self.connection.closing = True


def json_error(status: int, message: str) -> tuple[list[tuple[str, str]], bytes]:
    return list(JSON), json.dumps({"Message": message}).encode("utf-8")
