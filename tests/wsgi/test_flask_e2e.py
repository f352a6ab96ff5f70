"""Flask behind `wsgi_handler`, end to end: the emulator and the real bootstrap as processes, read
by a real HTTP client. The streamed route runs in lockstep with the reader."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.test_streaming_e2e import read_lines_acknowledging

APPS = "tests.handlers.wsgi_apps"


@pytest.fixture(scope="module")
def flask_url():
    from runtime.emulator.pytest_plugin import start_emulator

    emulator = start_emulator(f"{APPS}.flask_handler", "--timeout", "60")
    yield emulator.url
    emulator.stop()


def test_flask_streamed_response_arrives_line_by_line_with_headers_and_cookies(flask_url, tmp_path):
    with requests.get(f"{flask_url}stream?dir={tmp_path}", stream=True, timeout=30) as response:
        assert response.status_code == 200 and response.headers["x-app"] == "flask"
        assert response.headers["content-type"].startswith("text/plain")
        assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
        lines = read_lines_acknowledging(response, tmp_path)
    assert lines == [f"line-{index} /stream".encode() for index in range(5)]


def test_flask_request_body_query_and_cookies(flask_url):
    payload = bytes(range(256))
    echoed = requests.post(f"{flask_url}echo", data=payload, headers={"content-type": "image/png"}, timeout=30)
    assert echoed.content == payload[::-1]
    info = requests.get(f"{flask_url}info/caf%C3%A9?q=1&q=2", cookies={"p": "1"}, timeout=30).json()
    assert info["name"] == "café" and info["q"] == ["1", "2"] and info["cookies"] == {"p": "1"}
    assert info["remote"] == "127.0.0.1"


def test_flask_errors_empty_bodies_and_a_generator_failing_mid_stream(flask_url):
    boom = requests.get(f"{flask_url}boom", timeout=30)
    assert boom.status_code == 500 and "Traceback" not in boom.text
    empty = requests.get(f"{flask_url}empty", timeout=30)
    assert empty.status_code == 204 and empty.content == b""
    received = b""
    with requests.get(f"{flask_url}fails-mid-stream", stream=True, timeout=30) as cut:
        assert cut.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in cut.iter_content(chunk_size=None):
                received += piece
    assert received == b"first\n"


def test_a_wsgi_app_failing_before_start_response_is_a_500(lambda_emulator):
    emulator = lambda_emulator(f"{APPS}.raw_wsgi_handler")
    response = requests.get(emulator.url, timeout=30)
    assert response.status_code == 500 and response.text == "Internal Server Error"
    emulator.wait_for_log("failed before start_response")
