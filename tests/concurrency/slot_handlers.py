"""Handlers the supervisor tests run in slot processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from runtime import streaming

invocations_in_this_process = 0  # a module global: per process, so per slot


def _barrier(event: dict, request_id: str) -> bool:
    """Arrive, then wait until `n` invocations have arrived: only possible if they run at once."""
    directory = Path(event["barrier"])
    (directory / request_id).touch()
    deadline = time.monotonic() + 20
    while len(list(directory.iterdir())) < event["n"]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def identity(event, context):
    global invocations_in_this_process
    invocations_in_this_process += 1
    if event.get("crash"):
        os._exit(7)
    met = _barrier(event, context.aws_request_id) if "barrier" in event else None
    return {
        "pid": os.getpid(),
        "count": invocations_in_this_process,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "met": met,
    }


@streaming
def stream_at_once(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    response.write(f"first {os.getpid()}\n")
    met = _barrier(event, context.aws_request_id)
    response.write(f"trace {os.environ.get('_X_AMZN_TRACE_ID')}\n")
    response.write("last\n" if met else "gave up\n")
