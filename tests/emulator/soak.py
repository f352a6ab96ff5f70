"""A soak of the real emulator under random faults: every request gets the outcome its fault
deserves, none hangs, every request after a fault is served, and the emulator's threads, file
descriptors and child processes do not grow.

Faults, chosen at random per request (tests/handlers/faults.py does them): exceptions before and
after the first write, a failing generator, `os._exit` before and mid-stream, sleeping past the
timeout, a non-Latin-1 header, large writes. The test suite runs a bounded soak
(tests/emulator/test_soak.py); the full one is a command, with its figures in the README:

    .venv/bin/python -m tests.emulator.soak --invocations 10000 --clients 8 --concurrency 4
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

from runtime.emulator.pytest_plugin import RunningEmulator, start_emulator

FAULTS = "tests.handlers.faults.handler"
# (action, weight, expected status, whether the body ends cleanly)
ACTIONS = (
    ("ok", 40, 200, True),
    ("large", 4, 200, True),
    ("raise_before", 8, 502, True),
    ("raise_after", 8, 200, False),
    ("generator_fails", 8, 200, False),
    ("exit_after", 10, 200, False),
    ("exit_before", 6, 502, True),
    ("sleep", 4, 200, False),
    ("bad_header", 4, 502, True),
)
CLIENT_TIMEOUT = 60.0  # far beyond the function timeout: reaching it means the request hung


def expected_body(action: str, count: int) -> bytes:
    if action == "large":
        return b"L" * 65536 * count
    if action in ("raise_before", "exit_before", "bad_header"):
        return b'{"Message":"Internal Server Error"}'
    return b"".join(f"{index:04d}".encode() + b"x" * 1000 for index in range(count))


@dataclass
class Report:
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    wrong: list[str] = field(default_factory=list)
    hung: int = 0
    throttled: int = 0  # 429s retried
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


MAX_RETRIES = 500  # a 429 (more clients than environments) is retried, as AWS's SDKs do


def one_request(
    session: requests.Session, url: str, action: str, count: int, report: Report
) -> tuple[int, bytes, bool]:
    for _ in range(MAX_RETRIES):
        got = _attempt(session, url, action, count)
        if got[0] != 429:
            return got
        with report.lock:
            report.throttled += 1
        time.sleep(random.uniform(0.005, 0.02))
    return got


def _attempt(session: requests.Session, url: str, action: str, count: int) -> tuple[int, bytes, bool]:
    return read_stream(session, f"{url}?action={action}&n={count}")


def read_stream(session: requests.Session, url: str) -> tuple[int, bytes, bool]:
    """(status, body bytes received, whether the body ended cleanly rather than being cut)."""
    with session.get(url, stream=True, timeout=CLIENT_TIMEOUT) as response:
        received = b""
        try:
            for piece in response.iter_content(chunk_size=None):
                received += piece
        except requests.exceptions.ChunkedEncodingError:
            return response.status_code, received, False
        return response.status_code, received, True


def client(url: str, requests_to_make: int, seed: int, report: Report) -> None:
    rng = random.Random(seed)
    names = [action[0] for action in ACTIONS]
    weights = [action[1] for action in ACTIONS]
    expectations = {name: (status, clean) for name, _, status, clean in ACTIONS}
    with requests.Session() as session:
        for _ in range(requests_to_make):
            action = rng.choices(names, weights)[0]
            count = rng.randint(40, 80) if action == "large" else rng.randint(1, 5)
            status, clean = expectations[action]
            try:
                got = one_request(session, url, action, count, report)
            except requests.exceptions.Timeout:
                with report.lock:
                    report.hung += 1
                continue
            except requests.exceptions.ConnectionError as exc:
                got = (-1, str(exc).encode(), False)
            with report.lock:
                report.outcomes[action] += 1
                if got != (status, expected_body(action, count), clean):
                    report.wrong.append(f"{action} n={count}: {got[0]} {len(got[1])}B clean={got[2]}")


def resources(pid: int) -> dict[str, int]:
    """The emulator process's threads, open file descriptors and child processes."""
    children = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children += 1
            except (OSError, ValueError, IndexError):
                continue
    return {
        "threads": len(os.listdir(f"/proc/{pid}/task")),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "children": children,
    }


def settled(pid: int, baseline: dict[str, int], concurrency: int, wait: float = 30.0) -> dict[str, int]:
    """The emulator's resources once it is idle again (waiting for dead environments to go)."""
    deadline = time.monotonic() + wait
    while True:
        now = resources(pid)
        quiet = now["threads"] <= baseline["threads"] and now["fds"] <= baseline["fds"]
        if (quiet and now["children"] <= concurrency) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def warm_up(url: str, concurrency: int) -> None:
    """Start every environment once, so the baseline is the emulator at its working size."""
    threads = [threading.Thread(target=requests.get, args=(f"{url}?action=ok&n=1",)) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def soak(emulator: RunningEmulator, invocations: int, clients: int, concurrency: int, seed: int) -> dict[str, object]:
    pid = emulator.process.pid
    warm_up(emulator.url, concurrency)
    baseline = settled(pid, resources(pid), concurrency)
    report = Report()
    started = time.monotonic()
    share = [invocations // clients + (1 if index < invocations % clients else 0) for index in range(clients)]
    threads = [
        threading.Thread(target=client, args=(emulator.url, share[index], seed + index, report))
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = settled(pid, baseline, concurrency)
    return {"report": report, "baseline": baseline, "after": after, "seconds": elapsed}


def start(concurrency: int, timeout: float) -> RunningEmulator:
    return start_emulator(FAULTS, "--concurrency", str(concurrency), "--timeout", str(timeout))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    emulator = start(args.concurrency, args.timeout)
    try:
        result = soak(emulator, args.invocations, args.clients, args.concurrency, args.seed)
    finally:
        emulator.stop()
    report: Report = result["report"]  # type: ignore[assignment]
    print(f"{report.total} requests in {result['seconds']:.0f} s, seed {args.seed}: {dict(report.outcomes)}")
    print(f"wrong outcome: {len(report.wrong)}; hung: {report.hung}; 429s retried: {report.throttled}")
    for line in report.wrong[:20]:
        print(f"  {line}")
    print(f"emulator before: {result['baseline']}; after: {result['after']}")
    grew = any(result["after"][key] > result["baseline"][key] for key in ("threads", "fds"))  # type: ignore[index]
    return 1 if report.wrong or report.hung or grew else 0


if __name__ == "__main__":
    sys.exit(main())
