"""Peak memory of the emulator and of the runtime while relaying 10 MB and 100 MB streams.

If either buffered the body, its peak would grow by about 90 MB between the two rows.
Reads VmHWM (peak resident set) from /proc for the emulator process and its bootstrap child.
"""

from __future__ import annotations

import http.client
from pathlib import Path

from bench.common import print_table
from runtime.emulator.pytest_plugin import start_emulator

SIZES_MB = (10, 100)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def descendants(pid: int) -> list[int]:
    result = []
    for child in children(pid):
        result.append(child)
        result.extend(descendants(child))
    return result


def relay(size_mb: int) -> tuple[float, float]:
    emulator = start_emulator("bench.handlers.bulk")
    try:
        host, port = emulator.url.removeprefix("http://").rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        connection.request("GET", f"/?bytes={size_mb * 1024 * 1024}")
        response = connection.getresponse()
        while response.read1(1024 * 1024):
            pass
        runtime_peak = max(peak_rss_mb(pid) for pid in descendants(emulator.process.pid))
        emulator_peak = peak_rss_mb(emulator.process.pid)
        connection.close()
        return emulator_peak, runtime_peak
    finally:
        emulator.stop()


def main() -> None:
    rows = []
    for size in SIZES_MB:
        emulator_peak, runtime_peak = relay(size)
        rows.append([f"{size} MB", f"{emulator_peak:.1f}", f"{runtime_peak:.1f}"])
    print_table(
        "Peak RSS while relaying a stream", ["stream size", "emulator peak MB", "runtime process peak MB"], rows
    )
