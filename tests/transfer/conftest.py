"""The transfer API two ways: running (the emulator serving the project's own template.yaml, with
the real bootstrap and its embedded S3), and in-process on moto (the real dispatcher, for fast and
generated-input tests)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from handlers import app
from runtime.emulator.config import PROJECT_ROOT
from runtime.emulator.pytest_plugin import start_emulator
from tests.clients import local_s3
from tests.transfer.inprocess import InProcessAPI, make_service

MiB = 1024 * 1024
# Settings that make multipart, relay-or-redirect and live events happen with small files, fast.
SMALL_LIMITS = (
    f"--env=TRANSFER_MULTIPART_THRESHOLD_BYTES={6 * MiB}",
    f"--env=TRANSFER_PART_SIZE_BYTES={5 * MiB}",
    f"--env=TRANSFER_RELAY_THRESHOLD_BYTES={6 * MiB}",
    "--env=TRANSFER_EVENTS_POLL_MS=200",
)


class TransferAPI:
    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.url = emulator.url.rstrip("/")
        line = emulator.wait_for_log("Embedded S3: ")
        self.s3_endpoint = line.split()[2]
        self.bucket = line.rsplit("bucket ", 1)[1].rstrip(")")  # TransferBucket, named by the template
        self.s3 = local_s3(self.s3_endpoint)


@pytest.fixture(scope="module")
def api():
    emulator = start_emulator(None, "--concurrency", "16", *SMALL_LIMITS, template=PROJECT_ROOT / "template.yaml")
    try:
        yield TransferAPI(emulator)
    finally:
        emulator.stop()


@pytest.fixture
def inprocess(monkeypatch) -> InProcessAPI:
    """The whole API in-process on moto; `inprocess.service` may be swapped (settings, hooked S3)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        api = InProcessAPI(make_service())
        monkeypatch.setattr(app, "service", lambda: api.service)
        yield api
