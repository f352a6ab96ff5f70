"""Warm invocations per second of a no-op handler: ours (buffered, streaming) vs awslambdaric.

All three run under the same in-process emulator, called through its Invoke API over one
keep-alive connection, so the emulator's own cost is the same for each and cancels in the ratio.
"""

from __future__ import annotations

import time

from bench.common import AWSLAMBDARIC_BOOTSTRAP, connect, emulator, invoke, print_table

DURATION = 3.0
WARMUP = 50


def invocations_per_second(handler: str, bootstrap: str | None = None) -> float:
    kwargs = {"bootstrap": bootstrap} if bootstrap else {}
    with emulator(handler, **kwargs) as server:
        connection = connect(server)
        for _ in range(WARMUP):
            invoke(connection)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < DURATION:
            invoke(connection)
            count += 1
        elapsed = time.perf_counter() - start
        connection.close()
    return count / elapsed


def main() -> None:
    baseline = invocations_per_second("bench.handlers.noop", AWSLAMBDARIC_BOOTSTRAP)
    ours_buffered = invocations_per_second("bench.handlers.noop")
    ours_streaming = invocations_per_second("bench.handlers.noop_stream")
    rows = [
        ["awslambdaric 4.2.2, buffered (baseline)", f"{baseline:.0f}", "1.00"],
        ["ours, buffered", f"{ours_buffered:.0f}", f"{ours_buffered / baseline:.2f}"],
        ["ours, streaming", f"{ours_streaming:.0f}", f"{ours_streaming / baseline:.2f}"],
    ]
    print_table("Warm invocations per second (no-op handler)", ["runtime", "invocations/s", "vs awslambdaric"], rows)
