"""Warm invocations per second of a no-op handler: ours (buffered, streaming) vs awslambdaric.

All three run under the same in-process emulator, called through its Invoke API over one
keep-alive connection, so the emulator's own cost is the same for each and cancels in the ratio.
"""

from __future__ import annotations

import time

from bench.common import AWSLAMBDARIC_BOOTSTRAP, connect, emulator, invoke, median, print_table

DURATION = 2.0
ROUNDS = 5
WARMUP = 50
CASES = {
    "awslambdaric": ("bench.handlers.noop", AWSLAMBDARIC_BOOTSTRAP),
    "buffered": ("bench.handlers.noop", None),
    "streaming": ("bench.handlers.noop_stream", None),
}


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
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(ROUNDS):  # interleaved rounds: load drift on this 2-core machine hits all alike
        for name, (handler, bootstrap) in CASES.items():
            samples[name].append(invocations_per_second(handler, bootstrap))
    baseline, ours_buffered, ours_streaming = (median(samples[name]) for name in CASES)
    rows = [
        ["awslambdaric 4.2.2, buffered (baseline)", f"{baseline:.0f}", "1.00"],
        ["ours, buffered", f"{ours_buffered:.0f}", f"{ours_buffered / baseline:.2f}"],
        ["ours, streaming", f"{ours_streaming:.0f}", f"{ours_streaming / baseline:.2f}"],
    ]
    title = f"Warm invocations per second (no-op handler, median of {ROUNDS} rounds)"
    print_table(title, ["runtime", "invocations/s", "vs awslambdaric"], rows)
