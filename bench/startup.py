"""Time from process start to the first `/next` poll: ours vs awslambdaric, same interpreter.

Each round spawns the bootstrap against a bare listening socket and stops the clock when the
`GET .../next` request line arrives. Both bootstraps are /bin/sh scripts that exec the same
interpreter binary (sys.executable, no version-manager shim), so only the runtimes differ.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from bench.common import AWSLAMBDARIC_BOOTSTRAP, OUR_BOOTSTRAP, median, print_table, project_path

ROUNDS = 20


def time_to_first_poll(bootstrap: str) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    environ = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "_HANDLER": "bench.noop_handler.handler",
        "LAMBDA_TASK_ROOT": str(project_path()),
        "LAMBDA_RUNTIME_PYTHON": sys.executable,
        "PYTHONPATH": str(project_path()),
    }
    start = time.perf_counter()
    process = subprocess.Popen([bootstrap], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connection, _ = listener.accept()
    data = b""
    while b"\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    connection.close()
    listener.close()
    if b"/runtime/invocation/next" not in data:
        raise RuntimeError(f"{bootstrap} did not poll /next first: {data[:100]!r}")
    return elapsed * 1000


def main() -> None:
    samples: dict[str, list[float]] = {"awslambdaric": [], "ours": []}
    for _ in range(ROUNDS):  # interleaved, so drift in machine load hits both alike
        samples["awslambdaric"].append(time_to_first_poll(AWSLAMBDARIC_BOOTSTRAP))
        samples["ours"].append(time_to_first_poll(OUR_BOOTSTRAP))
    baseline = median(samples["awslambdaric"])
    ours = median(samples["ours"])
    rows = [
        ["awslambdaric 4.2.2 (baseline)", f"{baseline:.1f}", "1.00"],
        ["ours", f"{ours:.1f}", f"{ours / baseline:.2f}"],
    ]
    print_table(f"Process start to first /next poll (median of {ROUNDS})", ["runtime", "ms", "vs awslambdaric"], rows)
