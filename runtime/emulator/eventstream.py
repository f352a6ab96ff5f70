"""Encoding `application/vnd.amazon.eventstream` messages for InvokeWithResponseStream.

Message layout: total length, headers length, prelude CRC32, headers, payload, message CRC32,
all integers big-endian. Only string headers (type 7) are needed here. Decoded in the tests with
botocore's own parser, so the framing is checked against the client users actually run.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

STRING_HEADER_TYPE = 7


def encode_headers(headers: Mapping[str, str]) -> bytes:
    parts = []
    for name, value in headers.items():
        name_bytes, value_bytes = name.encode("utf-8"), value.encode("utf-8")
        parts.append(struct.pack(">B", len(name_bytes)) + name_bytes)
        parts.append(struct.pack(">BH", STRING_HEADER_TYPE, len(value_bytes)) + value_bytes)
    return b"".join(parts)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    header_bytes = encode_headers(headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack(">I", zlib.crc32(message))


def payload_chunk(data: bytes) -> bytes:
    headers = {":event-type": "PayloadChunk", ":content-type": "application/octet-stream", ":message-type": "event"}
    return encode_message(headers, data)


def invoke_complete(error_code: str | None = None, error_details: str | None = None) -> bytes:
    document: dict[str, str] = {}
    if error_code:
        document["ErrorCode"] = error_code
    if error_details:
        document["ErrorDetails"] = error_details
    headers = {":event-type": "InvokeComplete", ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(document).encode("utf-8"))
