"""One accepted HTTP/1.1 connection on the server side: requests read strictly, answers written.

`ServerConnection.read_request` parses with the project's pure parser (`wire.RequestParser`), so
malformed heads and framing become `RequestRejected` with the status a server answers (400, 408,
413, 431, 501, 505); pipelined requests wait in the parser for their turn; idle connections,
slow heads and stalled bodies time out. Bodies are read whole up to a limit (refused before a
byte is read when the declared length is over it) or piece by piece as they arrive. Responses
never carry a body or `Transfer-Encoding` when HTTP forbids one (HEAD, 1xx, 204, 304), and a
connection closed after a refusal lingers so the client reads the answer before the socket goes.
"""

from __future__ import annotations

import contextlib
import http
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from runtime import wire

RECV_SIZE = 1024 * 1024  # one recv takes whatever the socket holds, up to this
IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024  # buffers per sendmsg (Linux: 1024)


@dataclass(frozen=True)
class ConnectionLimits:
    """Timeouts in seconds (None: wait forever) and the lingering close's bounds."""

    idle_timeout: float | None = 60.0  # waiting for the first byte of the next request
    head_timeout: float = 10.0  # from a request's first byte to the end of its head
    body_timeout: float | None = 60.0  # longest silence while a body arrives, or while a client reads
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
        self.local_port = int(sock.getsockname()[1]) if sock.family in (socket.AF_INET, socket.AF_INET6) else 0
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
            except TimeoutError:
                raise RequestRejected(408, "the request body stalled") from None  # answered, if nothing was yet
            except OSError:
                raise ClientGone("the connection failed mid-body") from None
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
        """Several buffers in as few system calls as the kernel allows, without joining them
        (at most IOV_MAX buffers a call: the kernel refuses more)."""
        views = [memoryview(piece) for piece in pieces if len(piece)]
        try:
            while views:
                sent = self.sock.sendmsg(views[:IOV_MAX])
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
