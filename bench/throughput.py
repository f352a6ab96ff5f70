"""Streaming throughput: 100 MB in 64 KiB writes through runtime + emulator, read by a separate
client process, against a raw loopback socket copy of the same bytes in the same block size to
the same client process, measured in the same run."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

from bench.common import connect, emulator, median, port_of, print_table

TOTAL = 100 * 1024 * 1024
BLOCK = 64 * 1024
ROUNDS = 5


def run_sink(port: int, target: str) -> tuple[int, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.sink", "127.0.0.1", str(port), target],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(output[0]), float(output[1])  # bytes, seconds (the third field is time to first byte)


def raw_socket_copy() -> float:
    """MB/s of a plain TCP loopback copy: the ceiling for anything that goes over sockets."""
    listener = socket.create_server(("127.0.0.1", 0))

    def send() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")  # the client checks the status
            block = b"r" * BLOCK
            for _ in range(TOTAL // BLOCK):
                connection.sendall(block)

    threading.Thread(target=send, daemon=True).start()
    received, seconds = run_sink(listener.getsockname()[1], "/")
    listener.close()
    return received / seconds / 1e6


def relayed_stream() -> float:
    with emulator("bench.handlers.bulk") as server:
        warm = connect(server)
        warm.request("GET", "/warm?bytes=1")
        warm.getresponse().read()
        warm.close()
        received, seconds = run_sink(port_of(server), f"/bulk?bytes={TOTAL}&write={BLOCK}")
    if received < TOTAL:
        raise RuntimeError(f"received {received} of {TOTAL} bytes")
    return TOTAL / seconds / 1e6


def main() -> None:
    raws, streams = [], []
    for _ in range(ROUNDS):  # alternating, so drift in machine load hits both alike
        raws.append(raw_socket_copy())
        streams.append(relayed_stream())
    raw, ours = median(raws), median(streams)
    rows = [
        ["raw loopback socket copy (baseline)", f"{raw:.0f}", "1.00"],
        ["handler -> runtime -> emulator -> client", f"{ours:.0f}", f"{ours / raw:.2f}"],
    ]
    print_table(
        f"Streaming throughput, 100 MB in 64 KiB writes (median of {ROUNDS} alternating runs)",
        ["path", "MB/s", "vs raw copy"],
        rows,
    )
