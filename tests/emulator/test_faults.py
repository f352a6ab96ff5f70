"""Faults and hostile input end to end: a crashed runtime's bytes reach the client before the cut,
no later request suffers for it, and malformed output is the function's error, never the emulator's."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from tests.emulator.rawhttp import exchange
from tests.emulator.soak import read_stream

HERE = Path(__file__).resolve().parent
FAULTS = "tests.handlers.faults.handler"


def chunks(count: int) -> bytes:
    return b"".join(f"{index:04d}".encode() + b"x" * 1000 for index in range(count))


def get(url: str, query: str) -> tuple[int, bytes, bool]:
    """(status, body bytes received, whether the body ended cleanly)."""
    with requests.Session() as session:
        return read_stream(session, f"{url}?{query}")


def test_a_crash_after_writing_delivers_every_byte_then_cuts_and_the_next_request_is_served(lambda_emulator):
    emulator = lambda_emulator(FAULTS, "--concurrency", "2")
    for round_ in range(15):
        written = 1 + round_ % 5
        assert get(emulator.url, f"action=exit_after&n={written}") == (200, chunks(written), False), round_
        assert get(emulator.url, "action=ok&n=2") == (200, chunks(2), True), round_
    assert not [line for line in emulator.logs if " 502 " in line]


def test_failures_before_the_first_byte_are_502_and_after_it_a_cut(lambda_emulator):
    emulator = lambda_emulator(FAULTS, "--timeout", "2")
    assert get(emulator.url, "action=raise_before")[:2] == (502, b'{"Message":"Internal Server Error"}')
    assert get(emulator.url, "action=exit_before")[0] == 502
    assert get(emulator.url, "action=bad_header")[0] == 502  # a non-Latin-1 header: the handler's error
    assert "not Latin-1" in emulator.wait_for_log("ValueError: value of")
    assert get(emulator.url, "action=generator_fails&n=2") == (200, chunks(2), False)
    assert get(emulator.url, "action=sleep&n=1") == (200, chunks(1), False)  # cut at the timeout
    assert get(emulator.url, "action=ok&n=1") == (200, chunks(1), True)


def test_the_runtime_api_refuses_malformed_requests_from_a_runtime(lambda_emulator, tmp_path):
    report = tmp_path / "report.txt"
    emulator = lambda_emulator(
        "unused.handler",
        "--bootstrap",
        str(HERE / "hostile_runtime_bootstrap"),
        "--env",
        f"HOSTILE_RUNTIME_REPORT={report}",
        "--mode",
        "buffered",
    )
    response = requests.get(emulator.url, timeout=60)
    assert (response.status_code, response.json()) == (200, "served")
    deadline = time.monotonic() + 30
    while "served" not in report.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dict(line.split() for line in report.read_text().splitlines()) == {
        "superscript-length": "400",
        "negative-length": "400",
        "two-lengths": "400",
        "length-and-chunked": "400",
        "xchunked": "400",
        "served": "202",
    }


@pytest.mark.parametrize(
    "prelude",
    [
        {"statusCode": 200, "headers": {"x-a": "b\r\nSet-Cookie: injected=1"}},
        {"statusCode": 200, "headers": {"x-name": "\u20ac"}},
        {"statusCode": 200, "headers": {"bad name": "v"}},
        {"statusCode": 200, "cookies": ["a=1\nX: y"]},
        {"statusCode": 99},
        {"statusCode": "200"},
        ["not", "an", "object"],
    ],
)
def test_a_foreign_runtime_cannot_put_a_malformed_head_on_the_client(lambda_emulator, prelude):
    emulator = lambda_emulator("unused.handler", "--bootstrap", str(HERE / "prelude_runtime_bootstrap"))
    bad = urllib.parse.quote(json.dumps(prelude, ensure_ascii=False))
    response = exchange(emulator.url, f"GET /?prelude={bad} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert response.status == 502 and "injected" not in str(response.headers)
    good = urllib.parse.quote(json.dumps({"statusCode": 201, "headers": {"x-ok": "caf\xe9"}}))
    response = exchange(emulator.url, f"GET /?prelude={good} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (response.status, response.headers["x-ok"], response.body) == (201, "caf\xe9", b"body")
    assert not [line for line in emulator.logs if "exited" in line or "Traceback" in line]
