"""FastAPI, Starlette, sse-starlette and a raw ASGI app behind `asgi_handler`, end to end: the
emulator and the real bootstrap as processes, read by a real HTTP client. Streams run in lockstep
with the reader (see tests/handlers/asgi_apps.py), so arrival order is proven without timing."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.test_streaming_e2e import read_lines_acknowledging

APPS = "tests.handlers.asgi_apps"


@pytest.fixture(scope="module")
def fastapi_url():
    from runtime.emulator.pytest_plugin import start_emulator

    emulator = start_emulator(f"{APPS}.fastapi_handler", "--timeout", "60")
    yield emulator.url
    emulator.stop()


def test_fastapi_streaming_response_arrives_chunk_by_chunk_with_status_headers_cookies(fastapi_url, tmp_path):
    with requests.get(f"{fastapi_url}stream?dir={tmp_path}", stream=True, timeout=30) as response:
        assert response.status_code == 201
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers["x-app"] == "fastapi"
        assert response.raw.headers.getlist("Set-Cookie") == ["streamed=yes; Path=/; SameSite=lax"]
        lines = read_lines_acknowledging(response, tmp_path)
    assert lines == [f"chunk-{index}".encode() for index in range(5)]


def read_events_acknowledging(response: requests.Response, ack_dir) -> list[dict[str, str]]:
    """Parse server-sent events as they arrive, acknowledging each so the app sends the next."""
    events, buffer = [], b""
    for piece in response.iter_content(chunk_size=None):
        buffer = (buffer + piece).replace(b"\r\n", b"\n")
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.partition(":")[::2] for line in block.decode().split("\n") if not line.startswith(":"))
            if fields:
                events.append({name: value.strip() for name, value in fields.items()})
                (ack_dir / f"ack-{len(events) - 1}").touch()  # the app sends the next event only now
    return events


def test_sse_starlette_delivers_each_event_as_it_is_sent(fastapi_url, tmp_path):
    with requests.get(f"{fastapi_url}events?dir={tmp_path}", stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events_acknowledging(response, tmp_path)
    assert events == [{"id": str(i), "event": "tick", "data": f"event {i}"} for i in range(3)]


def test_fastapi_json_route_with_two_cookies(fastapi_url):
    response = requests.get(f"{fastapi_url}json", timeout=30)
    assert response.status_code == 200 and response.json() == {"hello": "world"}
    assert response.headers["content-type"] == "application/json"
    cookies = response.raw.headers.getlist("Set-Cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["session=s1", "theme=dark"]


def test_fastapi_path_query_with_repeated_keys_and_request_cookies(fastapi_url):
    response = requests.get(f"{fastapi_url}items/caf%C3%A9?q=1&q=2", cookies={"p": "1", "r": "2"}, timeout=30)
    body = response.json()
    assert body["item"] == "café" and body["q"] == ["1", "2"]
    assert body["cookies"] == {"p": "1", "r": "2"}
    assert body["client"] == "127.0.0.1"
    assert body["url"].endswith(fastapi_url.split("://")[1] + "items/café?q=1&q=2")  # Starlette's url uses path


def test_fastapi_binary_body_round_trip(fastapi_url):
    payload = bytes(range(256)) * 4
    response = requests.post(
        f"{fastapi_url}echo", data=payload, headers={"content-type": "application/octet-stream"}, timeout=30
    )
    assert response.status_code == 200 and response.content == payload


def test_fastapi_lifespan_state_and_its_loop_bound_queue_reach_requests(fastapi_url):
    first = requests.get(f"{fastapi_url}state", timeout=30).json()
    second = requests.get(f"{fastapi_url}state", timeout=30).json()
    assert first["started_in"] == first["served_in"] == second["served_in"]  # started in this process
    assert first["queued"] == second["queued"] == 1


def test_fastapi_route_exception_is_a_500_and_the_trace_is_logged(lambda_emulator):
    emulator = lambda_emulator(f"{APPS}.fastapi_handler")
    response = requests.get(f"{emulator.url}boom", timeout=30)
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert "the route failed" in emulator.wait_for_log("RuntimeError: the route failed")
    assert requests.get(f"{emulator.url}json", timeout=30).status_code == 200  # the environment lives on


def test_plain_starlette_routes_and_a_sync_iterator_stream(lambda_emulator):
    emulator = lambda_emulator(f"{APPS}.starlette_handler")
    assert requests.get(f"{emulator.url}", timeout=30).text == "plain /"
    with requests.get(f"{emulator.url}numbers", stream=True, timeout=30) as response:
        assert list(response.iter_lines()) == [b"0", b"1", b"2"]


def test_raw_asgi_edges(lambda_emulator):
    emulator = lambda_emulator(f"{APPS}.raw_handler")
    url = emulator.url

    empty = requests.get(f"{url}empty", timeout=30)
    assert empty.status_code == 204 and empty.content == b"" and empty.headers["x-empty"] == "yes"

    failed = requests.get(f"{url}before-start", timeout=30)
    assert failed.status_code == 500 and failed.text == "Internal Server Error"
    assert "Traceback" not in failed.text
    emulator.wait_for_log("failed before the response started")

    received = b""
    with requests.get(f"{url}mid-stream", stream=True, timeout=30) as cut:
        assert cut.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for piece in cut.iter_content(chunk_size=None):
                received += piece
    assert received == b"partial\n"

    cookies = requests.get(f"{url}cookies", timeout=30)
    assert cookies.raw.headers.getlist("Set-Cookie") == [f"c{i}={i}; Path=/" for i in range(3)]

    payload = bytes(range(256))
    binary = requests.post(f"{url}binary", data=payload, headers={"content-type": "image/png"}, timeout=30)
    assert binary.content == payload[::-1] and binary.headers["content-type"] == "image/png"

    echoed = requests.get(f"{url}a%20b/c?x=1&x=2&y=%20", timeout=30).text
    assert echoed == "GET /a b/c /a%20b/c x=1&x=2&y=%20"
