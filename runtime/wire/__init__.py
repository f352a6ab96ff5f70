"""The wire formats the runtime and the emulator share, as pure functions: bytes in, values out.

Three modules, re-exported here so callers write `wire.X`:
- `runtime.wire.http11`: HTTP/1.1 framing (field checks, request and response heads, body
  framing, chunk encoding with trailers);
- `runtime.wire.decoders`: incremental decoders (a chunked body; the requests of a connection);
- `runtime.wire.lambda_stream`: Lambda's streaming response format (the Function URL prelude and
  its delimiter, the error trailers).
Nothing here touches a socket: decoders return "nothing yet" as an empty list instead of
blocking, so the runtime client, the emulator and the test peers can never disagree about the
format. Every malformed input raises `WireError`.
"""

import sys

from runtime.wire.http11 import (
    CHUNKED,
    CRLF,
    HEAD_END,
    LENGTH,
    MAX_CHUNK_SIZE_DIGITS,
    MAX_CHUNK_SIZE_LINE,
    MAX_FIELDS,
    MAX_HEAD_BYTES,
    MAX_TRAILER_BLOCK_BYTES,
    NO_BODY,
    UNTIL_CLOSE,
    BodyFraming,
    Data,
    EndOfBody,
    FieldsTooLarge,
    RequestHead,
    ResponseHead,
    UnsupportedTransferCoding,
    UnsupportedVersion,
    WireError,
    check_field,
    chunk_size_line,
    encode_chunk,
    encode_last_chunk,
    encode_request_head,
    encode_response_head,
    field_name_problem,
    field_value_problem,
    join_fields,
    parse_header_block,
    parse_request_head,
    parse_response_head,
    request_body_framing,
    response_body_framing,
    status_has_body,
)
from runtime.wire.lambda_stream import (
    DEFAULT_BODY_CONTENT_TYPE,
    ERROR_BODY_TRAILER,
    ERROR_TYPE_TRAILER,
    HTTP_INTEGRATION_CONTENT_TYPE,
    MAX_PRELUDE_BYTES,
    PRELUDE_DELIMITER,
    RESPONSE_MODE_HEADER,
    STREAMING_MODE,
    Prelude,
    PreludeReceived,
    PreludeSplitter,
    build_prelude,
    decode_error_trailers,
    decode_prelude,
    encode_error_trailers,
    encode_prelude,
)

# The incremental decoders load on first use (PEP 562): a runtime talking to Lambda's Runtime API
# never needs them, and every module on the start-up path costs cold-start time.
_LAZY = {name: "runtime.wire.decoders" for name in ("ChunkedDecoder", "RequestParser", "RequestStarted")}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'runtime.wire' has no attribute {name!r}")
    __import__(module_name)
    value = getattr(sys.modules[module_name], name)
    globals()[name] = value
    return value


__all__ = [
    "CHUNKED",
    "CRLF",
    "DEFAULT_BODY_CONTENT_TYPE",
    "ERROR_BODY_TRAILER",
    "ERROR_TYPE_TRAILER",
    "HEAD_END",
    "HTTP_INTEGRATION_CONTENT_TYPE",
    "LENGTH",
    "MAX_CHUNK_SIZE_DIGITS",
    "MAX_CHUNK_SIZE_LINE",
    "MAX_FIELDS",
    "MAX_HEAD_BYTES",
    "MAX_PRELUDE_BYTES",
    "MAX_TRAILER_BLOCK_BYTES",
    "NO_BODY",
    "PRELUDE_DELIMITER",
    "RESPONSE_MODE_HEADER",
    "STREAMING_MODE",
    "UNTIL_CLOSE",
    "BodyFraming",
    "ChunkedDecoder",
    "Data",
    "EndOfBody",
    "FieldsTooLarge",
    "Prelude",
    "PreludeReceived",
    "PreludeSplitter",
    "RequestHead",
    "RequestParser",
    "RequestStarted",
    "ResponseHead",
    "UnsupportedTransferCoding",
    "UnsupportedVersion",
    "WireError",
    "build_prelude",
    "check_field",
    "chunk_size_line",
    "decode_error_trailers",
    "decode_prelude",
    "encode_chunk",
    "encode_error_trailers",
    "encode_last_chunk",
    "encode_prelude",
    "encode_request_head",
    "encode_response_head",
    "field_name_problem",
    "field_value_problem",
    "join_fields",
    "parse_header_block",
    "parse_request_head",
    "parse_response_head",
    "request_body_framing",
    "response_body_framing",
    "status_has_body",
]
