"""Incremental HTTP/1.1 decoders: a chunked body, and the requests of a server connection.

Bytes are fed as they arrive, in any pieces; each `feed()` returns the events those bytes
complete, and "need more data" is an empty list, never a blocking read. Memory is bounded by the
head and trailer limits, never by a body: body bytes are passed on as slices of what was fed.
Every limit is checked so that input is accepted or refused the same way whatever its split,
and malformed input raises `WireError` only. Spec: RFC 9112 §2-3, §6, §7.1.
"""

from __future__ import annotations

from runtime.records import record
from runtime.wire.http11 import (
    CRLF,
    HEAD_END,
    HEX_DIGITS,
    LENGTH,
    MAX_CHUNK_SIZE_DIGITS,
    MAX_CHUNK_SIZE_LINE,
    MAX_HEAD_BYTES,
    MAX_TRAILER_BLOCK_BYTES,
    NO_BODY,
    BodyFraming,
    Data,
    EndOfBody,
    FieldsTooLarge,
    RequestHead,
    WireError,
    parse_header_block,
    parse_request_head,
    request_body_framing,
)

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Mapping

    RequestEvent = "RequestStarted | Data | EndOfBody"


class ChunkedDecoder:
    """Decodes an HTTP/1.1 chunked body fed in arbitrary pieces.

    `feed()` returns the events the new bytes complete and keeps the rest; an empty list means it
    needs more data. Memory is bounded by the size-line and trailer caps, never by the body size:
    chunk data is passed on as soon as it arrives, even part of a chunk. Bytes after the end of the
    body are kept in `unused` for the next message on the connection. Every limit is checked so
    that a message is accepted or refused the same way whatever the read boundaries.
    """

    def __init__(self) -> None:
        self._pending = b""  # only ever a partial size line, CRLF or trailer block: small
        self._remaining = 0  # data bytes left in the current chunk
        self._state = "size"  # size -> data -> data-crlf -> size ... -> trailers -> done
        self.unused = b""

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> list[Data | EndOfBody]:
        """Decode `data`; chunk data is sliced straight out of it, never copied into a buffer."""
        if self._state == "done":
            self.unused += data
            return []
        if self._pending:
            data, self._pending = self._pending + data, b""
        events: list[Data | EndOfBody] = []
        position = 0
        while True:
            advanced = self._step(data, position, events)
            if advanced < 0:
                break
            position = advanced
            if self._state == "done":
                self.unused = data[position:]
                return events
        self._pending = data[position:]
        return events

    def _step(self, data: bytes, position: int, events: list[Data | EndOfBody]) -> int:
        """Consume one element at `position`; the new position, or -1 when more bytes are needed."""
        if self._state == "data":
            take = min(self._remaining, len(data) - position)
            if take <= 0:
                return -1
            whole = position == 0 and take == len(data)
            events.append(Data(data if whole else memoryview(data)[position : position + take]))
            self._remaining -= take
            if self._remaining == 0:
                self._state = "data-crlf"
            return position + take
        if self._state == "data-crlf":
            available = data[position : position + 2]
            if not CRLF.startswith(available):
                raise WireError("chunk data not followed by CRLF")
            if len(available) < 2:
                return -1
            self._state = "size"
            return position + 2
        if self._state == "size":
            return self._read_size_line(data, position)
        return self._read_trailers(data, position, events)

    def _read_size_line(self, data: bytes, position: int) -> int:
        end = data.find(CRLF, position)
        line_length = (end if end >= 0 else len(data)) - position
        if end < 0 and data.endswith(b"\r"):
            line_length -= 1  # the CR may start the line's CRLF
        if line_length > MAX_CHUNK_SIZE_LINE:
            raise WireError("chunk-size line too long")
        if end < 0:
            return -1
        line = data[position:end]
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.rstrip(b" \t")  # RFC 9112 §7.1.1: BWS before a chunk extension
        if not size_text or len(size_text) > MAX_CHUNK_SIZE_DIGITS or not HEX_DIGITS.issuperset(size_text):
            raise WireError(f"bad chunk-size line {line[:40]!r}")
        if b"\r" in extensions or b"\n" in extensions or b"\x00" in extensions:
            raise WireError("control character in a chunk extension")
        size = int(size_text, 16)
        self._remaining = size
        self._state = "data" if size else "trailers"
        return end + 2

    def _read_trailers(self, data: bytes, position: int, events: list[Data | EndOfBody]) -> int:
        if data.startswith(CRLF, position):
            block, after = b"", position + 2
        elif len(data) - position == 1 and data[position:] == b"\r":
            return -1
        else:
            end = data.find(HEAD_END, position)
            if end < 0:
                if len(data) - position > MAX_TRAILER_BLOCK_BYTES:
                    raise FieldsTooLarge("trailer block too long")
                return -1
            block, after = data[position:end], end + 4
        if after - position > MAX_TRAILER_BLOCK_BYTES:
            raise FieldsTooLarge("trailer block too long")
        events.append(EndOfBody(parse_header_block(block)))
        self._state = "done"
        return after


# ---------------------------------------------------------------------------------------------
# Requests on a connection


class RequestStarted(record("RequestStarted", "head framing")):
    """A request head was parsed; body events follow (none when `framing.kind` is NO_BODY)."""

    __slots__ = ()
    head: RequestHead
    framing: BodyFraming


MAX_LEADING_EMPTY_LINES = 4  # RFC 9112 §2.2: tolerate a stray CRLF after a previous body


class RequestParser:
    """Incremental parser for the requests of one server connection, pipelining included.

    `feed()` returns, for the current request, `RequestStarted`, then `Data` events, then
    `EndOfBody`; bytes after that request are kept until `start_next()` moves on to the next one.
    A server can look at the head (to answer 413 or `100 Continue`) before any body byte is read.
    Malformed input raises WireError, the same way for any split of the bytes.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()  # head bytes, or bytes after the current request
        self._state = "head"  # head -> length | chunked -> done
        self._remaining = 0
        self._chunked: ChunkedDecoder | None = None
        self._empty_lines = 0

    @property
    def done(self) -> bool:
        """The current request has been read to its end."""
        return self._state == "done"

    @property
    def buffered(self) -> bool:
        """Bytes of a later request are already here (a server must not wait for the socket)."""
        return self._state == "done" and bool(self._buffer)

    def start_next(self) -> list[RequestEvent]:
        """Move to the next request and parse what was already received of it."""
        if self._state != "done":
            raise RuntimeError("the current request has not been read to its end")
        self._state, self._chunked = "head", None
        return self.feed(b"")

    def feed(self, data: bytes) -> list[RequestEvent]:
        if self._state == "done":
            self._buffer += data
            return []
        if self._state == "length":
            return self._feed_length(data)
        if self._state == "chunked":
            return self._feed_chunked(data)
        self._buffer += data
        return self._feed_head()

    def _feed_head(self) -> list[RequestEvent]:
        while self._buffer.startswith(CRLF) and self._empty_lines < MAX_LEADING_EMPTY_LINES:
            del self._buffer[:2]
            self._empty_lines += 1
        end = self._buffer.find(HEAD_END)
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES + 3:  # the last 3 bytes may begin the blank line
                raise FieldsTooLarge(f"request head exceeds {MAX_HEAD_BYTES} bytes")
            if self._buffer.count(b"\n") != self._buffer.count(b"\r\n"):
                raise WireError("a line of the request head ends in a bare LF, not CRLF")  # not a wait
            return []
        head = parse_request_head(bytes(self._buffer[:end]))
        framing = request_body_framing(head)
        rest = bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        self._empty_lines = 0
        events: list[RequestEvent] = [RequestStarted(head, framing)]
        if framing.kind == NO_BODY:
            self._finish(events, {}, rest)
        elif framing.kind == LENGTH:
            self._state, self._remaining = "length", framing.length
            events += self._feed_length(rest)
        else:
            self._state, self._chunked = "chunked", ChunkedDecoder()
            events += self._feed_chunked(rest)
        return events

    def _feed_length(self, data: bytes) -> list[RequestEvent]:
        if not data:
            return []
        take = min(self._remaining, len(data))
        events: list[RequestEvent] = [Data(data if take == len(data) else memoryview(data)[:take])]
        self._remaining -= take
        if self._remaining == 0:
            self._finish(events, {}, data[take:])
        return events

    def _feed_chunked(self, data: bytes) -> list[RequestEvent]:
        assert self._chunked is not None
        events: list[RequestEvent] = list(self._chunked.feed(data))
        if self._chunked.done:
            end = events.pop()
            assert isinstance(end, EndOfBody)
            self._finish(events, end.trailers, self._chunked.unused)
        return events

    def _finish(self, events: list[RequestEvent], trailers: Mapping[str, str], rest: bytes) -> None:
        events.append(EndOfBody(trailers))
        self._state = "done"
        self._buffer += rest
