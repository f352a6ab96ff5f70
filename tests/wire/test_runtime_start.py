"""Starting and stopping: the AWS_LAMBDA_RUNTIME_API forms, and the fatal paths of the loop."""

from __future__ import annotations

import contextlib

import pytest

from runtime.api import RuntimeAddress, next_invocation
from runtime.client import RuntimeAPIError, RuntimeAPIFailure
from runtime.log import RuntimeLog
from runtime.main import _run
from tests.wire.scripted import ScriptedPeer, next_answer, run_loop, status_answer


@pytest.mark.parametrize(
    ("value", "host", "port", "prefix"),
    [
        ("127.0.0.1:9001", "127.0.0.1", 9001, ""),
        ("127.0.0.1:9001/prefix", "127.0.0.1", 9001, "/prefix"),
        ("localhost:9001/a/b/", "localhost", 9001, "/a/b"),
        ("http://127.0.0.1:9000/.rt/_", "127.0.0.1", 9000, "/.rt/_"),
        ("HTTP://host:1", "host", 1, ""),
        ("http://host/x", "host", 80, "/x"),
        ("[::1]:9001", "::1", 9001, ""),
        ("http://[::1]:9001/p", "::1", 9001, "/p"),
        (" 127.0.0.1:9001 ", "127.0.0.1", 9001, ""),
    ],
)
def test_runtime_api_address_forms(value, host, port, prefix):
    address = RuntimeAddress.parse(value)
    assert (address.host, address.port, address.prefix) == (host, port, prefix)
    assert next_invocation(address).path == f"{prefix}/2018-06-01/runtime/invocation/next"


NOT_ADDRESSES = ["", "host", "host:", ":9001", "host:0", "host:65536", "host:x", "host:\u0663", "https://host:1"]
NOT_ADDRESSES += ["::1:9001", "host:9001/a?b", "host:9001/a#b", "ho st:1", "http://:1"]


@pytest.mark.parametrize("value", NOT_ADDRESSES)
def test_runtime_api_address_rejects_what_is_not_host_port_prefix(value):
    with pytest.raises(ValueError, match="AWS_LAMBDA_RUNTIME_API"):
        RuntimeAddress.parse(value)


def _next_without(header: str) -> bytes:
    lines = [
        "HTTP/1.1 200 OK",
        "Lambda-Runtime-Aws-Request-Id: r1",
        "Lambda-Runtime-Deadline-Ms: 9999999999999",
        "Content-Length: 2",
    ]
    kept = [line for line in lines if not line.startswith(header)]
    return ("\r\n".join(kept) + "\r\n\r\n{}").encode()


@pytest.mark.parametrize("header", ["Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms"])
def test_a_next_answer_missing_a_required_header_is_a_runtime_api_failure(header):
    peer = ScriptedPeer([_next_without(header)])
    with pytest.raises(RuntimeAPIFailure, match="unusable /next answer"):
        run_loop(peer, lambda event, context: 1, 1)
    assert len(peer.requests) == 1  # nothing was posted for an invocation it could not read


@pytest.mark.parametrize("deadline", ["soon", "-1", "1.5", "\u0661\u0662", "9" * 40])
def test_a_malformed_deadline_is_a_runtime_api_failure(deadline):
    answer = _next_without("Lambda-Runtime-Deadline-Ms").replace(
        b"Content-Length", f"Lambda-Runtime-Deadline-Ms: {deadline}\r\nContent-Length".encode()
    )
    with pytest.raises(RuntimeAPIFailure, match="Deadline-Ms"):
        run_loop(ScriptedPeer([answer]), lambda event, context: 1, 1)


class _Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_an_unexpected_error_in_the_loop_is_logged_with_its_trace_and_ends_the_process():
    class BrokenLoop:
        def run(self) -> None:
            raise KeyError("a bug in the runtime")

    lines = _Lines()
    message = _run(BrokenLoop(), RuntimeLog(json_format=False, stream=lines))  # type: ignore[arg-type]
    assert message.startswith("exiting on an unexpected error in the runtime: KeyError")
    assert lines.text.count("[ERROR]") == 1 and "Traceback" in lines.text


def test_a_runtime_api_error_is_one_line_without_a_trace():
    class FailingLoop:
        def run(self) -> None:
            raise RuntimeAPIFailure("/next answered 500")

    lines = _Lines()
    _run(FailingLoop(), RuntimeLog(json_format=False, stream=lines))  # type: ignore[arg-type]
    assert lines.text.count("\n") == 1 and "exiting: /next answered 500" in lines.text


def test_a_handler_that_swallows_a_lost_connection_cannot_hide_it():
    from runtime import streaming

    connects = []

    @streaming(http_integration=False)
    def handler(event, response, context):
        for _ in range(100):
            with contextlib.suppress(Exception):  # a careless handler
                response.write(b"x" * 65536)

    peer = ScriptedPeer([next_answer("r1", {})])  # then the peer hangs up while the body is arriving
    original = peer.connect

    def counting_connect(address):
        connects.append(address)
        return original(address)

    peer.connect = counting_connect  # type: ignore[method-assign]
    with pytest.raises(RuntimeAPIError):
        run_loop(peer, handler, 1)
    assert len(connects) == 1  # no fresh connection carrying chunks without a request head


def test_a_500_for_a_streamed_response_is_fatal_even_when_it_surfaces_inside_an_asgi_app():
    from runtime import asgi_handler
    from tests.asgi.test_http_event import function_url_event

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"all"})

    peer = ScriptedPeer([next_answer("r1", function_url_event()), status_answer(500)])
    with pytest.raises(RuntimeAPIFailure, match="500"):
        run_loop(peer, asgi_handler(app, lifespan="off"), 2)
