"""Handlers the benchmarks run (no-op buffered and streaming, bulk stream, first-byte stamp)."""

from __future__ import annotations

import time

from runtime import streaming


def noop(event, context):
    return None


@streaming
def noop_stream(event, response, context):
    response.write(b"x")


@streaming
def bulk(event, response, context):
    """Stream `bytes` bytes in `write` -byte writes (defaults: 100 MB in 64 KiB writes)."""
    query = event.get("queryStringParameters") or {}
    total = int(query.get("bytes", str(100 * 1024 * 1024)))
    size = int(query.get("write", "65536"))
    block = b"b" * size
    for _ in range(total // size):
        response.write(block)
    if total % size:
        response.write(block[: total % size])


@streaming
def first_byte(event, response, context):
    """The first chunk is the handler's clock just before it writes, so the client can subtract."""
    response.start(200, {"content-type": "text/plain"})
    response.write(str(time.perf_counter_ns()).encode())
