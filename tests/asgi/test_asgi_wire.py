"""`asgi_handler` on the exact wire, with hand-written ASGI apps for every edge of the protocol."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from runtime import aio, asgi_handler, wire
from runtime.asgi import ClientDisconnected
from runtime.loader import HandlerLoadError, initialize_handler
from runtime.response import ResponseStream
from tests.asgi.test_http_event import function_url_event
from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop, status_answer

DELIMITER_CHUNK = wire.encode_chunk(wire.PRELUDE_DELIMITER)


def serve(app, event=None, **options):
    return serve_logged(app, event, **options)[0]


def serve_logged(app, event=None, **options):
    """The runtime's answer to one invocation, and what the invocation loop logged."""
    peer = ScriptedPeer([next_answer("r1", event or function_url_event()), ACCEPTED])
    lines = run_loop(peer, asgi_handler(app, lifespan="off", **options), 1)
    assert len(peer.requests) == 2
    return peer.requests[1], lines


def prelude_and_body(request) -> tuple[dict, bytes]:
    document, _, body = request.decoded_body.partition(wire.PRELUDE_DELIMITER)
    return json.loads(document), body


def test_start_and_one_body_make_prelude_delimiter_chunk_and_terminator():
    async def app(scope, receive, send):
        headers = [(b"content-type", b"application/json"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2; Path=/")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    request = serve(app)
    prelude = b'{"statusCode":201,"headers":{"content-type":"application/json"},"cookies":["a=1","b=2; Path=/"]}'
    assert request.body == wire.encode_chunk(prelude) + DELIMITER_CHUNK + b'b\r\n{"ok":true}\r\n0\r\n\r\n'
    assert b"Content-Type: application/vnd.awslambda.http-integration-response" in request.head


def test_each_body_message_is_one_chunk_and_empty_ones_send_nothing():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for piece in (b"one", b"", b"two"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    assert serve(app).body.endswith(DELIMITER_CHUNK + b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_a_response_without_body_is_terminated_and_body_bytes_are_dropped(status):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status})
        await send({"type": "http.response.body", "body": b"must not be sent"})

    request = serve(app)
    prelude, body = prelude_and_body(request)
    assert prelude["statusCode"] == status and body == b""
    assert request.body.endswith(DELIMITER_CHUNK + b"0\r\n\r\n")


def test_head_request_drops_the_body():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})

    event = function_url_event()
    event["requestContext"]["http"]["method"] = "HEAD"
    prelude, body = prelude_and_body(serve(app, event))
    assert prelude["headers"]["content-length"] == "5" and body == b""


def test_exception_before_start_is_a_500_with_a_short_body_and_the_trace_in_the_log(capsys):
    async def app(scope, receive, send):
        raise ValueError("broken before start")

    request = serve(app)
    assert request.request_line.endswith("/r1/response HTTP/1.1")  # not /error
    prelude, body = prelude_and_body(request)
    assert prelude == {"statusCode": 500, "headers": {"content-type": "text/plain; charset=utf-8"}, "cookies": []}
    assert body == b"Internal Server Error" and not request.trailers
    log = capsys.readouterr().err
    assert "Exception in ASGI application" in log and "broken before start" in log and "Traceback" in log


def test_exception_after_start_ends_the_stream_with_trailers():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
        raise KeyError("after start")

    request = serve(app)
    prelude, body = prelude_and_body(request)
    assert prelude["statusCode"] == 202 and body == b""
    assert request.trailers["lambda-runtime-function-error-type"] == "KeyError"


def test_exception_mid_stream_keeps_what_was_sent_then_trailers():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("mid-stream")

    request = serve(app)
    assert prelude_and_body(request)[1] == b"part"
    error = json.loads(base64.b64decode(request.trailers["lambda-runtime-function-error-body"]))
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "mid-stream"
    assert "in app" in error["stackTrace"][-1]


def test_exception_after_the_final_body_is_only_logged(capsys):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"complete"})
        raise RuntimeError("after the end")

    request = serve(app)
    assert prelude_and_body(request)[1] == b"complete" and not request.trailers
    assert request.body.endswith(b"\r\n0\r\n\r\n")
    assert "after the end" in capsys.readouterr().err


def test_send_after_the_response_completed_raises_in_the_app(capsys):
    seen = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"done"})
        try:
            await send({"type": "http.response.body", "body": b"late"})
        except RuntimeError as exc:
            seen.append(str(exc))

    assert prelude_and_body(serve(app))[1] == b"done"
    assert seen and "complete" in seen[0]


def test_returning_without_a_response_is_a_500_and_without_the_final_body_is_cut(capsys):
    async def silent(scope, receive, send):
        await receive()

    async def unfinished(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"some", "more_body": True})

    assert prelude_and_body(serve(silent))[0]["statusCode"] == 500
    assert "without starting a response" in capsys.readouterr().err  # the adapter answered 500 itself
    cut, lines = serve_logged(unfinished)
    assert prelude_and_body(cut)[1] == b"some"
    assert cut.trailers["lambda-runtime-function-error-type"] == "ASGIProtocolError"
    assert len(lines) == 1 and "ASGIProtocolError: ASGI callable returned without completing" in lines[0]
    assert capsys.readouterr().err == ""  # logged once, by the loop


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.response.body", "body": b"x"}],
        [{"type": "http.response.start", "status": 200}, {"type": "http.response.start", "status": 200}],
        [{"type": "http.response.start", "status": "200"}],
        [{"type": "http.response.start", "status": 200, "headers": [(b"x", "not bytes")]}],
        [{"type": "websocket.accept"}],
    ],
    ids=["body-before-start", "start-twice", "status-not-int", "header-not-bytes", "unknown-message"],
)
def test_protocol_errors_before_the_response_start_become_a_500(messages, capsys):
    async def app(scope, receive, send):
        for message in messages:
            await send(message)

    request, lines = serve_logged(app)
    prelude, body = prelude_and_body(request)
    if messages[0]["type"] == "http.response.start" and len(messages) == 2:
        assert prelude["statusCode"] == 200  # the second start fails after the first one: trailers
        assert len(lines) == 1 and "Traceback" in lines[0]  # logged once, by the loop, with its trace
        assert "Exception in ASGI application" not in capsys.readouterr().err
    else:
        assert prelude["statusCode"] == 500 and body == b"Internal Server Error"
        assert "Exception in ASGI application" in capsys.readouterr().err and lines == []


def test_receive_gives_the_body_then_disconnect_only_after_the_response_finished():
    order = []

    async def app(scope, receive, send):
        request = await receive()
        order.append(("request", request["body"], request["more_body"]))

        async def wait_for_disconnect():
            order.append(("disconnect", (await receive())["type"]))

        waiter = asyncio.get_running_loop().create_task(wait_for_disconnect())
        await send({"type": "http.response.start", "status": 200})
        await asyncio.sleep(0)
        order.append(("sent", "body"))
        await send({"type": "http.response.body", "body": b"x"})
        await waiter

    binary = bytes(range(256))
    event = function_url_event(body=base64.b64encode(binary).decode(), isBase64Encoded=True)
    serve(app, event)
    assert order == [("request", binary, False), ("sent", "body"), ("disconnect", "http.disconnect")]


def test_scope_is_built_exactly():
    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    event = function_url_event(rawPath="/api/caf%C3%A9", rawQueryString="x=1&x=2")
    serve(app, event, root_path="/api")
    scope = scopes[0]
    assert {key: scope[key] for key in scope if key not in ("headers", "aws.event", "aws.context")} == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/api/café",
        "raw_path": b"/api/caf%C3%A9",
        "query_string": b"x=1&x=2",
        "root_path": "/api",
        "client": ("203.0.113.7", 0),
        "server": ("abc.lambda-url.us-east-1.on.aws", 443),
        "state": {},
    }
    assert (b"cookie", b"cookie1; cookie2") in scope["headers"]
    assert scope["aws.event"] is not None and scope["aws.context"].aws_request_id == "r1"


def test_an_event_that_is_not_an_http_request_goes_to_error():
    async def app(scope, receive, send):
        raise AssertionError("never called")

    peer = ScriptedPeer([next_answer("r1", {"just": "data"}), ACCEPTED])
    run_loop(peer, asgi_handler(app), 1)
    assert peer.requests[1].request_line.endswith("/r1/error HTTP/1.1")
    assert json.loads(peer.requests[1].body)["errorType"] == "NotAnHttpEvent"


def test_send_raises_an_oserror_once_the_runtime_api_closed_the_stream(capsys):
    outcome = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200})
        try:
            for _ in range(1000):
                await send({"type": "http.response.body", "body": b"z" * 1024, "more_body": True})
                await asyncio.sleep(0)
        except ClientDisconnected as exc:
            outcome.append(isinstance(exc, OSError))
            outcome.append((await receive())["type"])
            raise

    too_large = status_answer(413, {"errorType": "RequestEntityTooLarge", "errorMessage": "cut"}, close=True)
    peer = ScriptedPeer([next_answer("r1", function_url_event()), b""], early={1: (4096, too_large)})
    lines = run_loop(peer, asgi_handler(app, lifespan="off"), 1)
    assert outcome == [True, "http.disconnect"]
    assert any("413 RequestEntityTooLarge" in line for line in lines)
    assert "Exception in ASGI application" not in capsys.readouterr().err


class RecordingSink:
    def __init__(self, log: list) -> None:
        self.log = log

    def send(self, chunks: list[bytes]) -> None:
        self.log.append(("send", b"".join(chunks)))

    def finish(self, chunks: list[bytes], trailers) -> None:
        self.log.append(("finish", b"".join(chunks)))


def test_the_prelude_leaves_as_soon_as_the_app_yields_after_the_start():
    log: list = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        log.append(("app", "yields"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        log.append(("app", "sends body"))
        await send({"type": "http.response.body", "body": b"late"})

    handler = asgi_handler(app, lifespan="off")
    response = ResponseStream(lambda content_type: RecordingSink(log))
    aio.run(handler(function_url_event(), response, None))
    assert [entry[0] for entry in log] == ["app", "send", "app", "finish"]
    assert log[1][1].endswith(wire.PRELUDE_DELIMITER) and log[3][1] == b"late"


def lifespan_app(events: list, fail: str | None = None):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            if fail:
                await send({"type": "lifespan.startup.failed", "message": fail})
                return
            scope["state"]["pool"] = "connected"
            events.append("startup")
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            events.append(message["type"])
            await send({"type": "lifespan.shutdown.complete"})
            return
        events.append(("request", scope["state"].get("pool")))
        scope["state"]["pool"] = "changed by a request"  # a shallow copy: must not leak
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_lifespan_startup_runs_once_in_init_and_its_state_reaches_every_request():
    events: list = []
    handler = asgi_handler(lifespan_app(events))
    initialize_handler(handler)
    peer = ScriptedPeer([next_answer(f"r{i}", function_url_event()) if i % 2 == 0 else ACCEPTED for i in range(4)])
    run_loop(peer, handler, 2)
    assert events == ["startup", ("request", "connected"), ("request", "connected")]
    aio.run(handler.__lambda_init__.__self__.lifespan.shutdown())
    assert events[-1] == "lifespan.shutdown"


def test_failed_lifespan_startup_is_an_init_error():
    handler = asgi_handler(lifespan_app([], fail="database unreachable"))
    with pytest.raises(HandlerLoadError) as raised:
        initialize_handler(handler)
    assert raised.value.payload.error_type == "Runtime.LifespanStartupFailed"
    assert raised.value.payload.message == "database unreachable"


def test_a_traceback_in_a_lifespan_failure_becomes_a_message_and_a_stack_trace():
    """Starlette and FastAPI send the whole formatted traceback as the failure's message."""
    from runtime.asgi import startup_failure

    try:
        raise ValueError("database unreachable")
    except ValueError:
        import traceback

        formatted = traceback.format_exc()
    payload = startup_failure(formatted)
    assert payload.message == "ValueError: database unreachable"
    assert len(payload.stack_trace) == 1 and payload.stack_trace[0].startswith('  File "')
    assert payload.stack_trace[0].endswith('raise ValueError("database unreachable")')
    assert startup_failure("plain words").message == "plain words"


def test_a_lifespan_failure_keeps_a_multi_line_message_and_only_the_last_of_chained_tracebacks():
    import traceback

    from runtime.asgi import startup_failure

    settings_error = (
        "1 validation error for Settings\ndatabase_url\n  Field required\n    For further information visit x"
    )
    try:
        try:
            {}["database_url"]
        except KeyError as missing:
            raise ValueError(settings_error) from missing
    except ValueError:
        formatted = traceback.format_exc()
    payload = startup_failure(formatted)
    assert payload.message == f"ValueError: {settings_error}"
    assert len(payload.stack_trace) == 1 and "raise ValueError(settings_error) from missing" in payload.stack_trace[0]


def test_an_app_without_lifespan_support_is_served_in_auto_mode_and_an_init_error_in_on_mode():
    async def http_only(scope, receive, send):
        assert scope["type"] == "http", "lifespan not supported"
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"fine"})

    auto = asgi_handler(http_only)
    initialize_handler(auto)
    peer = ScriptedPeer([next_answer("r1", function_url_event()), ACCEPTED])
    run_loop(peer, auto, 1)
    assert prelude_and_body(peer.requests[1])[1] == b"fine"
    with pytest.raises(HandlerLoadError, match="lifespan not supported"):
        initialize_handler(asgi_handler(http_only, lifespan="on"))


def test_lifespan_off_never_calls_the_app_with_a_lifespan_scope():
    scopes: list = []

    async def app(scope, receive, send):
        scopes.append(scope["type"])
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body"})

    handler = asgi_handler(app, lifespan="off")
    initialize_handler(handler)
    serve(app)
    assert scopes == ["http"]


def test_lifespan_mode_is_checked():
    with pytest.raises(ValueError, match="lifespan"):
        asgi_handler(lambda scope, receive, send: None, lifespan="maybe")


def test_without_the_init_hook_lifespan_starts_at_the_first_request_and_a_failure_fails_every_request():
    handler = asgi_handler(lifespan_app([], fail="no database"))  # wrapped or called directly: no init hook
    answers = []
    for index in range(2):
        answers += [next_answer(f"r{index}", function_url_event()), ACCEPTED]
    peer = ScriptedPeer(answers)
    run_loop(peer, handler, 2)
    for request in (peer.requests[1], peer.requests[3]):
        assert request.request_line.endswith("/error HTTP/1.1")
        assert "no database" in json.loads(request.body)["errorMessage"]
