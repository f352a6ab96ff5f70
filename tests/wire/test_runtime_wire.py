"""Exact-wire tests: byte for byte what the runtime sends to a scripted Runtime API, case by case."""

from __future__ import annotations

import base64
import json
import time

import pytest

from runtime import streaming, wire
from runtime.api import RuntimeAddress
from runtime.client import Connection, RuntimeAPIError, RuntimeClient
from runtime.context import FunctionEnvironment
from runtime.log import RuntimeLog
from runtime.loop import InvocationLoop
from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop, status_answer

HOST = "Host: 127.0.0.1:9001\r\n"


def test_next_headers_reach_context_and_trace_variable_is_set_then_cleared():
    seen = []

    def handler(event, context):
        seen.append((context.get_remaining_time_in_millis(), context.aws_request_id, dict(environ)))
        return None

    environ: dict[str, str] = {}
    deadline = str(int(time.time() * 1000) + 3000)
    peer = ScriptedPeer(
        [
            next_answer("r1", {}, deadline=deadline, **{"Lambda-Runtime-Trace-Id": "Root=1-abc"}),
            ACCEPTED,
            next_answer("r2", {}),
            ACCEPTED,
        ]
    )
    run_loop(peer, handler, 2, environ=environ)
    assert 2000 < seen[0][0] <= 3000
    assert seen[0][1] == "r1" and seen[0][2] == {"_X_AMZN_TRACE_ID": "Root=1-abc"}
    assert seen[1][2] == {}


def test_buffered_ok_posts_json_with_content_length():
    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, lambda event, context: {"a": 1}, 1)
    assert peer.requests[0].head == b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n" + HOST.encode() + b"\r\n"
    response = peer.requests[1]
    assert response.head == (
        b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n"
        + HOST.encode()
        + b"Content-Type: application/json\r\nContent-Length: 8\r\n\r\n"
    )
    assert response.body == b'{"a": 1}'


def test_buffered_raise_posts_error_with_type_header_and_loop_continues():
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("x")
        return "fine"

    peer = ScriptedPeer([next_answer("r1", {"fail": True}), ACCEPTED, next_answer("r2", {}), ACCEPTED])
    run_loop(peer, handler, 2)
    error = peer.requests[1]
    assert error.request_line == "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1"
    assert b"Lambda-Runtime-Function-Error-Type: ValueError\r\n" in error.head
    document = json.loads(error.body)
    assert document["errorMessage"] == "x" and document["errorType"] == "ValueError"
    assert any("raise ValueError" in line for line in document["stackTrace"])
    assert peer.requests[3].body == b'"fine"'


def test_a_handler_failure_is_logged_with_its_trace_as_well_as_reported():
    """Lambda does not log what a runtime posts to /error: the runtime must, or no log shows it."""

    def handler(event, context):
        raise ValueError("boom")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    lines = run_loop(peer, handler, 1)
    assert len(lines) == 1
    first, *trace = lines[0].rstrip("\n").split("\n")
    level, _, request_id, message = first.split("\t")
    assert (level, request_id, message) == ("[ERROR]", "r1", "ValueError: boom")
    assert trace[0] == "Traceback (most recent call last):"
    assert trace[-1].strip() == 'raise ValueError("boom")' and "in handler" in trace[-2]


def test_a_handler_failure_in_json_format_carries_aws_error_fields():
    def handler(event, context):
        raise KeyError("missing")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    (line,) = run_loop(peer, handler, 1, json_format=True)
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["requestId"] == "r1"
    assert record["errorType"] == "KeyError" and record["errorMessage"] == "'missing'"
    assert record["stackTrace"] == json.loads(peer.requests[1].body)["stackTrace"]


def test_a_failure_after_the_stream_began_is_logged_before_the_trailers_go():
    @streaming
    def handler(event, response, context):
        response.write(b"partial")
        raise RuntimeError("mid-stream")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    lines = run_loop(peer, handler, 1)
    assert len(lines) == 1 and "\tr1\tRuntimeError: mid-stream\nTraceback" in lines[0]
    assert peer.requests[1].trailers["lambda-runtime-function-error-type"] == "RuntimeError"


def test_logging_imported_after_init_is_set_up_before_the_next_invocation():
    """A handler may import `logging` inside the function; the root logger is set up the first
    time an invocation starts with `logging` imported, once (not at start-up, which it would slow)."""
    order = []
    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED, next_answer("r2", {}), ACCEPTED])
    client = RuntimeClient(Connection(RuntimeAddress.parse("127.0.0.1:9001"), peer.connect), lambda *args: None)
    loop = InvocationLoop(
        client,
        lambda event, context: order.append("handler"),
        FunctionEnvironment.from_environ({}),
        RuntimeLog(json_format=False),
        environ=None,
        on_logging_imported=lambda: order.append("configure"),
    )
    loop.run(2)  # pytest imported logging long ago: the first invocation finds it
    assert order == ["configure", "handler", "handler"]


def test_unencodable_return_value_is_a_marshal_error():
    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, lambda event, context: {1, 2}, 1)
    assert peer.requests[1].request_line.endswith("/r1/error HTTP/1.1")
    assert json.loads(peer.requests[1].body)["errorType"] == "Runtime.MarshalError"


def test_streaming_with_prelude_exact_bytes():
    @streaming
    def handler(event, response, context):
        response.start(201, {"content-type": "text/plain"}, ["a=1"])
        response.write("x")
        response.write(b"y")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    request = peer.requests[1]
    assert request.head == (
        b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n"
        + HOST.encode()
        + b"Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        b"Content-Type: application/vnd.awslambda.http-integration-response\r\n\r\n"
    )
    prelude = b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}'
    assert request.body == (
        wire.encode_chunk(prelude) + b"8\r\n" + b"\x00" * 8 + b"\r\n" + b"1\r\nx\r\n1\r\ny\r\n0\r\n\r\n"
    )


def test_raise_after_three_chunks_ends_with_both_trailers():
    @streaming
    def handler(event, response, context):
        for index in range(3):
            response.write(f"c{index}")
        raise KeyError("boom")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    request = peer.requests[1]
    assert request.decoded_body.endswith(b"c0c1c2")
    assert (
        request.body.endswith(b"\r\n\r\n")
        and b"\r\n0\r\nLambda-Runtime-Function-Error-Type: KeyError\r\n" in request.body
    )
    trailers = request.trailers
    assert trailers["lambda-runtime-function-error-type"] == "KeyError"
    document = json.loads(base64.b64decode(trailers["lambda-runtime-function-error-body"]))
    assert document["errorType"] == "KeyError" and document["errorMessage"] == "'boom'"
    assert len(peer.requests) == 2  # no /error for the same id


def test_huge_exception_message_is_truncated_to_fit_the_trailer_block():
    @streaming
    def handler(event, response, context):
        response.write("x")
        raise ValueError("m" * 100_000)

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    body = peer.requests[1].body
    trailer_block = body[body.rindex(b"\r\n0\r\n") + 2 :]
    assert len(trailer_block) < 4096
    document = json.loads(base64.b64decode(peer.requests[1].trailers["lambda-runtime-function-error-body"]))
    assert document["errorMessage"].endswith("[truncated]")


def test_raise_before_first_write_goes_to_error_endpoint_only():
    @streaming
    def handler(event, response, context):
        response.start(200, {"content-type": "text/plain"})
        raise RuntimeError("early")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    assert [r.request_line for r in peer.requests] == [
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1",
        "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1",
    ]


def test_no_prelude_mode_sends_the_handlers_content_type():
    @streaming(http_integration=False)
    def handler(event, response, context):
        response.start(headers={"content-type": "text/event-stream"})
        response.write("data: 1\n\n")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    assert b"Content-Type: text/event-stream\r\n" in peer.requests[1].head
    assert peer.requests[1].body == b"9\r\ndata: 1\n\n\r\n0\r\n\r\n"


def test_empty_body_still_sends_prelude_delimiter_and_terminator():
    @streaming
    def handler(event, response, context):
        response.start(204)

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    body = peer.requests[1].body
    assert body.endswith(b"8\r\n" + b"\x00" * 8 + b"\r\n0\r\n\r\n")
    assert b'"statusCode":204' in body


def test_empty_writes_are_no_ops():
    @streaming
    def handler(event, response, context):
        response.write(b"")
        response.write("")
        response.write("a")

    peer = ScriptedPeer([next_answer("r1", {}), ACCEPTED])
    run_loop(peer, handler, 1)
    assert peer.requests[1].body.endswith(b"\r\n1\r\na\r\n0\r\n\r\n")


def test_oversize_answer_mid_stream_stops_the_handler_and_is_logged():
    written = []

    @streaming(http_integration=False)
    def handler(event, response, context):
        for _ in range(1000):
            response.write(b"z" * 1024)
            written.append(1)
            time.sleep(0.001)

    too_large = status_answer(413, {"errorType": "RequestEntityTooLarge", "errorMessage": "cut"}, close=True)
    peer = ScriptedPeer([next_answer("r1", {}), b""], early={1: (4096, too_large)})
    lines = run_loop(peer, handler, 1)
    assert len(written) < 1000
    assert any("413 RequestEntityTooLarge: cut" in line for line in lines)


@pytest.mark.parametrize("status", [400, 403])
def test_4xx_on_response_is_logged_and_the_loop_continues(status):
    peer = ScriptedPeer(
        [
            next_answer("r1", {}),
            status_answer(status, {"errorType": "InvalidStateTransition", "errorMessage": "no"}),
            next_answer("r2", {}),
            ACCEPTED,
        ]
    )
    lines = run_loop(peer, lambda event, context: 1, 2)
    assert any(f"{status} InvalidStateTransition" in line for line in lines)
    assert peer.requests[3].request_line.endswith("/r2/response HTTP/1.1")


def test_500_is_fatal():
    peer = ScriptedPeer([next_answer("r1", {}), status_answer(500)])
    with pytest.raises(RuntimeAPIError):
        run_loop(peer, lambda event, context: 1, 2)


def test_lost_connection_is_fatal():
    peer = ScriptedPeer([next_answer("r1", {})])  # then the peer closes
    with pytest.raises(RuntimeAPIError):
        run_loop(peer, lambda event, context: 1, 2)


def test_prefixed_base_url_is_used_in_every_path():
    from runtime.api import RuntimeAddress, next_invocation

    address = RuntimeAddress.parse("http://127.0.0.1:9000/.rt/_")
    assert address.host_header == "127.0.0.1:9000"
    assert next_invocation(address).path == "/.rt/_/2018-06-01/runtime/invocation/next"
