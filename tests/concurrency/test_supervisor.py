"""AWS_LAMBDA_MAX_CONCURRENCY=N: the real bootstrap as a supervisor of N slot processes, against a
scripted Runtime API that hands out several invocations at once (the emulator gives one
environment one invocation at a time). Concurrency is proven with a barrier every invocation must
reach before any can finish, never with timing."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess

import pytest

from tests.concurrency.fake_runtime_api import FakeRuntimeAPI, children_of, start_bootstrap

HANDLERS = "tests.concurrency.slot_handlers"


@pytest.fixture
def api():
    server = FakeRuntimeAPI()
    yield server
    server.close()


@pytest.fixture
def bootstrap(api):
    started: list[subprocess.Popen] = []

    def start(handler: str, concurrency: int = 1, **extra: str) -> subprocess.Popen:
        process = start_bootstrap(api, f"{HANDLERS}.{handler}" if "." not in handler else handler, concurrency, **extra)
        started.append(process)
        return process

    yield start
    for process in started:
        for pid in children_of(process.pid):
            _kill(pid)
        _kill(process.pid)
        process.communicate()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _wait_gone(pids: set[int], timeout: float = 20.0) -> None:
    """Wait for processes that are not our children to end: a pidfd becomes readable when they do."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            readable, _, _ = select.select([fd], [], [], timeout)
            assert readable, f"process {pid} is still running"
        finally:
            os.close(fd)


def test_n_concurrent_streaming_invocations_each_with_its_own_trace_id(api, bootstrap, tmp_path):
    bootstrap("stream_at_once", concurrency=3)
    for index in range(3):
        api.invoke(f"r{index}", {"barrier": str(tmp_path), "n": 3}, **{"Lambda-Runtime-Trace-Id": f"Root=1-{index}"})
    api.wait_for(lambda server: len(server.posted) == 3)
    pids = set()
    for index in range(3):
        posted = api.posted[f"r{index}"]
        assert posted.kind == "response" and not posted.trailers
        assert posted.headers["Lambda-Runtime-Function-Response-Mode"] == "streaming"
        body = posted.body.split(b"\0" * 8, 1)[1].decode()
        first, trace, last = body.splitlines()
        pids.add(first.split()[1])
        assert trace == f"trace Root=1-{index}"  # each process has its own _X_AMZN_TRACE_ID
        assert last == "last"  # all three were in flight at once
    assert len(pids) == 3


def test_module_globals_are_per_process(api, bootstrap, tmp_path):
    process = bootstrap("identity", concurrency=3)
    for index in range(3):
        api.invoke(f"r{index}", {"barrier": str(tmp_path), "n": 3})
    api.wait_for(lambda server: len(server.posted) == 3)
    answers = [json.loads(api.posted[f"r{index}"].body) for index in range(3)]
    assert all(answer["met"] for answer in answers)
    assert {answer["count"] for answer in answers} == {1}  # a shared global would count 1, 2, 3
    assert {answer["pid"] for answer in answers} == children_of(process.pid)


def test_a_slot_that_dies_is_replaced_and_the_others_keep_serving(api, bootstrap, tmp_path):
    process = bootstrap("identity", concurrency=2)
    api.wait_for(lambda server: server.polls == 2)
    before = children_of(process.pid)
    api.invoke("crash", {"crash": True})
    api.wait_for(lambda server: server.polls == 3)  # the replacement slot is polling
    after = children_of(process.pid)
    assert len(after) == 2 and len(after - before) == 1
    for index in range(2):
        api.invoke(f"r{index}", {"barrier": str(tmp_path), "n": 2})
    api.wait_for(lambda server: {"r0", "r1"} <= set(server.posted))
    answers = [json.loads(api.posted[f"r{index}"].body) for index in range(2)]
    assert all(answer["met"] for answer in answers) and {a["pid"] for a in answers} == after
    assert process.poll() is None


def test_a_fatal_runtime_api_error_in_one_slot_ends_the_whole_runtime(api, bootstrap):
    api.status_for["doomed"] = 500
    process = bootstrap("identity", concurrency=3)
    api.wait_for(lambda server: server.polls == 3)
    slots = children_of(process.pid)
    api.invoke("doomed", {})
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert not children_of(process.pid)
    _wait_gone(slots)
    assert stderr.count("exiting:") == 1 and "Traceback" not in stderr


def test_init_error_is_reported_once_and_the_runtime_exits_1(api, bootstrap):
    process = bootstrap("tests.handlers.bad_import.handler", concurrency=3)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert len(api.init_errors) == 1 and api.polls == 0
    error = json.loads(api.init_errors[0])
    assert error["errorType"] == "Runtime.ImportModuleError" and "does_not_exist_anywhere" in error["errorMessage"]
    assert "Traceback" not in stderr
    assert stderr.count("init error Runtime.ImportModuleError") == 1


@pytest.mark.parametrize("concurrency", [1, 2])
@pytest.mark.parametrize(
    "headers",
    [
        {"Lambda-Runtime-Aws-Request-Id": None},
        {"Lambda-Runtime-Deadline-Ms": None},
        {"Lambda-Runtime-Deadline-Ms": "x"},
    ],
    ids=["no-request-id", "no-deadline", "bad-deadline"],
)
def test_a_malformed_next_answer_is_fatal_in_one_line_at_any_concurrency(api, bootstrap, concurrency, headers):
    process = bootstrap("identity", concurrency=concurrency)
    api.wait_for(lambda server: server.polls == concurrency)
    api.invoke("r1", {}, **headers)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unusable /next answer" in lines[0], stderr
    assert not api.posted


def test_sigterm_to_the_supervisor_ends_every_slot(api, bootstrap):
    process = bootstrap("identity", concurrency=2)
    api.wait_for(lambda server: server.polls == 2)
    slots = children_of(process.pid)
    assert len(slots) == 2
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 0
    _wait_gone(slots)


def test_slots_do_not_outlive_a_killed_supervisor(api, bootstrap):
    process = bootstrap("identity", concurrency=2)
    api.wait_for(lambda server: server.polls == 2)
    slots = children_of(process.pid)
    process.kill()
    process.communicate(timeout=30)
    _wait_gone(slots)
