"""A pytest fixture that runs the emulator as a real process for end-to-end tests.

Use it in your own project with `pytest_plugins = ["runtime.emulator.pytest_plugin"]` in
`conftest.py`, then:

    def test_stream(lambda_emulator):
        emulator = lambda_emulator("app.handler", task_root="src")
        body = requests.get(emulator.url + "hello").text

Each call starts `python -m runtime.emulator --port 0` with your handler, waits for its
`Function URL:` line (no sleeps), collects its log lines in `emulator.logs`, and stops it when the
test ends, also when the test failed.
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

from runtime.emulator.config import PROJECT_ROOT

READY_PREFIX = "Function URL: "
START_TIMEOUT = 30.0


class RunningEmulator:
    """A started emulator process: its URL, its log lines so far, and a way to stop it."""

    def __init__(self, process: subprocess.Popen[str], url: str, logs: list[str]) -> None:
        self.process = process
        self.url = url
        self.logs = logs

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


def start_emulator(handler: str, *args: str, task_root: str | Path = PROJECT_ROOT, env: dict[str, str] | None = None):
    """Start `python -m runtime.emulator` for `handler` on a free port; returns a RunningEmulator."""
    command = [sys.executable, "-m", "runtime.emulator", "--port", "0", "--handler", handler]
    command += ["--task-root", str(task_root), *args]
    environ = {**os.environ, **(env or {})}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ, bufsize=1
    )
    logs: list[str] = []
    ready = threading.Event()
    url: list[str] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            logs.append(line)
            if line.startswith(READY_PREFIX) and not ready.is_set():
                url.append(line[len(READY_PREFIX) :].strip())
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not url:
        process.kill()
        raise RuntimeError("the emulator did not start:\n" + "\n".join(logs))
    return RunningEmulator(process, url[0], logs)


@pytest.fixture
def lambda_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """Factory fixture: `lambda_emulator(handler, *cli_args, task_root=..., env=...)`."""
    started: list[RunningEmulator] = []

    def start(handler: str, *args: str, **kwargs: object) -> RunningEmulator:
        emulator = start_emulator(handler, *args, **kwargs)  # type: ignore[arg-type]
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
