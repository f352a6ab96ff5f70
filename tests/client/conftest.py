"""A running transfer API for the client's tests: the emulator, the real bootstrap, the embedded S3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.emulator.pytest_plugin import start_emulator
from tests.clients import local_s3
from tests.transfer.conftest import SMALL_LIMITS

MiB = 1024 * 1024
BUCKET = "client-tests"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RunningApi:
    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.url = emulator.url.rstrip("/")
        line = emulator.wait_for_log("Embedded S3: ")
        self.s3_endpoint = line.split()[2]
        self.s3 = local_s3(self.s3_endpoint)

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket, by key."""
        listing = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}

    def ciphertext_key(self, transfer_id: str) -> str:
        return f"transfers/{transfer_id}/ciphertext"


def start_api(*extra: str) -> RunningApi:
    emulator = start_emulator(
        "handlers.app.handler",
        "--s3",
        "--bucket",
        BUCKET,
        "--env",
        f"TRANSFER_BUCKET={BUCKET}",  # the emulator no longer sets it for the function
        "--concurrency",
        "8",
        *SMALL_LIMITS,
        *extra,
    )
    return RunningApi(emulator)


@pytest.fixture(scope="module")
def api():
    running = start_api()
    try:
        yield running
    finally:
        running.emulator.stop()


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m client ...` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "client", *args],
        capture_output=True,
        text=True,
        cwd=cwd or PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
        timeout=600,
    )
