"""The Runtime API client: one persistent HTTP/1.1 connection, raw sockets, no buffering of ours.

It sends the requests built in `api.py` and reads the answers with the decoders in `wire.py`.
Every socket error is translated here, in one place, into `RuntimeAPIUnavailable` (and the
connection is closed): the loop treats it as fatal, so the process exits and Lambda restarts it. The socket factory is
injected so tests can script the peer byte for byte.
"""

from __future__ import annotations

import _socket
import select

from runtime import api, json_codec, wire
from runtime.records import record
from runtime.response import ResponseStreamClosed

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping

LOST = "lost the connection to the Runtime API at"
MAX_RESPONSE_HEAD_BYTES = 64 * 1024
READ_SIZE = 64 * 1024


class RuntimeAPIError(Exception):
    """Root of the errors that end the runtime process: the platform must restart it."""


class RuntimeAPIUnavailable(RuntimeAPIError):
    """The Runtime API refused or dropped the connection, or spoke something that is not HTTP."""


class RuntimeAPIFailure(RuntimeAPIError):
    """The Runtime API answered 500 (or another status that leaves no way forward)."""


class RuntimeResponse(record("RuntimeResponse", "status headers body")):
    """A Runtime API answer, read whole (they are small: an event, or a status document)."""

    __slots__ = ()
    status: int
    headers: Mapping[str, str]
    body: bytes

    def describe(self) -> str:
        """`413 RequestEntityTooLarge: ...` from the Runtime API's JSON error body, if any."""
        detail = self.body[:300].decode("utf-8", "replace")
        try:
            document = json_codec.loads(self.body)
            detail = f"{document.get('errorType', '')}: {document.get('errorMessage', '')}"
        except (ValueError, AttributeError):
            pass
        return f"{self.status} {detail}".strip()


def _connect(address: tuple[str, int]) -> socket.socket:
    """A TCP connection to `address`, trying each address the host resolves to, as
    `socket.create_connection` does. `_socket` is the C module underneath `socket`: the Python
    module would add `selectors` and `enum` to every cold start (~7 ms) for nothing used here."""
    host, port = address
    # An ASCII host as bytes: a str would go through the "idna" codec, whose import (stringprep,
    # unicodedata, re, enum) costs ~6 ms of every cold start.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    last_error: OSError | None = None
    for family, kind, protocol, _, target in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, protocol)
        try:
            sock.connect(target)
            return sock  # type: ignore[return-value]
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"{host} resolves to no address")


class Connection:
    """One TCP connection to the Runtime API, opened lazily and reopened after `Connection: close`."""

    def __init__(
        self, address: api.RuntimeAddress, connect: Callable[[tuple[str, int]], socket.socket] = _connect
    ) -> None:
        self.address = address
        self._connect = connect
        self._sock: socket.socket | None = None
        self._pending = bytearray()

    def _translate(self, action: str, exc: Exception) -> RuntimeAPIUnavailable:
        """The one place where socket and protocol errors become the runtime's own error."""
        self.close()
        return RuntimeAPIUnavailable(f"{action} {self.address.host_header}: {exc}")

    def _socket(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = self._connect((self.address.host, self.address.port))
                if sock.family in (_socket.AF_INET, _socket.AF_INET6):
                    sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # no Nagle delay per chunk
                sock.settimeout(None)  # the long poll on /next must never time out
            except OSError as exc:
                raise self._translate("cannot connect to the Runtime API at", exc) from exc
            self._sock = sock
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            try:  # noqa: SIM105 - contextlib would cost start-up time
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._pending.clear()

    def send(self, data: bytes) -> None:
        sock = self._socket()
        try:
            sock.sendall(data)
        except OSError as exc:
            raise self._translate(LOST, exc) from exc

    def send_parts(self, parts: list[bytes]) -> None:
        """Send several buffers in as few system calls as the kernel allows, without joining them."""
        sock = self._socket()
        views = [memoryview(part) for part in parts if part]
        try:
            while views:
                sent = sock.sendmsg(views)
                while views and sent >= len(views[0]):
                    sent -= len(views.pop(0))
                if views and sent:
                    views[0] = views[0][sent:]
        except OSError as exc:
            raise self._translate(LOST, exc) from exc

    def send_request(self, request: api.RuntimeRequest) -> None:
        self.send(request.encode_head(self.address.host_header) + request.body)

    def answer_waiting(self) -> bool:
        """True when the peer already answered (or closed) while we are still sending a body."""
        if self._sock is None:
            return False
        if self._pending:
            return True
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError) as exc:
            raise self._translate(LOST, exc) from exc
        return bool(readable)

    def read_response(self) -> RuntimeResponse:
        sock = self._socket()
        try:
            head = wire.parse_response_head(self._read_head(sock))
            body = self._read_body(sock, wire.response_body_framing(head.status, head.headers))
        except (OSError, wire.WireError) as exc:
            raise self._translate(LOST, exc) from exc
        if head.headers.get("connection", "").lower() == "close":
            self.close()
        return RuntimeResponse(head.status, head.headers, body)

    def _recv(self, sock: socket.socket) -> bytes:
        data = sock.recv(READ_SIZE)
        if not data:
            raise ConnectionResetError("the Runtime API closed the connection")
        return data

    def _read_head(self, sock: socket.socket) -> bytes:
        while (end := self._pending.find(b"\r\n\r\n")) < 0:
            if len(self._pending) > MAX_RESPONSE_HEAD_BYTES:
                raise wire.WireError("response head too long")
            self._pending += self._recv(sock)
        head = bytes(self._pending[:end])
        del self._pending[: end + 4]
        return head

    def _read_body(self, sock: socket.socket, framing: wire.BodyFraming) -> bytes:
        """The body, delimited as the shared codec says (the emulator and test peers read alike)."""
        if framing.kind == wire.NO_BODY:
            return b""
        if framing.kind == wire.CHUNKED:
            return self._read_chunked(sock)
        if framing.kind != wire.LENGTH:
            raise wire.WireError("the Runtime API answered without a Content-Length")
        length = framing.length
        while len(self._pending) < length:
            self._pending += self._recv(sock)
        body = bytes(self._pending[:length])
        del self._pending[:length]
        return body

    def _read_chunked(self, sock: socket.socket) -> bytes:
        decoder = wire.ChunkedDecoder()
        parts: list[bytes] = []
        data = bytes(self._pending)
        self._pending.clear()
        while True:
            for event in decoder.feed(data):
                if isinstance(event, wire.Data):
                    parts.append(event.data)
            if decoder.done:
                self._pending += decoder.unused
                return b"".join(parts)
            data = self._recv(sock)


class RuntimeClient:
    """The four Runtime API calls over one `Connection`, with the Runtime API's status rules
    (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

    4xx on `/response` or `/error` closes that invocation only: it is reported through `on_rejected`
    and the caller polls `/next` again. Anything else unexpected raises `RuntimeAPIError`.
    """

    def __init__(self, connection: Connection, on_rejected: Callable[[str, RuntimeResponse], None]) -> None:
        self.connection = connection
        self.address = connection.address
        self._on_rejected = on_rejected
        self._next_request: bytes | None = None

    def next_invocation(self) -> RuntimeResponse:
        if self._next_request is None:  # the same bytes every time: encode them once
            self._next_request = api.next_invocation(self.address).encode_head(self.address.host_header)
        self.connection.send(self._next_request)
        response = self.connection.read_response()
        if response.status != 200:
            raise RuntimeAPIFailure(f"/next answered {response.describe()}")
        return response

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self._exchange(api.invocation_response(self.address, request_id, body, content_type), request_id)

    def post_error(self, request_id: str, error: api.ErrorPayload) -> None:
        self._exchange(api.invocation_error(self.address, request_id, error), request_id)

    def post_init_error(self, error: api.ErrorPayload) -> None:
        self.connection.send_request(api.init_error(self.address, error))
        self.check(self.connection.read_response(), "init")

    def open_stream(self, request_id: str, content_type: str) -> ChunkedUpload:
        """A streamed `/response`; its head leaves with the first chunks, in one system call."""
        request = api.streaming_response(self.address, request_id, content_type)
        return ChunkedUpload(self, request_id, request.encode_head(self.address.host_header))

    def _exchange(self, request: api.RuntimeRequest, request_id: str) -> None:
        self.connection.send_request(request)
        self.check(self.connection.read_response(), request_id)

    def check(self, response: RuntimeResponse, request_id: str) -> None:
        if 200 <= response.status < 300:
            return
        if 400 <= response.status < 500:
            self._on_rejected(request_id, response)
            return
        raise RuntimeAPIFailure(f"the Runtime API answered {response.describe()}")


class ChunkedUpload:
    """The body of a streamed `/response`: each `send` puts its chunks on the wire at once."""

    def __init__(self, client: RuntimeClient, request_id: str, head: bytes) -> None:
        self._client = client
        self._connection = client.connection
        self._request_id = request_id
        self._unsent_head = head
        self._failure: RuntimeAPIError | None = None

    def send(self, chunks: list[bytes]) -> None:
        self._raise_if_failed()
        try:
            if not self._unsent_head and self._connection.answer_waiting():
                # The Runtime API answered before the body ended (size cap, wrong state): stop here.
                response = self._connection.read_response()
                self._connection.close()
                self._client.check(response, self._request_id)
                raise ResponseStreamClosed(f"the Runtime API ended the response: {response.describe()}")
            self._connection.send_parts(self._framed(chunks))
        except RuntimeAPIError as exc:
            self._failure = exc
            raise

    def finish(self, chunks: list[bytes], trailers: Mapping[str, str] | None) -> None:
        self._raise_if_failed()
        try:
            self._connection.send_parts([*self._framed(chunks), wire.encode_last_chunk(trailers)])
            self._client.check(self._connection.read_response(), self._request_id)
        except RuntimeAPIError as exc:
            self._failure = exc
            raise

    def _raise_if_failed(self) -> None:
        """After a Runtime API failure this body is dead: a handler that swallowed the error must
        not make the next write open a fresh connection and send chunks without a request head."""
        if self._failure is not None:
            raise self._failure

    def _framed(self, chunks: list[bytes]) -> list[bytes]:
        """The unsent request head (if any), then size line, data and CRLF per chunk: no copies."""
        parts = [self._take_head()]
        for chunk in chunks:
            parts += (wire.chunk_size_line(len(chunk)), chunk, wire.CRLF)
        return parts

    def _take_head(self) -> bytes:
        head, self._unsent_head = self._unsent_head, b""
        return head
