"""A pytest fixture that runs the emulator as a real process for end-to-end tests.

Use it in your own project with `pytest_plugins = ["runtime.emulator.pytest_plugin"]` in
`conftest.py`, then:

    def test_stream(lambda_emulator):
        emulator = lambda_emulator("app.handler", task_root="src")
        body = requests.get(emulator.url + "hello").text

or, for every function of a SAM template (`urls` is by logical id when the template has several
functions; with one, use `url`):

    def test_template(lambda_emulator):
        emulator = lambda_emulator(template="template.yaml")
        body = requests.get(emulator.urls["HelloFunction"]).text

Each call starts `python -m runtime.emulator --port 0` with your arguments, waits for its
`Invoke API:` ready line (no sleeps), collects its log lines in `emulator.logs`, and stops it and
every runtime process when the test ends, also when the test failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds `runtime/`
READY_PREFIX = "Invoke API: "
START_TIMEOUT = 30.0


class RunningEmulator:
    """A started emulator process: its URLs, its log lines so far, and a way to stop it."""

    def __init__(self, process: subprocess.Popen[str], logs: list[str]) -> None:
        self.process = process
        self.logs = logs
        self.urls: dict[str, str] = {}  # Function URL by logical id ("" for a single function)
        self.invoke_url = ""
        self.s3_endpoint: str | None = None
        for line in logs:
            self._read_ready_line(line)

    @property
    def url(self) -> str:
        """The Function URL (the first one when there are several)."""
        return next(iter(self.urls.values()))

    def _read_ready_line(self, line: str) -> None:
        if line.startswith("Function URL"):
            label, _, url = line.partition(": ")
            self.urls[label.removeprefix("Function URL").strip(" ()")] = url.strip()
        elif line.startswith(READY_PREFIX):
            self.invoke_url = line[len(READY_PREFIX) :].strip()
        elif line.startswith("Embedded S3: "):
            self.s3_endpoint = line.split()[2]

    def wait_for_log(self, fragment: str, timeout: float = 10.0) -> str:
        """The first log line containing `fragment`, waiting for it to be written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.logs):
                if fragment in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line with {fragment!r} in {timeout}s; got:\n" + "\n".join(self.logs))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(
    handler: str | None = None,
    *args: str,
    task_root: str | Path | None = None,
    template: str | Path | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> RunningEmulator:
    """Start `python -m runtime.emulator` on free ports; returns a RunningEmulator once it is ready."""
    command = [sys.executable, "-m", "runtime.emulator", "--port", "0"]
    if handler is not None:
        command += ["--handler", handler, "--task-root", str(task_root or Path.cwd())]
    if template is not None:
        command += ["--template", str(template)]
    command += list(args)
    environ = {**os.environ, **(env or {})}
    if "site-packages" not in PACKAGE_ROOT.parts:  # running from a checkout, not an installed package
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ, bufsize=1, cwd=cwd
    )
    logs: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            logs.append(line.rstrip("\n"))
            if line.startswith(READY_PREFIX):
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not any(line.startswith(READY_PREFIX) for line in logs):
        process.kill()
        raise RuntimeError("the emulator did not start:\n" + "\n".join(logs))
    return RunningEmulator(process, logs)


@pytest.fixture
def lambda_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """Factory fixture: `lambda_emulator(handler, *cli_args, task_root=..., template=..., env=...)`."""
    started: list[RunningEmulator] = []

    def start(handler: str | None = None, *args: str, **kwargs: object) -> RunningEmulator:
        emulator = start_emulator(handler, *args, **kwargs)  # type: ignore[arg-type]
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
