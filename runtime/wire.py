"""The Runtime API streaming wire format as pure functions: bytes in, bytes or events out.

This module owns HTTP/1.1 chunk framing, the last chunk with its error trailers, the Function URL
HTTP-integration prelude, and two incremental decoders (chunked bodies and the prelude delimiter).
It never touches a socket: decoders return "nothing yet" as an empty list instead of blocking, so the
runtime client and the emulator share one definition of the format and can never disagree about it.
Spec: ../shared/protocol.md Part A §1-4 and Part B §2; RFC 9112 §7.1 for chunked coding.
"""

from __future__ import annotations

import base64
import json
from collections import namedtuple

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

CRLF = b"\r\n"
PRELUDE_DELIMITER = b"\x00" * 8
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DEFAULT_BODY_CONTENT_TYPE = "application/octet-stream"
ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAMING_MODE = "streaming"

MAX_PRELUDE_BYTES = 16 * 1024
MAX_TRAILER_BLOCK_BYTES = 4096  # Go's net/http reads trailers through a 4 KiB buffer (Part B §2.3)
MAX_CHUNK_SIZE_LINE = 1024  # hex digits plus chunk extensions; h11 uses a similar bound
MAX_CHUNK_SIZE_DIGITS = 16


class WireError(ValueError):
    """The peer sent bytes that do not follow the format; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Encoders


def encode_chunk(data: bytes) -> bytes:
    """Frame one non-empty chunk as one buffer. An empty chunk would end the body, so it is refused."""
    return chunk_size_line(len(data)) + data + CRLF


def chunk_size_line(length: int) -> bytes:
    """The line before a chunk's data, for writers that send header, data and CRLF as a gather
    list instead of copying the data into one framed buffer."""
    if length <= 0:
        raise ValueError("an empty chunk would terminate the body")
    return b"%x\r\n" % length


def encode_last_chunk(trailers: Mapping[str, str] | None = None) -> bytes:
    """The zero-length chunk that ends a body, with optional trailer fields (ASCII, no CR/LF)."""
    lines = [b"0\r\n"]
    for name, value in (trailers or {}).items():
        lines.append(_header_line(name, value))
    lines.append(CRLF)
    block = b"".join(lines)
    if len(block) > MAX_TRAILER_BLOCK_BYTES:
        raise ValueError(f"trailer block of {len(block)} bytes exceeds {MAX_TRAILER_BLOCK_BYTES}")
    return block


def encode_error_trailers(error_type: str, error_body: bytes) -> dict[str, str]:
    """The two trailers that report a failure after the stream was committed (Part A §4)."""
    return {
        ERROR_TYPE_TRAILER: error_type,
        ERROR_BODY_TRAILER: base64.b64encode(error_body).decode("ascii"),
    }


def decode_error_trailers(trailers: Mapping[str, str]) -> tuple[str | None, bytes | None]:
    """(error type, decoded error body) from a body's trailers; (None, None) when it succeeded.

    A body that is not valid base64 is passed on as its raw text rather than dropped.
    """
    error_type = trailers.get(ERROR_TYPE_TRAILER.lower())
    encoded = trailers.get(ERROR_BODY_TRAILER.lower())
    if not encoded:
        return error_type, None
    try:
        return error_type, base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return error_type, encoded.encode("utf-8", "replace")


def encode_request_head(method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request line and header block, ready to send."""
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("ascii")]
    lines.extend(_header_line(name, value) for name, value in headers)
    lines.append(CRLF)
    return b"".join(lines)


def _header_line(name: str, value: str) -> bytes:
    line = f"{name}: {value}"
    if "\r" in line or "\n" in line or "\x00" in line or ":" in name:  # no header injection
        raise ValueError(f"header field {name!r} contains a forbidden character")
    return (line + "\r\n").encode("latin-1")


class Prelude(namedtuple("Prelude", "status_code headers cookies", defaults=(200, None, ()))):
    """Status, headers and cookies a streaming handler gives a Function URL before the body.

    Records in the runtime's start-up path are named tuples, not dataclasses: importing
    `dataclasses` pulls in `inspect` and costs ~15 ms of every cold start.
    """

    __slots__ = ()
    status_code: int
    headers: Mapping[str, str] | None
    cookies: Sequence[str]


def build_prelude(
    status_code: int = 200,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    cookies: Sequence[str] | None = None,
) -> Prelude:
    """Normalise handler input: lower-case names, Set-Cookie moved to cookies, default content type."""
    if isinstance(status_code, bool) or not isinstance(status_code, int):
        raise TypeError("status_code must be an int")
    if not 100 <= status_code <= 599:
        raise ValueError(f"status_code {status_code} is outside 100-599")
    pairs = headers.items() if hasattr(headers, "items") else (headers or ())
    merged: dict[str, str] = {}
    all_cookies = [_require_str("cookie", c) for c in (cookies or ())]
    for name, value in pairs:
        key = _require_str("header name", name).lower()
        text = _require_str(f"header {name!r}", value)
        if key == "set-cookie":
            all_cookies.append(text)
        elif key in merged:
            merged[key] = f"{merged[key]},{text}"
        else:
            merged[key] = text
    merged.setdefault("content-type", DEFAULT_BODY_CONTENT_TYPE)
    return Prelude(status_code, merged, tuple(all_cookies))


def _require_str(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def encode_prelude(prelude: Prelude) -> bytes:
    """The prelude JSON (without the delimiter). Capped and checked before anything is sent."""
    document = {
        "statusCode": prelude.status_code,
        "headers": dict(prelude.headers or {}),
        "cookies": list(prelude.cookies),
    }
    encoded = json.dumps(document, separators=(",", ":")).encode("utf-8")
    if len(encoded) > MAX_PRELUDE_BYTES:
        raise ValueError(f"prelude of {len(encoded)} bytes exceeds {MAX_PRELUDE_BYTES}")
    return encoded


def decode_prelude(document: bytes) -> Prelude:
    """Parse a prelude JSON as a Function URL does; missing fields take their defaults."""
    try:
        parsed = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"prelude is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise WireError("prelude is not a JSON object")
    status = parsed.get("statusCode", 200)
    headers = parsed.get("headers") or {}
    cookies = parsed.get("cookies") or []
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise WireError(f"prelude statusCode {status!r} is not an HTTP status")
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise WireError("prelude headers must be an object of strings")
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise WireError("prelude cookies must be an array of strings")
    return Prelude(status, {k.lower(): v for k, v in headers.items()}, tuple(cookies))


# ---------------------------------------------------------------------------------------------
# Incremental decoders


class Data(namedtuple("Data", "data")):
    """A piece of body bytes: `bytes`, or a `memoryview` into the fed buffer (never a copy)."""

    __slots__ = ()
    data: bytes | memoryview


class EndOfBody(namedtuple("EndOfBody", "trailers")):
    """The last chunk arrived; trailers (lower-cased names) are what followed it."""

    __slots__ = ()
    trailers: Mapping[str, str]


class ChunkedDecoder:
    """Decodes an HTTP/1.1 chunked body fed in arbitrary pieces.

    `feed()` returns the events the new bytes complete and keeps the rest; an empty list means it
    needs more data. Memory is bounded by the size-line and trailer caps, never by the body size:
    chunk data is passed on as soon as it arrives, even part of a chunk. Bytes after the end of the
    body are kept in `unused` for the next message on the connection.
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
            if len(data) - position < 2:
                return -1
            if data[position : position + 2] != CRLF:
                raise WireError("chunk data not followed by CRLF")
            self._state = "size"
            return position + 2
        if self._state == "size":
            return self._read_size_line(data, position)
        return self._read_trailers(data, position, events)

    def _read_size_line(self, data: bytes, position: int) -> int:
        end = data.find(CRLF, position)
        if end < 0:
            if len(data) - position > MAX_CHUNK_SIZE_LINE:
                raise WireError("chunk-size line too long")
            return -1
        line = data[position:end]
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or len(size_text) > MAX_CHUNK_SIZE_DIGITS:
            raise WireError(f"bad chunk-size line {line[:40]!r}")
        if size_text.startswith((b"-", b"+", b"0x", b"0X")) or b"_" in size_text:
            raise WireError(f"bad chunk-size line {line[:40]!r}")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise WireError(f"bad chunk-size line {line[:40]!r}") from None
        self._remaining = size
        self._state = "data" if size else "trailers"
        return end + 2

    def _read_trailers(self, data: bytes, position: int, events: list[Data | EndOfBody]) -> int:
        if data.startswith(CRLF, position):
            block, after = b"", position + 2
        else:
            end = data.find(b"\r\n\r\n", position)
            if end < 0:
                if len(data) - position > MAX_TRAILER_BLOCK_BYTES:
                    raise WireError("trailer block too long")
                return -1
            block, after = data[position:end], end + 4
        if after - position > MAX_TRAILER_BLOCK_BYTES:
            raise WireError("trailer block too long")
        events.append(EndOfBody(parse_header_block(block)))
        self._state = "done"
        return after


def parse_header_block(block: bytes) -> dict[str, str]:
    """Parse `Name: value` lines (CRLF separated, no final blank line) into lower-cased names."""
    fields: dict[str, str] = {}
    if not block:
        return fields
    for line in block.decode("latin-1").split("\r\n"):  # one decode: this runs on every invocation
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            raise WireError(f"malformed header line {line[:40]!r}")
        key = name.lower()
        value = value.strip()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


class PreludeReceived(namedtuple("PreludeReceived", "prelude")):
    """The prelude JSON was found and parsed; body events follow."""

    __slots__ = ()
    prelude: Prelude


class PreludeSplitter:
    """Splits an HTTP-integration body into its prelude and the raw body, across any read boundary.

    The JSON cannot contain NUL, so the first NUL starts the 8-byte delimiter. The prelude is
    capped at MAX_PRELUDE_BYTES; after it, body bytes pass straight through without buffering.
    """

    def __init__(self, max_prelude_bytes: int = MAX_PRELUDE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_prelude_bytes
        self._found = False

    @property
    def prelude_found(self) -> bool:
        return self._found

    def feed(self, data: bytes) -> list[PreludeReceived | Data]:
        if self._found:
            return [Data(data)] if data else []
        self._buffer += data
        first_nul = self._buffer.find(b"\x00")
        if first_nul < 0:
            self._check_size(len(self._buffer))
            return []
        self._check_size(first_nul)
        delimiter_end = first_nul + len(PRELUDE_DELIMITER)
        if len(self._buffer) < delimiter_end:
            if self._buffer[first_nul:].strip(b"\x00"):
                raise WireError("prelude delimiter is not 8 NUL bytes")
            return []
        if self._buffer[first_nul:delimiter_end] != PRELUDE_DELIMITER:
            raise WireError("prelude delimiter is not 8 NUL bytes")
        prelude = decode_prelude(bytes(self._buffer[:first_nul]))
        rest = bytes(self._buffer[delimiter_end:])
        self._buffer.clear()
        self._found = True
        events: list[PreludeReceived | Data] = [PreludeReceived(prelude)]
        if rest:
            events.append(Data(rest))
        return events

    def _check_size(self, prelude_length: int) -> None:
        if prelude_length > self._max:
            raise WireError(f"prelude exceeds {self._max} bytes without a delimiter")


class ResponseHead(namedtuple("ResponseHead", "status reason headers")):
    """Status line and headers of an HTTP/1.1 response (header names lower-cased)."""

    __slots__ = ()
    status: int
    reason: str
    headers: Mapping[str, str]


def parse_response_head(head: bytes) -> ResponseHead:
    """Parse a response head (without its final blank line), as received from the Runtime API."""
    status_line, _, rest = head.partition(CRLF)
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"malformed status line {status_line[:60]!r}")
    reason = parts[2].decode("latin-1") if len(parts) == 3 else ""
    return ResponseHead(int(parts[1]), reason, parse_header_block(rest))
