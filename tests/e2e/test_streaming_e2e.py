"""End to end: the emulator and the real bootstrap as processes, read with a real HTTP client."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
import requests

SAMPLES = "tests.handlers.samples"


def read_lines_acknowledging(response: requests.Response, ack_dir: Path) -> list[bytes]:
    """Read the body line by line, acknowledging each line so the handler writes the next."""
    lines = []
    for index, line in enumerate(response.iter_lines(chunk_size=1)):
        lines.append(line)
        (ack_dir / f"ack-{index}").touch()
    return lines


def test_chunks_arrive_one_by_one_with_status_headers_and_cookies(lambda_emulator, tmp_path):
    emulator = lambda_emulator(f"{SAMPLES}.lockstep")
    with requests.get(f"{emulator.url}stream?dir={tmp_path}", stream=True, timeout=30) as response:
        assert response.status_code == 201
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["x-demo"] == "yes"
        assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2; Path=/"]
        lines = read_lines_acknowledging(response, tmp_path)
    assert lines == [f"chunk-{i}".encode() for i in range(5)]


def test_failure_after_three_chunks_cuts_the_stream_and_next_invocation_works(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.fail_after_three")
    received = b""
    with requests.get(emulator.url, stream=True, timeout=30) as response:
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in response.iter_content(chunk_size=None):
                received += piece
    assert received == b"part-0\npart-1\npart-2\n"
    line = emulator.wait_for_log("stream cut: RuntimeError")
    assert "failed mid-stream" in line
    with requests.get(emulator.url, stream=True, timeout=30) as again:
        assert again.status_code == 200  # served normally by the same runtime process
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            again.content  # noqa: B018
    assert sum("exited" in line for line in emulator.logs) == 0


def test_failure_before_first_write_is_a_502(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.fail_before_write")
    response = requests.get(emulator.url, timeout=30)
    assert response.status_code == 502
    assert "stackTrace" not in response.text
    emulator.wait_for_log("502")


def test_bad_handler_reports_one_init_error_and_exits(lambda_emulator):
    emulator = lambda_emulator("tests.handlers.bad_import.handler")
    response = requests.get(emulator.url, timeout=30)
    assert response.status_code == 502
    line = emulator.wait_for_log("init error in environment")
    assert "Runtime.ImportModuleError" in line and "does_not_exist_anywhere" in line
    assert sum("init error in environment" in line for line in emulator.logs) == 1
    assert sum("Traceback" in line for line in emulator.logs) == 0


def test_missing_function_is_handler_not_found(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.no_such_function")
    assert requests.get(emulator.url, timeout=30).status_code == 502
    assert "Runtime.HandlerNotFound" in emulator.wait_for_log("init error")


def test_timeout_cuts_the_stream_and_a_fresh_environment_serves_next(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.sleeper", "--timeout", "1")
    with requests.get(f"{emulator.url}?seconds=30", stream=True, timeout=30) as response:
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            response.content  # noqa: B018
    assert "Sandbox.Timedout" in emulator.wait_for_log("stream cut")
    with requests.get(f"{emulator.url}?seconds=0", stream=True, timeout=30) as response:
        assert response.content == b"before sleep\nafter sleep\n"


def test_crashed_bootstrap_is_replaced(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.crash")
    for _ in range(2):
        with (
            requests.get(emulator.url, stream=True, timeout=30) as response,
            pytest.raises(requests.exceptions.ChunkedEncodingError),
        ):
            response.content  # noqa: B018
    emulator.wait_for_log("exited with status 3")


def test_request_body_over_6mb_gets_413(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.event_json")
    response = requests.post(emulator.url, data=b"x" * (7 * 1024 * 1024), timeout=30)
    assert response.status_code == 413
    assert "smaller than" in response.json()["Message"]


def test_binary_body_near_limit_is_413_after_base64_inflation(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.event_json")
    body = b"\xff" * (5 * 1024 * 1024)  # 5 MiB binary becomes ~6.7 MiB of base64 in the event
    response = requests.post(emulator.url, data=body, headers={"content-type": "application/octet-stream"}, timeout=30)
    assert response.status_code == 413


@pytest.mark.slow
def test_201mb_stream_is_cut_at_200mb(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.size")
    received = 0
    url = f"{emulator.url}?bytes={201 * 1024 * 1024}"
    with (
        requests.get(url, stream=True, timeout=120) as response,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        for piece in response.iter_content(chunk_size=1024 * 1024):
            received += len(piece)
    assert received == 200 * 1024 * 1024
    assert "Function.ResponseSizeTooLarge" in emulator.wait_for_log("stream cut")


def test_empty_204_ends_cleanly(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.empty")
    response = requests.get(emulator.url, timeout=30)
    assert response.status_code == 204 and response.content == b""


def test_generator_handler_streams_its_items(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.generator")
    assert requests.get(emulator.url, timeout=30).text == "line 0\nline 1\nline 2\n"


def test_event_mapping_through_the_front_door(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.event_json")
    host, port = emulator.url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("GET", "/a/b?x=1&x=2")
    for name, value in [("Cookie", "p=1; q=2"), ("X-H", "a"), ("X-H", "a")]:
        connection.putheader(name, value)
    connection.endheaders()
    event = json.loads(connection.getresponse().read())
    connection.close()
    assert event["rawPath"] == "/a/b" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["cookies"] == ["p=1", "q=2"] and event["headers"]["cookie"] == "p=1; q=2"
    assert event["headers"]["x-h"] == "a,a"
    assert "body" not in event and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    binary = requests.post(emulator.url, data=b"\x00\x01", headers={"content-type": "image/png"}, timeout=30).json()
    assert binary["isBase64Encoded"] is True and binary["body"] == "AAE="


def test_buffered_handler_under_stream_mode_passes_json_as_is(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.returns_statuscode")
    response = requests.get(emulator.url, allow_redirects=False, timeout=30)
    assert response.status_code == 200
    assert response.json()["statusCode"] == 302


def test_buffered_mode_interprets_the_return_value(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.returns_statuscode", "--mode", "buffered")
    response = requests.get(emulator.url, allow_redirects=False, timeout=30)
    assert response.status_code == 302 and response.headers["location"] == "/elsewhere"
    assert response.headers["set-cookie"] == "c=3"


def test_buffered_mode_bare_json_is_200_application_json(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.json_logs", "--mode", "buffered")
    response = requests.get(emulator.url, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.content == b'"ok"'


def test_context_and_trace_reach_a_buffered_handler(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.echo", "--timeout", "5")
    body = requests.get(emulator.url, timeout=30).json()
    assert 0 < body["remaining_ms"] <= 5000
    assert body["function_name"] == "local-function" and body["memory"] == "1024"
    assert body["trace"].startswith("Root=1-")


def test_concurrency_limit_gives_429(lambda_emulator, tmp_path):
    emulator = lambda_emulator(f"{SAMPLES}.lockstep", "--concurrency", "1")
    with requests.get(f"{emulator.url}?dir={tmp_path}&n=1", stream=True, timeout=30) as busy:
        next(busy.iter_lines())  # the only environment is now mid-invocation
        second = requests.get(f"{emulator.url}?dir={tmp_path}&n=1", timeout=30)
        assert second.status_code == 429
        (tmp_path / "ack-0").touch()


def test_json_log_format(lambda_emulator):
    emulator = lambda_emulator(
        f"{SAMPLES}.json_logs", "--env", "AWS_LAMBDA_LOG_FORMAT=JSON", "--env", "AWS_LAMBDA_LOG_LEVEL=INFO"
    )
    requests.get(emulator.url, timeout=30)
    line = emulator.wait_for_log("hello from the handler")
    record = json.loads(line)
    assert record["level"] == "INFO" and record["requestId"] and record["timestamp"].endswith("Z")
    emulator.wait_for_log("plain print")


def test_tens_of_thousands_of_one_byte_chunks_all_arrive(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.many_small_writes")
    for _ in range(3):
        response = requests.get(f"{emulator.url}?n=50000", timeout=60)
        assert response.status_code == 200 and response.content == b"abcdefghij" * 5000
    assert not [line for line in emulator.logs if "disconnected" in line or "cut" in line]


def test_a_runtime_may_stay_silent_mid_stream_for_as_long_as_its_function_may_run():
    from runtime.emulator import Emulator, EmulatorConfig, FunctionConfig

    function = FunctionConfig(name="f", handler=f"{SAMPLES}.echo", code_dir=".", timeout=900)
    pool = Emulator(EmulatorConfig(functions=(function,)))._pool(function, {})
    assert pool.settings.connection_limits.body_timeout is None  # the invocation's deadline bounds it
