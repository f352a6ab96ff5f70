"""Time to first byte at the client after the handler's first write (same machine, same clock),
against a raw loopback socket's one-write latency measured in the same run."""

from __future__ import annotations

import socket
import time

from bench.common import connect, emulator, median, print_table

ROUNDS = 200


def raw_socket_latency() -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        sender.sendall(b"x")
        receiver.recv(1)
        samples.append((time.perf_counter_ns() - start) / 1e3)
    for sock in (sender, receiver, listener):
        sock.close()
    return median(samples)


def first_byte_latency() -> float:
    samples = []
    with emulator("bench.handlers.first_byte") as server:
        connection = connect(server)
        for _ in range(ROUNDS):
            connection.request("GET", "/")
            response = connection.getresponse()
            stamp = response.read1(64)
            arrived = time.perf_counter_ns()
            response.read()
            samples.append((arrived - int(stamp)) / 1e3)
        connection.close()
    return median(samples)


def main() -> None:
    raw = raw_socket_latency()
    ours = first_byte_latency()
    rows = [
        ["raw loopback socket, one write (baseline)", f"{raw:.0f}", "1.0"],
        ["handler write -> runtime -> emulator -> client", f"{ours:.0f}", f"{ours / raw:.1f}"],
    ]
    print_table("Time to first byte after the handler's first write (median)", ["path", "µs", "x raw"], rows)
