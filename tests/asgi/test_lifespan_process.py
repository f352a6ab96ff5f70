"""Lifespan in a real runtime process: startup in the init phase of every process, shutdown when
the process (or the supervisor of several) gets SIGTERM."""

from __future__ import annotations

import signal

import pytest

from tests.concurrency.fake_runtime_api import FakeRuntimeAPI, start_bootstrap


@pytest.mark.parametrize("concurrency", [1, 2])
def test_lifespan_starts_before_the_first_poll_and_shuts_down_on_sigterm(tmp_path, concurrency):
    marker = tmp_path / "lifespan.txt"
    api = FakeRuntimeAPI()
    process = start_bootstrap(api, "tests.handlers.asgi_apps.marker_handler", concurrency, LIFESPAN_MARKER=str(marker))
    try:
        api.wait_for(lambda server: server.polls == concurrency, timeout=60)
        started = marker.read_text().splitlines()
        assert sorted(line.split()[0] for line in started) == ["startup"] * concurrency  # before polling
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        api.close()
    lines = marker.read_text().splitlines()
    pids = {line.split()[1] for line in lines}
    assert len(pids) == concurrency  # one lifespan per process
    assert sorted(lines) == sorted([f"startup {pid}" for pid in pids] + [f"shutdown {pid}" for pid in pids])


def test_a_fatal_runtime_api_error_shuts_the_app_down_and_logs_one_line(tmp_path):
    marker = tmp_path / "lifespan.txt"
    api = FakeRuntimeAPI()
    api.status_for["doomed"] = 500
    process = start_bootstrap(api, "tests.handlers.asgi_apps.marker_handler", 1, LIFESPAN_MARKER=str(marker))
    try:
        api.wait_for(lambda server: server.polls == 1, timeout=60)
        event = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}
        api.invoke("doomed", event)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        api.close()
    assert process.returncode == 1
    assert [line for line in stderr.splitlines() if line.strip()] == [
        line for line in stderr.splitlines() if "exiting: the Runtime API answered 500" in line
    ] and stderr.strip()
    assert [line.split()[0] for line in marker.read_text().splitlines()] == ["startup", "shutdown"]
