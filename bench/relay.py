"""The transfer API's ciphertext relay: throughput and time to first byte against a direct
presigned GET of the same object from the same S3 endpoint, and the runtime's peak memory while
relaying 200 MB. The emulator runs the real bootstrap with the transfer API; moto's S3 server runs
in this benchmark's process rather than inside the emulator (as `./dev serve` has it), so that
Python's GIL in one process is not shared between serving S3 and relaying the stream: the figure
is the relay's cost, not the cost of two servers in one interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse

import requests

from bench.common import median, print_table
from bench.memory import descendants, peak_rss_mb
from runtime.emulator.embedded_s3 import embedded_s3
from runtime.emulator.pytest_plugin import start_emulator

THROUGHPUT_BYTES = 100 * 1000 * 1000
SMALL_BYTES = 1000 * 1000  # a relay's usual size: /download relays up to 6 MB and redirects above
MEMORY_BYTES = 200 * 1000 * 1000
ROUNDS = 5


def sink(url: str, *headers: str) -> tuple[int, float, float]:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    command = [sys.executable, "-m", "bench.sink", parts.hostname, str(parts.port), target, *headers]
    received, seconds, first = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return int(received), float(seconds), float(first)


def stored_transfer(api: str, size: int) -> tuple[str, str]:
    """Upload `size` random bytes through the presigned routes; returns (id, download token)."""
    created = requests.post(f"{api}/transfers", json={"size": size, "max_downloads": 1000}, timeout=60).json()
    owner = {"authorization": f"Bearer {created['owner_token']}"}
    upload = created["upload"]
    block = os.urandom(1024 * 1024)
    if upload["method"] == "single":
        urls = {1: upload}
        part_size = size
    else:
        part_size = upload["part_size"]
        numbers = [{"number": n} for n in range(1, upload["part_count"] + 1)]
        signed = requests.post(f"{api}/transfers/{created['id']}/parts", json={"parts": numbers}, headers=owner)
        urls = {part["number"]: part for part in signed.json()["parts"]}
    for number, part in sorted(urls.items()):
        length = min(part_size, size - (number - 1) * part_size)
        data = (block * (length // len(block) + 1))[:length]
        headers = {k: v for k, v in part["headers"].items() if k != "content-length"}
        requests.put(part["url"], data=data, headers=headers, timeout=300).raise_for_status()
    requests.post(f"{api}/transfers/{created['id']}/complete", headers=owner, timeout=300).raise_for_status()
    return created["id"], created["download_token"]  # issued at creation


def main() -> None:
    with embedded_s3(["bench-transfers"], "us-east-1") as s3_environment:
        s3_environment = {**s3_environment, "TRANSFER_BUCKET": "bench-transfers"}
        measure([f"--env={name}={value}" for name, value in s3_environment.items()])


def measure(s3_flags: list[str]) -> None:
    emulator = start_emulator("handlers.app.handler", "--no-s3", "--timeout", "300", *s3_flags)
    try:
        api = emulator.url.rstrip("/")
        transfer, token = stored_transfer(api, THROUGHPUT_BYTES)
        authorization = f"Authorization: Bearer {token}"
        relay_url = f"{api}/transfers/{transfer}/ciphertext"
        sink(relay_url, authorization)  # warm: environment started, boto3 imported
        direct, relayed = [], []
        for _ in range(ROUNDS):
            presigned = requests.get(
                f"{api}/transfers/{transfer}/download-url", headers={"authorization": f"Bearer {token}"}, timeout=60
            ).json()["url"]
            direct.append(sink(presigned))
            relayed.append(sink(relay_url, authorization))
        small, small_token = stored_transfer(api, SMALL_BYTES)
        small_url = f"{api}/transfers/{small}/ciphertext"
        small_direct, small_relayed = [], []
        for _ in range(ROUNDS * 3):
            presigned = requests.get(
                f"{api}/transfers/{small}/download-url", headers={"authorization": f"Bearer {small_token}"}, timeout=60
            ).json()["url"]
            small_direct.append(sink(presigned)[2] * 1000)
            small_relayed.append(sink(small_url, f"Authorization: Bearer {small_token}")[2] * 1000)
        direct_mbps = median([received / seconds for received, seconds, _ in direct]) / 1e6
        relay_mbps = median([received / seconds for received, seconds, _ in relayed]) / 1e6
        direct_ttfb = median([first for _, _, first in direct]) * 1000
        relay_ttfb = median([first for _, _, first in relayed]) * 1000
        runtime_pid = descendants(emulator.process.pid)[-1]
        idle_rss = peak_rss_mb(runtime_pid)
        big, big_token = stored_transfer(api, MEMORY_BYTES)
        received, _, _ = sink(f"{api}/transfers/{big}/ciphertext", f"Authorization: Bearer {big_token}")
        peak = max(peak_rss_mb(pid) for pid in descendants(emulator.process.pid))
    finally:
        emulator.stop()
    rows = [
        ["direct presigned GET from S3 (baseline)", f"{direct_mbps:.0f} MB/s", f"{direct_ttfb:.1f} ms", "1.00"],
        [
            "relay through the function",
            f"{relay_mbps:.0f} MB/s",
            f"{relay_ttfb:.1f} ms",
            f"{relay_mbps / direct_mbps:.2f}",
        ],
        [
            f"time to first byte, {SMALL_BYTES // 1000000} MB object: direct / relay",
            "-",
            f"{median(small_direct):.1f} / {median(small_relayed):.1f} ms",
            f"+{median(small_relayed) - median(small_direct):.1f} ms",
        ],
    ]
    print_table(
        f"Ciphertext relay, {THROUGHPUT_BYTES // 1000000} MB object (median of {ROUNDS} alternating runs)",
        ["path", "throughput", "time to first byte", "throughput vs direct"],
        rows,
    )
    print(
        f"\nRuntime RSS: {idle_rss:.1f} MB peak before, {peak:.1f} MB peak after relaying "
        f"{received / 1e6:.0f} MB (+{peak - idle_rss:.1f} MB)"
    )
