"""The same FastAPI app (bench/fastapi_app.py) on this runtime vs on Mangum under AWS's awslambdaric.

Both run under the same in-process emulator, each as its users would deploy it: ours behind a
RESPONSE_STREAM Function URL, Mangum behind a BUFFERED one (Mangum returns the whole response as
one `{statusCode, headers, body}` document). Three figures, each side measured in the same run
with rounds interleaved so load drift on this machine hits both alike:

- cold start: a fresh emulator, then the time from sending `GET /json` to its last byte (process
  start, imports, init, first invocation);
- warm invocations per second of `GET /json` over one keep-alive connection;
- time to first byte of `GET /stream` (five chunks the app sends 50 ms apart), from the request,
  and from the moment the app sent its first chunk (stamped in it; same clock).
"""

from __future__ import annotations

import time

from bench.common import AWSLAMBDARIC_BOOTSTRAP, OUR_BOOTSTRAP, connect, emulator, median, print_table
from bench.fastapi_app import STREAM_CHUNKS, STREAM_DELAY

SIDES = {
    "ours": {"handler": "bench.fastapi_ours.handler", "bootstrap": OUR_BOOTSTRAP, "mode": "stream"},
    "mangum": {"handler": "bench.fastapi_mangum.handler", "bootstrap": AWSLAMBDARIC_BOOTSTRAP, "mode": "buffered"},
}
COLD_ROUNDS = 10
WARM_ROUNDS = 5
WARM_DURATION = 2.0
WARMUP = 50
TTFB_ROUNDS = 20


def get(connection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    return body


def cold_start(side: str) -> float:
    with emulator(**SIDES[side]) as server:
        connection = connect(server)
        start = time.perf_counter()
        get(connection, "/json")
        elapsed = time.perf_counter() - start
        connection.close()
    return elapsed * 1000


def warm_rate(side: str) -> float:
    with emulator(**SIDES[side]) as server:
        connection = connect(server)
        for _ in range(WARMUP):
            get(connection, "/json")
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < WARM_DURATION:
            get(connection, "/json")
            count += 1
        elapsed = time.perf_counter() - start
        connection.close()
    return count / elapsed


def first_bytes(side: str) -> tuple[list[float], list[float]]:
    """(ms from request to first body byte, ms from the app's first send to that byte) per round."""
    from_request, from_send = [], []
    with emulator(**SIDES[side]) as server:
        connection = connect(server)
        get(connection, "/stream")  # warm the environment: cold start is measured separately
        for _ in range(TTFB_ROUNDS):
            start = time.perf_counter_ns()
            connection.request("GET", "/stream")
            response = connection.getresponse()
            first = response.read1(65536)
            arrived = time.perf_counter_ns()
            rest = response.read()
            stamp = int((first + rest).split(b"\n", 1)[0])
            from_request.append((arrived - start) / 1e6)
            from_send.append((arrived - stamp) / 1e6)
        connection.close()
    return from_request, from_send


def main() -> None:
    cold: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(COLD_ROUNDS):
        for side in SIDES:
            cold[side].append(cold_start(side))
    warm: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(WARM_ROUNDS):
        for side in SIDES:
            warm[side].append(warm_rate(side))
    ttfb = {side: first_bytes(side) for side in SIDES}

    def ratio(ours: float, theirs: float) -> str:
        return f"{ours / theirs:.2f}"

    cold_ours, cold_mangum = median(cold["ours"]), median(cold["mangum"])
    warm_ours, warm_mangum = median(warm["ours"]), median(warm["mangum"])
    request_ours, request_mangum = median(ttfb["ours"][0]), median(ttfb["mangum"][0])
    send_ours, send_mangum = median(ttfb["ours"][1]), median(ttfb["mangum"][1])
    stream_time = (STREAM_CHUNKS - 1) * STREAM_DELAY * 1000
    cold_label = f"cold start to first response, ms (median of {COLD_ROUNDS})"
    warm_label = f"warm GET /json per second (median of {WARM_ROUNDS})"
    request_label = f"GET /stream: first byte after the request, ms (median of {TTFB_ROUNDS})"
    send_label = "GET /stream: first byte after the app's first send, ms"
    rows = [
        [cold_label, f"{cold_mangum:.0f}", f"{cold_ours:.0f}", ratio(cold_ours, cold_mangum)],
        [warm_label, f"{warm_mangum:.0f}", f"{warm_ours:.0f}", ratio(warm_ours, warm_mangum)],
        [request_label, f"{request_mangum:.1f}", f"{request_ours:.1f}", ratio(request_ours, request_mangum)],
        [send_label, f"{send_mangum:.1f}", f"{send_ours:.2f}", ratio(send_ours, send_mangum)],
    ]
    title = (
        "FastAPI: this runtime (RESPONSE_STREAM) vs Mangum 0.22 on awslambdaric 4.2.2 (BUFFERED); "
        f"the stream route spends {stream_time:.0f} ms between its first and last chunk"
    )
    print_table(title, ["measure", "Mangum (baseline)", "ours", "ours / Mangum"], rows)
