"""Handlers the end-to-end tests run under the emulator through the real bootstrap."""

from __future__ import annotations

import json
import logging  # imported at module level, as a real handler does
import os
import sys
import time

from runtime import streaming


def echo(event, context):
    """Buffered: return what a test needs to check the event and the context."""
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def raises(event, context):
    raise ValueError("buffered failure")


@streaming
def chunks(event, response, context):
    """Five chunks, each after the test says so (or after a delay), with status, headers and cookies."""
    query = event.get("queryStringParameters") or {}
    count = int(query.get("n", "5"))
    delay = float(query.get("delay", "0"))
    response.start(201, {"content-type": "text/plain", "x-demo": "yes"}, ["a=1", "b=2; Path=/"])
    for index in range(count):
        response.write(f"chunk-{index}\n")
        time.sleep(delay)


@streaming
def fail_after_three(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    for index in range(3):
        response.write(f"part-{index}\n")
    raise RuntimeError("failed mid-stream")


@streaming
def fail_before_write(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    raise RuntimeError("failed before the first byte")


@streaming
def size(event, response, context):
    """Stream `bytes` bytes in 64 KiB writes."""
    total = int((event.get("queryStringParameters") or {}).get("bytes", "0"))
    block = b"x" * 65536
    while total > 0:
        response.write(block[: min(total, len(block))])
        total -= len(block)


@streaming
def sleeper(event, response, context):
    response.write("before sleep\n")
    time.sleep(float((event.get("queryStringParameters") or {}).get("seconds", "60")))
    response.write("after sleep\n")


@streaming
def crash(event, response, context):
    response.write("about to crash\n")
    sys.stdout.flush()
    os._exit(3)


@streaming
def empty(event, response, context):
    response.start(204)


@streaming
def generator(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    return (f"line {i}\n" for i in range(3))


@streaming
def event_json(event, response, context):
    response.start(200, {"content-type": "application/json"})
    response.write(json.dumps(event))


def returns_statuscode(event, context):
    return {"statusCode": 302, "headers": {"location": "/elsewhere"}, "cookies": ["c=3"], "body": ""}


@streaming
def lockstep(event, response, context):
    """Write chunk i, then wait until the test acknowledges it by creating `<dir>/ack-i`.

    If anything between the handler and the client buffered a chunk, the test would never see it,
    never acknowledge it, and this handler would give up: arrival order is proven without timing.
    """
    query = event.get("queryStringParameters") or {}
    directory = query["dir"]
    response.start(201, {"content-type": "text/plain", "x-demo": "yes"}, ["a=1", "b=2; Path=/"])
    for index in range(int(query.get("n", "5"))):
        response.write(f"chunk-{index}\n")
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(directory, f"ack-{index}")):
            if time.monotonic() > deadline:
                response.write("gave up waiting\n")
                return
            time.sleep(0.005)


def json_logs(event, context):
    logging.getLogger("app").info("hello from the handler")
    print("plain print")
    return "ok"


def process_identity(event, context):
    """Which process served this invocation, and its parent's command line."""
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as cmdline:
        parent = cmdline.read().split(b"\0")
    return {"pid": os.getpid(), "ppid": os.getppid(), "parent": [part.decode() for part in parent if part]}


@streaming
def many_small_writes(event, response, context):
    """Token-by-token streaming: tens of thousands of one-byte chunks, as fast as they come."""
    count = int((event.get("queryStringParameters") or {}).get("n", "50000"))
    response.start(200, {"content-type": "text/plain"})
    for index in range(count):
        response.write(b"abcdefghij"[index % 10 : index % 10 + 1])


@streaming
def pause_between_writes(event, response, context):
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "1"))
    response.write("before\n")
    time.sleep(seconds)
    response.write("after\n")
