"""Async handlers end to end: the emulator and the real bootstrap as processes, a real HTTP client."""

from __future__ import annotations

import requests

from tests.e2e.test_streaming_e2e import read_lines_acknowledging

SAMPLES = "tests.handlers.async_samples"


def test_async_handler_awaiting_between_writes_streams_chunk_by_chunk(lambda_emulator, tmp_path):
    emulator = lambda_emulator(f"{SAMPLES}.lockstep")
    with requests.get(f"{emulator.url}?dir={tmp_path}", stream=True, timeout=30) as response:
        assert response.status_code == 200 and response.headers["set-cookie"] == "async=1"
        lines = read_lines_acknowledging(response, tmp_path)
    assert lines == [f"chunk-{index}".encode() for index in range(5)]  # never "gave up waiting"


def test_async_generator_handler_and_async_buffered_handler(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.generated")
    assert requests.get(emulator.url, timeout=30).text == "item 0\nitem 1\nitem 2\n"
    buffered = lambda_emulator(f"{SAMPLES}.buffered", "--mode", "buffered")
    assert requests.get(buffered.url, timeout=30).json()["async"] is True


def test_a_connection_opened_in_the_first_invocation_still_works_in_the_tenth(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.loop_bound", "--concurrency", "1")
    answers = [requests.get(emulator.url, timeout=30).json() for _ in range(10)]
    assert answers[9] == {"answer": "INVOCATION 10", "queued": 10, "same_loop": True}
    assert all(answer["same_loop"] for answer in answers)
    assert sum("exited" in line for line in emulator.logs) == 0  # one environment served all ten


def test_an_object_bound_to_the_loop_at_import_time_works_in_an_invocation(lambda_emulator):
    emulator = lambda_emulator("tests.handlers.import_time_loop.handler", "--mode", "buffered")
    assert requests.get(emulator.url, timeout=30).json() == "resolved on the adopted loop"
