"""Lambda Managed Instances end to end: one environment holds N invocations at once, and the
runtime serves them from N processes, each with its own `_X_AMZN_TRACE_ID`."""

from __future__ import annotations

import json
import threading

from tests.clients import local_lambda

SLOTS = 3


def invoke_stream(url: str, payload: dict, results: list, index: int) -> None:
    client = local_lambda(url)
    events = client.invoke_with_response_stream(FunctionName="f", Payload=json.dumps(payload))["EventStream"]
    results[index] = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e).decode()


def test_one_environment_serves_n_streams_at_once_from_n_processes(lambda_emulator, tmp_path):
    emulator = lambda_emulator(
        "tests.concurrency.slot_handlers.stream_at_once",
        "--max-concurrency",
        str(SLOTS),
        "--concurrency",
        "1",
        "--mode",
        "stream",
    )
    payload = {"barrier": str(tmp_path), "n": SLOTS}
    results: list = [None] * SLOTS
    threads = [
        threading.Thread(target=invoke_stream, args=(emulator.invoke_url, payload, results, i)) for i in range(SLOTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    bodies = [body.split("\x00" * 8)[-1] for body in results]  # after the prelude
    assert all(body.endswith("last\n") for body in bodies), bodies  # all three met at the barrier
    pids = {body.split("\n")[0].removeprefix("first ") for body in bodies}
    traces = {body.split("\n")[1].removeprefix("trace ") for body in bodies}
    assert len(pids) == SLOTS and len(traces) == SLOTS and all(t.startswith("Root=1-") for t in traces)
