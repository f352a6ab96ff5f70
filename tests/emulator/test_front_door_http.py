"""The front door is as strict as a production HTTP server, and answers a correct request after
each malformed one."""

from __future__ import annotations

import threading

import pytest

from tests.emulator.rawhttp import connect, exchange, read_response, wait_closed

SAMPLES = "tests.handlers.samples"
GOOD = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def emulator():
    from runtime.emulator.pytest_plugin import start_emulator

    running = start_emulator(f"{SAMPLES}.event_json", "--idle-timeout", "1", "--head-timeout", "1")
    yield running
    running.stop()


def test_an_absolute_form_target_reaches_the_function_as_its_path(emulator):
    port = emulator.url.rstrip("/").rsplit(":", 1)[1]
    request = f"GET http://127.0.0.1:{port}/ok?a=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    response = exchange(emulator.url, request)
    assert (
        response.status == 200 and b'"rawPath": "/ok"' in response.body and b'"rawQueryString": "a=1"' in response.body
    )


def assert_served_after(emulator) -> None:
    response = exchange(emulator.url, GOOD)
    assert response.status == 200 and b'"rawPath": "/ok"' in response.body


def post(fields: str, body: bytes = b"") -> bytes:
    return f"POST /p HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode("latin-1") + body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (post("Content-Length: \xb2\r\n", b"x"), 400),  # a digit to Python, not to HTTP
        (post("Content-Length: -1\r\n"), 400),
        (post("Content-Length: 2\r\nContent-Length: 3\r\n", b"abc"), 400),
        (post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"), 400),
        (post("Transfer-Encoding: xchunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"), 400),
        (post("Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501),
        (post("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"), 400),
        (post("Transfer-Encoding: chunked\r\n", b"3\r\nabcX\r\n0\r\n\r\n"), 400),
        (post("Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nT: " + b"v" * 5000 + b"\r\n\r\n"), 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 70000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: a\r\n\r\n", 400),
        (b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"NOT-HTTP\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        (b"GET / HTTP/1.1\nHost: x\n\n", 400),  # bare LF: refused at once, not left to time out
    ],
)
def test_malformed_requests_get_a_status_and_a_closed_connection(emulator, request_bytes, status):
    with connect(emulator.url) as sock:
        sock.sendall(request_bytes)
        response = read_response(sock, bytearray())
        assert response.status == status and response.closed
        assert response.headers["content-type"] == "application/json" and b"Message" in response.body
        wait_closed(sock)
    assert_served_after(emulator)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(emulator):
    with connect(emulator.url) as sock:
        sock.sendall(post(f"Content-Length: {7 * 1024 * 1024}\r\n"))  # the head only: nothing else is coming
        response = read_response(sock, bytearray())
        assert response.status == 413 and b"smaller than" in response.body
    assert_served_after(emulator)


def test_expect_100_continue_then_the_body(emulator):
    with connect(emulator.url) as sock:
        sock.sendall(post("Content-Length: 5\r\nExpect: 100-continue\r\nContent-Type: text/plain\r\n"))
        buffer = bytearray()
        assert read_response(sock, buffer).status == 100
        sock.sendall(b"hello")
        response = read_response(sock, buffer)
        assert response.status == 200 and b'"body": "hello"' in response.body


def test_requests_pipelined_after_a_chunked_body_are_all_answered_in_order(emulator):
    with connect(emulator.url) as sock:
        sock.sendall(
            b"POST /one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            + b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        buffer = bytearray()
        bodies = [read_response(sock, buffer).body for _ in range(3)]
    assert b'"rawPath": "/one"' in bodies[0] and b'"body": "abc"' in bodies[0]
    assert b'"rawPath": "/two"' in bodies[1] and b'"rawPath": "/three"' in bodies[2]


def test_idle_and_slow_head_connections_are_closed(emulator):
    with connect(emulator.url) as idle:
        assert wait_closed(idle) == b""  # idle past --idle-timeout: closed, no answer
    with connect(emulator.url) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHo")  # and nothing more
        assert wait_closed(slow).startswith(b"HTTP/1.1 408 ")
    assert_served_after(emulator)


def test_a_burst_of_connections_all_get_an_answer(emulator):
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            status = exchange(emulator.url, GOOD).status
        except OSError:
            status = -1  # no answer
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(statuses) == 200 and set(statuses) <= {200, 429}


def test_204_and_head_carry_no_body_and_keep_the_connection_usable(lambda_emulator):
    emulator = lambda_emulator(f"{SAMPLES}.empty")
    with connect(emulator.url) as sock:
        sock.sendall(GOOD + b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + GOOD)
        buffer = bytearray()
        first = read_response(sock, buffer)
        assert first.status == 204 and "transfer-encoding" not in first.headers and first.body == b""
        head = read_response(sock, buffer, method="HEAD")
        assert head.status == 204
        assert read_response(sock, buffer).status == 204
        assert not buffer  # no stray terminator or body bytes between the responses
