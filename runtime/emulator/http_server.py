"""Strict HTTP/1.1 server connections, shared by the Function URL, the Invoke API and the Runtime API.

The standard library's `BaseHTTPRequestHandler` accepts what a production server refuses
(`Content-Length: ²`, conflicting lengths, `Transfer-Encoding: xchunked`), swallows requests
pipelined after a chunked body and holds a thread per idle socket forever. This module reads
requests with the project's pure parser (`wire.RequestParser`) instead, so every server here
applies the same rules to clients and to runtimes:

- malformed heads and framing get 400 (431 for oversized fields, 501 for an unimplemented
  transfer coding, 505 for another HTTP version), a short body, `Connection: close`, and a
  lingering close so the client reads the answer before the socket goes away;
- a declared body over the application's limit is refused before it is read (`BodyTooLarge`);
- pipelined requests are answered in order; a body the application did not read closes the
  connection instead of being misread as the next request;
- idle connections, slow heads and stalled bodies time out; the listen backlog takes bursts.

Applications get an `IncomingRequest` and the `ServerConnection` to answer on; responses never
carry a body or `Transfer-Encoding` when HTTP forbids one (HEAD, 1xx, 204, 304).
"""

from __future__ import annotations

import contextlib
import http
import select
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from runtime import wire

RECV_SIZE = 1024 * 1024  # one recv takes whatever the socket holds, up to this
LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class ConnectionLimits:
    """Timeouts in seconds (None: wait forever) and the lingering close's bounds."""

    idle_timeout: float | None = 60.0  # waiting for the first byte of the next request
    head_timeout: float = 10.0  # from a request's first byte to the end of its head
    body_timeout: float = 60.0  # longest silence while a body arrives, or while a client reads
    linger_seconds: float = 2.0  # after refusing a body: read and drop what is in flight
    linger_bytes: int = 64 * 1024 * 1024


class RequestRejected(Exception):
    """The request cannot be served as sent; `status` says why (400, 408, 413, 431, 501, 505)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(RequestRejected):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.limit = limit


class ClientGone(Exception):
    """The peer closed the connection (or stopped reading) while we were answering."""


def _rejection(exc: wire.WireError) -> RequestRejected:
    if isinstance(exc, wire.FieldsTooLarge):
        return RequestRejected(431, str(exc))
    if isinstance(exc, wire.UnsupportedTransferCoding):
        return RequestRejected(501, str(exc))
    if isinstance(exc, wire.UnsupportedVersion):
        return RequestRejected(505, str(exc))
    return RequestRejected(400, str(exc))


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass(frozen=True)
class IncomingRequest:
    head: wire.RequestHead
    framing: wire.BodyFraming

    @property
    def method(self) -> str:
        return self.head.method

    @property
    def target(self) -> str:
        return self.head.target

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.head.target).path if "?" in self.head.target else self.head.target

    @property
    def query(self) -> str:
        return self.head.target.partition("?")[2]

    @property
    def headers(self) -> Mapping[str, str]:
        return self.head.headers

    def header(self, name: str, default: str = "") -> str:
        return self.head.headers.get(name, default)


class ServerConnection:
    """One accepted connection: reads requests strictly, writes answers, closes with care."""

    def __init__(self, sock: socket.socket, address: tuple[str, int], limits: ConnectionLimits) -> None:
        self.sock = sock
        self.peer_host = str(address[0]) if address else ""
        self.limits = limits
        self.closing = False  # set by the application: close after this request
        self.linger = False  # close after reading and dropping what the client still sends
        self.response_started = False
        self.trailers: dict[str, str] = {}
        self._parser = wire.RequestParser()
        self._events: list[object] = []  # parsed but not yet consumed, in order
        self._framing = wire.BodyFraming(wire.NO_BODY)
        self._body_done = True
        self._expects_continue = False
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- reading -------------------------------------------------------------------------------

    def _recv(self, timeout: float | None) -> bytes:
        """Bytes from the peer; b"" at end of stream. Raises TimeoutError."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(RECV_SIZE)
        except (ConnectionResetError, BrokenPipeError):
            return b""

    def _feed(self, data: bytes) -> None:
        try:
            self._events += self._parser.feed(data)
        except wire.WireError as exc:
            raise _rejection(exc) from None

    def read_request(self) -> IncomingRequest | None:
        """The next request's head; None when the peer closed or idled out between requests."""
        started = None
        while not self._events:
            timeout = self.limits.idle_timeout
            if started is not None:
                timeout = max(0.0, started + self.limits.head_timeout - time.monotonic())
            try:
                data = self._recv(timeout)
            except TimeoutError:
                if started is None:
                    return None
                raise RequestRejected(408, "the request head did not arrive in time") from None
            except OSError:
                return None
            if not data:
                if started is not None:
                    self.closing = True
                return None
            if started is None:
                started = time.monotonic()
            self._feed(data)
        event = self._events.pop(0)
        assert isinstance(event, wire.RequestStarted)
        self.response_started = False
        self.trailers = {}
        self._framing = event.framing
        self._body_done = event.framing.kind == wire.NO_BODY
        self._expects_continue = event.head.headers.get("expect", "").lower() == "100-continue"
        if self._body_done and self._events and isinstance(self._events[0], wire.EndOfBody):
            self._events.pop(0)
        return IncomingRequest(event.head, event.framing)

    def body_pieces(self) -> Iterator[list[bytes | memoryview]]:
        """The request body as it arrives: each item is what one read brought in, as slices.

        Raises RequestRejected (400) for a malformed body and ClientGone when the peer left
        mid-body; `trailers` holds the chunked trailers once the body is done.
        """
        if self._body_done:
            return
        if self._expects_continue and not self._events:
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._expects_continue = False
        while True:
            pieces: list[bytes | memoryview] = []
            while self._events:
                event = self._events.pop(0)
                if isinstance(event, wire.Data):
                    pieces.append(event.data)
                elif isinstance(event, wire.EndOfBody):
                    self.trailers = dict(event.trailers)
                    self._body_done = True
                    break
            if pieces:
                yield pieces
            if self._body_done:
                return
            try:
                data = self._recv(self.limits.body_timeout)
            except (TimeoutError, OSError):
                raise ClientGone("the request body stalled") from None
            if not data:
                raise ClientGone("the peer closed the connection mid-body")
            self._feed(data)

    def read_body(self, limit: int) -> bytes:
        """The whole request body, refusing (BodyTooLarge) past `limit` bytes without reading it."""
        if self._body_done:
            return b""
        if self._framing.kind == wire.LENGTH and self._framing.length > limit:
            raise BodyTooLarge(limit)
        parts: list[bytes] = []
        size = 0
        for pieces in self.body_pieces():
            for piece in pieces:
                size += len(piece)
                if size > limit:
                    raise BodyTooLarge(limit)
                parts.append(bytes(piece))
        return b"".join(parts)

    def finish_request(self) -> bool:
        """Move to the next request on this connection; False when it cannot carry one."""
        if not self._body_done:
            return False
        if self._parser.done:
            self._events = list(self._parser.start_next())
        return True

    # -- writing -------------------------------------------------------------------------------

    def send(self, data: bytes | memoryview) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def send_pieces(self, pieces: Sequence[bytes | memoryview]) -> None:
        """Several buffers in as few system calls as the kernel allows, without joining them."""
        views = [memoryview(piece) for piece in pieces if len(piece)]
        try:
            while views:
                sent = self.sock.sendmsg(views)
                while views and sent >= len(views[0]):
                    sent -= len(views.pop(0))
                if views and sent:
                    views[0] = views[0][sent:]
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def respond(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes = b"",
        *,
        method: str = "GET",
        close: bool = False,
    ) -> int:
        """A whole response; returns the body bytes sent. Bodiless statuses and HEAD send none."""
        has_body = wire.status_has_body(status, method)
        fields = [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding", "connection")]
        if status >= 200 and status not in (204, 304):
            fields.append(("Content-Length", str(len(body))))
        if close or self.closing:
            fields.append(("Connection", "close"))
            self.closing = True
        self.response_started = True
        payload = body if has_body else b""
        self.send_pieces([wire.encode_response_head(status, reason_phrase(status), fields), payload])
        return len(payload)

    def abort(self) -> None:
        """Cut the connection now, from any thread: a blocked writer or reader returns at once."""
        self.closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self.linger:
            self._linger()
        with contextlib.suppress(OSError):
            self.sock.close()

    def _linger(self) -> None:
        """Stop writing, then drop what the client still sends, so our answer is not reset."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + self.limits.linger_seconds
            dropped = 0
            while dropped < self.limits.linger_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.sock.settimeout(remaining)
                data = self.sock.recv(RECV_SIZE)
                if not data:
                    return
                dropped += len(data)
        except OSError:
            return


class Application(Protocol):
    """What a server runs for each request."""

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None: ...

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]: ...

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None: ...


class _ConnectionHandler(socketserver.BaseRequestHandler):
    server: HttpServer

    def handle(self) -> None:
        connection = ServerConnection(self.request, self.client_address, self.server.limits)
        self.server.connection_opened(connection)
        try:
            self._serve(connection)
        finally:
            connection.close()
            self.server.connection_closed(connection)

    def _serve(self, connection: ServerConnection) -> None:
        app = self.server.app
        while True:
            try:
                request = connection.read_request()
                if request is None:
                    return
                app.handle(connection, request)
            except RequestRejected as exc:
                self._refuse(connection, exc)
                return
            except ClientGone:
                return
            except Exception:  # a bug in the emulator: say so loudly, answer 500 if we still can
                traceback.print_exc(file=sys.stderr)
                if not connection.response_started:
                    self._refuse(connection, RequestRejected(500, "the emulator failed; see its log"))
                return
            if connection.closing or not request.head.keep_alive or not connection.finish_request():
                return

    def _refuse(self, connection: ServerConnection, exc: RequestRejected) -> None:
        self.server.app.log_rejection(connection, exc.status, exc.message)
        connection.linger = True
        if connection.response_started:
            return
        headers, body = self.server.app.error_response(exc.status, exc.message)
        with contextlib.suppress(ClientGone):
            connection.respond(exc.status, headers, body, close=True)


class HttpServer(socketserver.ThreadingTCPServer):
    """A threading server that runs `app` for each request, with connection tracking."""

    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], app: Application, limits: ConnectionLimits = ConnectionLimits()
    ) -> None:
        self.app = app
        self.limits = limits
        self._connections: set[ServerConnection] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        super().__init__(address, _ConnectionHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, host: str | None = None) -> str:
        shown = host or str(self.server_address[0])
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/"

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
        self.server_close()
        with self._changed:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()

    def connection_opened(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.add(connection)
            self._changed.notify_all()

    def connection_closed(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.discard(connection)
            self._changed.notify_all()

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._connections)

    def settle(self, timeout: float) -> bool:
        """Wait until no connection is open and none waits to be accepted; False on timeout.

        Used after a runtime process died: its connections then end (the kernel closed them), so
        this returns once everything the runtime wrote before dying has been read and relayed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if not self._connections and not self._pending_accept():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.02))

    def _pending_accept(self) -> bool:
        try:
            readable, _, _ = select.select([self.socket], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)


ErrorRenderer = Callable[[int, str], tuple[list[tuple[str, str]], bytes]]
