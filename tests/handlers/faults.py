"""One streaming handler whose query string chooses how it behaves, or fails (the fault tests)."""

from __future__ import annotations

import os
import sys
import time

from runtime import streaming

CHUNK = b"x" * 1000


def _chunks(count: int):
    for index in range(count):
        yield f"{index:04d}".encode() + CHUNK


@streaming
def handler(event, response, context):
    query = event.get("queryStringParameters") or {}
    action = query.get("action", "ok")
    count = int(query.get("n", "3"))
    if action == "raise_before":
        raise RuntimeError("failed before the first byte")
    if action == "exit_before":
        os._exit(4)
    if action == "bad_header":
        response.start(200, {"x-name": "\u20ac"})  # not Latin-1: the handler's mistake, reported at start()
    if action == "generator_fails":
        return _failing_generator(count)
    response.start(200, {"content-type": "application/octet-stream", "x-action": action})
    if action == "large":
        block = b"L" * 65536
        for _ in range(count):
            response.write(block)
        return None
    for chunk in _chunks(count):
        response.write(chunk)
    if action == "raise_after":
        raise RuntimeError("failed after writing")
    if action == "exit_after":
        sys.stdout.flush()
        os._exit(3)
    if action == "sleep":
        time.sleep(float(query.get("seconds", "30")))
        response.write(b"woke up")
    return None


def _failing_generator(count: int):
    yield from _chunks(count)
    raise ValueError("the generator failed")
