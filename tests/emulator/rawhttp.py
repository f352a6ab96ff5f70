"""A raw-socket HTTP client for tests that must send what no HTTP library would."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from runtime import wire


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after this response


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    return host, int(port)


def connect(url: str, timeout: float = 30.0) -> socket.socket:
    return socket.create_connection(address(url), timeout=timeout)


def read_response(sock: socket.socket, buffer: bytearray, method: str = "GET") -> RawResponse:
    """One response from `sock` (bytes after it stay in `buffer`), using the project's codec."""
    while (end := buffer.find(wire.HEAD_END)) < 0:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed before a status line; got {bytes(buffer)[:200]!r}")
        buffer += data
    head = wire.parse_response_head(bytes(buffer[:end]))
    del buffer[: end + 4]
    framing = wire.response_body_framing(head.status, head.headers, method)
    body = bytearray()
    if framing.kind == wire.LENGTH:
        while len(buffer) < framing.length:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed mid-body")
            buffer += data
        body, buffer[:] = buffer[: framing.length], buffer[framing.length :]
    elif framing.kind == wire.CHUNKED:
        decoder = wire.ChunkedDecoder()
        data = bytes(buffer)
        buffer.clear()
        while True:
            body += b"".join(bytes(e.data) for e in decoder.feed(data) if isinstance(e, wire.Data))
            if decoder.done:
                buffer += decoder.unused
                break
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed mid-body")
    closed = head.headers.get("connection", "").lower() == "close"
    return RawResponse(head.status, dict(head.headers), bytes(body), closed)


def exchange(url: str, request: bytes, method: str = "GET") -> RawResponse:
    """Send `request` on a new connection and read one response."""
    with connect(url) as sock:
        sock.sendall(request)
        return read_response(sock, bytearray(), method)


def wait_closed(sock: socket.socket, timeout: float = 30.0) -> bytes:
    """Everything the server still sends until it closes the connection (b"" if nothing)."""
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data
    raise AssertionError("the server kept the connection open")
