"""Streaming throughput: 100 MB in 64 KiB writes through runtime + emulator + client, against a
raw loopback socket copy of the same bytes in the same block size, measured in the same run."""

from __future__ import annotations

import socket
import threading
import time

from bench.common import connect, emulator, print_table

TOTAL = 100 * 1024 * 1024
BLOCK = 64 * 1024


def raw_socket_copy() -> float:
    """MB/s of a plain TCP loopback copy: the ceiling for anything that goes over sockets."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sender:
            block = b"r" * BLOCK
            for _ in range(TOTAL // BLOCK):
                sender.sendall(block)

    start = time.perf_counter()
    threading.Thread(target=send, daemon=True).start()
    receiver, _ = listener.accept()
    received = 0
    with receiver:
        while received < TOTAL:
            data = receiver.recv(1024 * 1024)
            if not data:
                break
            received += len(data)
    listener.close()
    return received / (time.perf_counter() - start) / 1e6


def relayed_stream() -> tuple[float, int]:
    with emulator("bench.handlers.bulk") as server:
        connection = connect(server)
        connection.request("GET", "/warm?bytes=1")
        connection.getresponse().read()
        start = time.perf_counter()
        connection.request("GET", f"/bulk?bytes={TOTAL}&write={BLOCK}")
        response = connection.getresponse()
        received = 0
        while data := response.read1(1024 * 1024):
            received += len(data)
        elapsed = time.perf_counter() - start
        connection.close()
    if received != TOTAL:
        raise RuntimeError(f"received {received} of {TOTAL} bytes")
    return received / elapsed / 1e6, received


def main() -> None:
    raw = raw_socket_copy()
    ours, _ = relayed_stream()
    rows = [
        ["raw loopback socket copy (baseline)", f"{raw:.0f}", "1.00"],
        ["runtime -> emulator -> HTTP client", f"{ours:.0f}", f"{ours / raw:.2f}"],
    ]
    print_table("Streaming throughput, 100 MB in 64 KiB writes", ["path", "MB/s", "vs raw copy"], rows)
