"""The emulator's Runtime API enforces AWS's state rules, and the bootstrap runs in every mode."""

from __future__ import annotations

import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


def test_runtime_api_statuses_for_a_misbehaving_runtime(lambda_emulator, tmp_path):
    report = tmp_path / "report.txt"
    emulator = lambda_emulator(
        "unused.handler", "--bootstrap", str(HERE / "bad_runtime_bootstrap"), "--env", f"BAD_RUNTIME_REPORT={report}"
    )
    response = requests.get(emulator.url, timeout=60)
    assert response.status_code == 200 and response.json() == "served"
    assert requests.get(emulator.url, timeout=60).status_code == 502  # its response was too large
    assert "Function.ResponseSizeTooLarge" in emulator.wait_for_log("GET / 502")
    deadline = time.monotonic() + 30
    while len(report.read_text().splitlines()) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)  # the runtime writes its last line after the client already got its 502
    statuses = dict(line.split() for line in report.read_text().splitlines())
    assert statuses == {
        "next": "200",
        "unknown-mode": "400",
        "not-current": "403",
        "ok": "202",
        "twice": "403",
        "error-after-response": "403",
        "next-again": "200",
        "too-large": "413",
    }


def test_bootstrap_as_exec_wrapper_uses_the_interpreter_it_is_given(lambda_emulator):
    emulator = lambda_emulator(
        "tests.handlers.samples.echo", "--bootstrap", str(HERE / "bootstrap_as_exec_wrapper"), "--mode", "buffered"
    )
    response = requests.get(emulator.url, timeout=60)
    assert response.status_code == 200 and response.json()["function_name"] == "local-function"


def test_max_concurrency_serves_from_slot_processes_under_a_supervisor(lambda_emulator):
    emulator = lambda_emulator(
        "tests.handlers.samples.process_identity", "--mode", "buffered", "--env", "AWS_LAMBDA_MAX_CONCURRENCY=3"
    )
    answers = [requests.get(emulator.url, timeout=60).json() for _ in range(4)]
    supervisors = {answer["ppid"] for answer in answers}
    assert len(supervisors) == 1  # every slot is a child of the one process Lambda started
    assert all(answer["pid"] != answer["ppid"] for answer in answers)
    assert "from runtime.main import main" in answers[0]["parent"][-1]  # the process the bootstrap started
