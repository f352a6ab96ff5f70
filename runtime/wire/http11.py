"""HTTP/1.1 message framing as pure functions: field checks, heads, body framing, chunked coding.

Bytes in, values or events out; nothing here touches a socket. The runtime's Runtime API client,
the emulator's servers and the tests' scripted peers all read and write HTTP/1.1 through this one
module, so they cannot disagree about what a well-formed message is. Every malformed input raises
`WireError` (or one of its subclasses, which tell a server which status to answer), and an
incremental decoder accepts or refuses a message the same way however the bytes are split.
Spec: RFC 9110 (fields, §5), RFC 9112 (message syntax §2-4, body length §6, chunked coding §7).
"""

from __future__ import annotations

from runtime.records import record

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 64 * 1024  # request or status line plus fields
MAX_FIELDS = 128
MAX_TRAILER_BLOCK_BYTES = 4096  # Go's net/http reads trailers through a 4 KiB buffer; so does RAPID
MAX_CHUNK_SIZE_LINE = 1024  # hex digits plus chunk extensions, CRLF excluded
MAX_CHUNK_SIZE_DIGITS = 16  # 2**64 - 1
MAX_CONTENT_LENGTH_DIGITS = 19  # fits a signed 64-bit integer

# RFC 9110 §5.6.2: token characters; §5.5: field values are visible characters, obs-text, SP, HTAB.
TOKEN_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
FIELD_VALUE_CHARACTERS = frozenset("\t" + "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, range(0x80, 0x100))))
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
ASCII_DIGITS = frozenset("0123456789")


class WireError(ValueError):
    """The peer sent bytes that do not follow the format; the message says what and where."""


class FieldsTooLarge(WireError):
    """A head or trailer block is over its size or count limit (a server answers 431)."""


class UnsupportedTransferCoding(WireError):
    """A transfer coding other than `chunked` was applied (a server answers 501)."""


class UnsupportedVersion(WireError):
    """Not HTTP/1.0 or HTTP/1.1 (a server answers 505)."""


# ---------------------------------------------------------------------------------------------
# Fields


def field_name_problem(name: object) -> str | None:
    """Why `name` cannot be a field name, or None when it can."""
    if not isinstance(name, str):
        return f"field name must be a str, not {type(name).__name__}"
    if not name or not TOKEN_CHARACTERS.issuperset(name):
        return f"field name {name[:40]!r} is not an HTTP token"
    return None


def field_value_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be the value of field `name`, or None when it can.

    Values must be Latin-1 text without control characters (CR, LF and NUL included), so they
    can neither be misencoded nor inject a line into a head.
    """
    if not isinstance(value, str):
        return f"value of {name[:40]!r} must be a str, not {type(value).__name__}"
    if not FIELD_VALUE_CHARACTERS.issuperset(value):
        return f"value of {name[:40]!r} contains a control character or is not Latin-1"
    return None


def check_field(name: object, value: object) -> None:
    """Raise ValueError when (`name`, `value`) cannot be sent as a header or trailer field."""
    problem = field_name_problem(name) or field_value_problem(name, value)  # type: ignore[arg-type]
    if problem:
        raise ValueError(problem)


def _field_line(name: str, value: str) -> bytes:
    check_field(name, value)
    return f"{name}: {value}\r\n".encode("latin-1")


def parse_field_lines(lines: Iterable[str]) -> list[tuple[str, str]]:
    """`Name: value` lines (already split, Latin-1 decoded) into (lower-case name, trimmed value)."""
    fields = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or field_name_problem(name):
            raise WireError(f"malformed field line {line[:40]!r}")  # includes obs-fold and "Name :"
        value = value.strip(" \t")
        if not FIELD_VALUE_CHARACTERS.issuperset(value):
            raise WireError(f"control character in the value of {name[:40]!r}")
        fields.append((name.lower(), value))
        if len(fields) > MAX_FIELDS:
            raise FieldsTooLarge(f"more than {MAX_FIELDS} fields")
    return fields


def join_fields(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Fields by lower-case name; repeated fields joined with ", " (RFC 9110 §5.3)."""
    joined: dict[str, str] = {}
    for name, value in fields:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def parse_header_block(block: bytes) -> dict[str, str]:
    """Parse `Name: value` lines (CRLF separated, no final blank line) into lower-cased names."""
    if not block:
        return {}
    return join_fields(parse_field_lines(block.decode("latin-1").split("\r\n")))


# ---------------------------------------------------------------------------------------------
# Heads


class RequestHead(record("RequestHead", "method target version fields headers")):
    """A request line and its fields: `fields` in order as received, `headers` joined by name."""

    __slots__ = ()
    method: str
    target: str
    version: str
    fields: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this one (RFC 9112 §9.3)."""
        options = {option.strip().lower() for option in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in options
        return "close" not in options


class ResponseHead(record("ResponseHead", "status reason headers")):
    """Status line and headers of an HTTP/1.1 response (header names lower-cased)."""

    __slots__ = ()
    status: int
    reason: str
    headers: Mapping[str, str]


def _split_head(head: bytes) -> tuple[bytes, list[str]]:
    if len(head) > MAX_HEAD_BYTES:
        raise FieldsTooLarge(f"head of {len(head)} bytes exceeds {MAX_HEAD_BYTES}")
    start_line, _, rest = head.partition(CRLF)
    return start_line, rest.decode("latin-1").split("\r\n") if rest else []


def parse_request_head(head: bytes) -> RequestHead:
    """Parse a request head (without its final blank line) strictly (RFC 9112 §3)."""
    request_line, lines = _split_head(head)
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise WireError(f"malformed request line {request_line[:60]!r}")
    method, target, version = (part.decode("latin-1") for part in parts)
    if not TOKEN_CHARACTERS.issuperset(method):
        raise WireError(f"malformed method {method[:20]!r}")
    if not target.isascii() or not target.isprintable():
        raise WireError("the request target must be printable ASCII")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/") and len(version) == 8:
            raise UnsupportedVersion(f"{version} is not supported")
        raise WireError(f"malformed HTTP version {version[:20]!r}")
    fields = tuple(parse_field_lines(lines))
    hosts = sum(1 for name, _ in fields if name == "host")
    if hosts > 1:
        raise WireError("more than one Host field")
    if hosts == 0 and version == "HTTP/1.1":
        raise WireError("an HTTP/1.1 request needs a Host field")
    return RequestHead(method, origin_form(target), version, fields, join_fields(fields))


def origin_form(target: str) -> str:
    """The path and query of a request target: a server must accept the absolute form
    (`http://host/path?q`, RFC 9112 §3.2.2) as well as the usual origin form (`/path?q`)."""
    scheme, separator, rest = target.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        return target
    authority_end = min((rest.find(mark) for mark in "/?" if mark in rest), default=len(rest))
    path = rest[authority_end:]
    return path if path.startswith("/") else "/" + path


def parse_response_head(head: bytes) -> ResponseHead:
    """Parse a response head (without its final blank line) strictly (RFC 9112 §4)."""
    status_line, lines = _split_head(head)
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    well_formed = version in (b"HTTP/1.1", b"HTTP/1.0") and len(code) == 3
    if not well_formed or not ASCII_DIGITS.issuperset(code.decode("latin-1")):
        raise WireError(f"malformed status line {status_line[:60]!r}")
    reason_text = reason.decode("latin-1")
    if not FIELD_VALUE_CHARACTERS.issuperset(reason_text):
        raise WireError("control character in the reason phrase")
    return ResponseHead(int(code), reason_text, join_fields(parse_field_lines(lines)))


def encode_request_head(method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request line and header block, ready to send."""
    lines = [f"{method} {target} HTTP/1.1\r\n".encode("ascii")]
    lines.extend(_field_line(name, value) for name, value in headers)
    lines.append(CRLF)
    return b"".join(lines)


def encode_response_head(status: int, reason: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 status line and header block, ready to send; raises ValueError on a bad field."""
    lines = [f"HTTP/1.1 {status:03d} {reason}\r\n".encode("latin-1")]
    lines.extend(_field_line(name, value) for name, value in headers)
    lines.append(CRLF)
    return b"".join(lines)


# ---------------------------------------------------------------------------------------------
# Body framing (RFC 9112 §6)

NO_BODY = "none"
LENGTH = "length"
CHUNKED = "chunked"
UNTIL_CLOSE = "close"


class BodyFraming(record("BodyFraming", "kind length", defaults=(0,))):
    """How a message's body is delimited: none, a Content-Length, chunked, or until close."""

    __slots__ = ()
    kind: str
    length: int


def _content_length(values: list[str]) -> int:
    """One length from every Content-Length field; identical repeats allowed (RFC 9110 §8.6)."""
    lengths = {part.strip() for value in values for part in value.split(",")}
    if len(lengths) != 1:
        raise WireError(f"conflicting Content-Length values {sorted(lengths)[:4]}")
    text = lengths.pop()
    if not text or not ASCII_DIGITS.issuperset(text) or len(text) > MAX_CONTENT_LENGTH_DIGITS:
        raise WireError(f"malformed Content-Length {text[:24]!r}")
    return int(text)


def _transfer_codings(values: list[str]) -> list[str]:
    return [coding.strip().lower() for value in values for coding in value.split(",") if coding.strip()]


def request_body_framing(head: RequestHead) -> BodyFraming:
    """How the body of the request `head` is delimited (RFC 9112 §6.3); raises WireError."""
    lengths = [value for name, value in head.fields if name == "content-length"]
    codings = _transfer_codings([value for name, value in head.fields if name == "transfer-encoding"])
    if codings or any(name == "transfer-encoding" for name, _ in head.fields):
        if lengths:
            raise WireError("both Content-Length and Transfer-Encoding")  # a smuggling vector: refuse
        if head.version == "HTTP/1.0":
            raise WireError("Transfer-Encoding in an HTTP/1.0 request")
        if not codings or codings[-1] != "chunked" or codings.count("chunked") != 1:
            raise WireError(f"Transfer-Encoding {', '.join(codings)[:40]!r}: the body length cannot be known")
        if len(codings) > 1:
            raise UnsupportedTransferCoding(f"transfer coding {codings[0][:20]!r} is not implemented")
        return BodyFraming(CHUNKED)
    if lengths:
        length = _content_length(lengths)
        return BodyFraming(LENGTH, length) if length else BodyFraming(NO_BODY)
    return BodyFraming(NO_BODY)


def response_body_framing(status: int, headers: Mapping[str, str], request_method: str = "GET") -> BodyFraming:
    """How the body of a response is delimited (RFC 9112 §6.3); raises WireError."""
    if request_method == "HEAD" or status < 200 or status in (204, 304):
        return BodyFraming(NO_BODY)
    codings = _transfer_codings([headers["transfer-encoding"]]) if "transfer-encoding" in headers else []
    if codings:
        return BodyFraming(CHUNKED) if codings[-1] == "chunked" else BodyFraming(UNTIL_CLOSE)
    if "content-length" in headers:
        length = _content_length([headers["content-length"]])
        return BodyFraming(LENGTH, length) if length else BodyFraming(NO_BODY)
    return BodyFraming(UNTIL_CLOSE)


def status_has_body(status: int, request_method: str = "GET") -> bool:
    """False for responses that never carry a body: HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1)."""
    return not (request_method == "HEAD" or status < 200 or status in (204, 304))


# ---------------------------------------------------------------------------------------------
# Body events, as the incremental decoders (decoders.py) return them


class Data(record("Data", "data")):
    """A piece of body bytes: `bytes`, or a `memoryview` into the fed buffer (never a copy)."""

    __slots__ = ()
    data: bytes | memoryview


class EndOfBody(record("EndOfBody", "trailers")):
    """The last chunk arrived; trailers (lower-cased names) are what followed it."""

    __slots__ = ()
    trailers: Mapping[str, str]


# ---------------------------------------------------------------------------------------------
# Chunked coding (RFC 9112 §7.1)


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
    """The zero-length chunk that ends a body, with optional trailer fields."""
    lines = [b"0\r\n"]
    for name, value in (trailers or {}).items():
        lines.append(_field_line(name, value))
    lines.append(CRLF)
    block = b"".join(lines)
    if len(block) > MAX_TRAILER_BLOCK_BYTES:
        raise ValueError(f"trailer block of {len(block)} bytes exceeds {MAX_TRAILER_BLOCK_BYTES}")
    return block
