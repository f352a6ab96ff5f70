"""Lambda's streaming response format as pure functions: the prelude, its delimiter, error trailers.

A streamed response to a Function URL is a chunked HTTP body that starts with a JSON prelude
(status, headers, cookies), then 8 NUL bytes, then the response bytes; a failure after the body
began ends it with two trailers, the error type and the base64 error document. See "Response
streaming" in AWS's Lambda developer guide:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
and the Function URL response format:
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html

Every malformed prelude raises `WireError`, and the incremental splitter accepts or refuses a body
the same way however it is split.
"""

from __future__ import annotations

import binascii

from runtime import json_codec
from runtime.records import record
from runtime.wire.http11 import Data, WireError, field_name_problem, field_value_problem

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

PRELUDE_DELIMITER = b"\x00" * 8
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DEFAULT_BODY_CONTENT_TYPE = "application/octet-stream"
ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAMING_MODE = "streaming"

MAX_PRELUDE_BYTES = 16 * 1024
MAX_PRELUDE_DEPTH = 16  # a prelude is two levels deep; anything deeper is not one
MAX_PRELUDE_NUMBER_CHARACTERS = 32  # json.loads would otherwise build (or refuse) huge integers
MIN_STATUS, MAX_STATUS = 200, 599  # a prelude carries the final status: no 1xx


class Prelude(record("Prelude", "status_code headers cookies", defaults=(200, None, ()))):
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
    """Normalise and check handler input: lower-case names, Set-Cookie moved to cookies, default
    content type. Raises TypeError or ValueError for anything that could not go out as HTTP/1.1
    (a name that is not a token; a value with CR, LF, NUL or another control character, or one
    that is not Latin-1), so the handler's mistake is reported before anything is committed."""
    if isinstance(status_code, bool) or not isinstance(status_code, int):
        raise TypeError("status_code must be an int")
    if not MIN_STATUS <= status_code <= MAX_STATUS:
        raise ValueError(f"status_code {status_code} is outside {MIN_STATUS}-{MAX_STATUS}")
    pairs = headers.items() if hasattr(headers, "items") else (headers or ())
    merged: dict[str, str] = {}
    all_cookies = [_checked_value("set-cookie", cookie) for cookie in (cookies or ())]
    for name, value in pairs:
        problem = field_name_problem(name)
        if problem:
            raise (TypeError if not isinstance(name, str) else ValueError)(problem)
        key = name.lower()
        text = _checked_value(name, value)
        if key == "set-cookie":
            all_cookies.append(text)
        elif key in merged:
            merged[key] = f"{merged[key]},{text}"
        else:
            merged[key] = text
    merged.setdefault("content-type", DEFAULT_BODY_CONTENT_TYPE)
    return Prelude(status_code, merged, tuple(all_cookies))


def _checked_value(name: str, value: object) -> str:
    problem = field_value_problem(name, value)
    if problem:
        raise (TypeError if not isinstance(value, str) else ValueError)(problem)
    return value  # type: ignore[return-value]


def encode_prelude(prelude: Prelude) -> bytes:
    """The prelude JSON (without the delimiter). Capped and checked before anything is sent."""
    document = {
        "statusCode": prelude.status_code,
        "headers": dict(prelude.headers or {}),
        "cookies": list(prelude.cookies),
    }
    encoded = json_codec.dumps(document, separators=(",", ":")).encode("utf-8")
    if len(encoded) > MAX_PRELUDE_BYTES:
        raise ValueError(f"prelude of {len(encoded)} bytes exceeds {MAX_PRELUDE_BYTES}")
    return encoded


def decode_prelude(document: bytes) -> Prelude:
    """Parse a prelude JSON as a Function URL does; missing fields take their defaults.

    Refuses, with WireError only, what could not become a response head: too deep or too long
    JSON, huge numbers, a status outside 200-599, and header names or values that are not valid
    HTTP fields (so a runtime cannot inject a line into the client's response).
    """
    parsed = _bounded_json(document)
    if not isinstance(parsed, dict):
        raise WireError("prelude is not a JSON object")
    status = parsed.get("statusCode", 200)
    headers = parsed.get("headers") or {}
    cookies = parsed.get("cookies") or []
    if isinstance(status, bool) or not isinstance(status, int) or not MIN_STATUS <= status <= MAX_STATUS:
        raise WireError(f"prelude statusCode {str(status)[:20]!r} is not a final HTTP status")
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise WireError("prelude headers must be an object and cookies an array")
    for name, value in headers.items():
        problem = field_name_problem(name) or field_value_problem(name, value)
        if problem:
            raise WireError(f"prelude header: {problem}")
    for cookie in cookies:
        problem = field_value_problem("set-cookie", cookie)
        if problem:
            raise WireError(f"prelude cookie: {problem}")
    return Prelude(status, {k.lower(): v for k, v in headers.items()}, tuple(cookies))


def _bounded_json(document: bytes) -> object:
    if len(document) > MAX_PRELUDE_BYTES:
        raise WireError(f"prelude exceeds {MAX_PRELUDE_BYTES} bytes")
    if document.count(b"[") + document.count(b"{") > MAX_PRELUDE_DEPTH and _depth(document) > MAX_PRELUDE_DEPTH:
        raise WireError(f"prelude nests deeper than {MAX_PRELUDE_DEPTH} levels")
    try:
        return json_codec.loads(
            document, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise WireError(f"prelude is not JSON: {str(exc)[:80]}") from None


def _depth(document: bytes) -> int:
    """Greatest nesting of arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in document:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text) > MAX_PRELUDE_NUMBER_CHARACTERS:
        raise ValueError("number too long")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_PRELUDE_NUMBER_CHARACTERS:
        raise ValueError("number too long")
    return float(text)


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


class PreludeReceived(record("PreludeReceived", "prelude")):
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


def encode_error_trailers(error_type: str, error_body: bytes) -> dict[str, str]:
    """The two trailers that report a failure after the stream was committed."""
    return {
        ERROR_TYPE_TRAILER: error_type,
        ERROR_BODY_TRAILER: binascii.b2a_base64(error_body, newline=False).decode("ascii"),
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
        return error_type, binascii.a2b_base64(encoded.encode("ascii", "replace"), strict_mode=True)
    except ValueError:  # binascii.Error is a ValueError
        return error_type, encoded.encode("utf-8", "replace")
