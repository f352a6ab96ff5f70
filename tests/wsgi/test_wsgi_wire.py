"""`wsgi_handler` on the exact wire, with hand-written WSGI apps, and the environ it builds."""

from __future__ import annotations

import io
import json
import sys

import pytest

from runtime import wire, wsgi_handler
from runtime.http_event import request_from_event
from runtime.wsgi import FileWrapper, build_environ
from tests.asgi.test_http_event import function_url_event
from tests.wire.scripted import ACCEPTED, ScriptedPeer, next_answer, run_loop

DELIMITER_CHUNK = wire.encode_chunk(wire.PRELUDE_DELIMITER)


def serve(app, event=None, **options):
    return serve_logged(app, event, **options)[0]


def serve_logged(app, event=None, **options):
    """The runtime's answer to one invocation, and what the invocation loop logged."""
    peer = ScriptedPeer([next_answer("r1", event or function_url_event()), ACCEPTED])
    lines = run_loop(peer, wsgi_handler(app, **options), 1)
    assert len(peer.requests) == 2
    return peer.requests[1], lines


def prelude_and_body(request) -> tuple[dict, bytes]:
    document, _, body = request.decoded_body.partition(wire.PRELUDE_DELIMITER)
    return json.loads(document), body


class Body:
    """A body iterable that records whether close() was called."""

    def __init__(self, items, fail_at: int | None = None) -> None:
        self.items, self.fail_at, self.closed = items, fail_at, False

    def __iter__(self):
        for index, item in enumerate(self.items):
            if index == self.fail_at:
                raise RuntimeError(f"failed at item {index}")
            yield item

    def close(self) -> None:
        self.closed = True


def test_each_item_is_one_chunk_and_close_is_called():
    body = Body([b"one", b"", b"two"])

    def app(environ, start_response):
        start_response("201 Created", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return body

    request = serve(app)
    prelude = b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["a=1","b=2"]}'
    assert request.body == wire.encode_chunk(prelude) + DELIMITER_CHUNK + b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"
    assert body.closed


def test_environ_follows_pep_3333():
    event = function_url_event(rawPath="/app/caf%C3%A9/x", rawQueryString="q=1&q=2")
    event["headers"].update({"content-type": "text/plain", "x-dup": "a,b", "x_spoofed": "no"})
    environ = build_environ(request_from_event(event), "/app", event, None)
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/app"
    assert environ["PATH_INFO"] == "/café/x".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "q=1&q=2"
    assert environ["CONTENT_TYPE"] == "text/plain" and environ["CONTENT_LENGTH"] == "18"
    assert environ["wsgi.input"].read() == b"Hello from client!"
    assert environ["HTTP_COOKIE"] == "cookie1; cookie2" and environ["HTTP_X_DUP"] == "a,b"
    assert "HTTP_X_SPOOFED" not in environ
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("abc.lambda-url.us-east-1.on.aws", "443")
    assert environ["REMOTE_ADDR"] == "203.0.113.7" and environ["wsgi.url_scheme"] == "https"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1" and environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.errors"] is sys.stderr and environ["aws.event"] is event


def test_failure_before_anything_was_sent_is_a_500_and_close_is_called(capsys):
    body = Body([b"x"], fail_at=0)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    prelude, content = prelude_and_body(serve(app))
    assert prelude["statusCode"] == 500 and content == b"Internal Server Error"
    assert body.closed and "failed at item 0" in capsys.readouterr().err


def test_failure_after_the_first_item_ends_with_trailers_and_close_is_called(capsys):
    body = Body([b"first", b"second"], fail_at=1)

    def app(environ, start_response):
        start_response("200 OK", [])
        return body

    request, lines = serve_logged(app)
    assert prelude_and_body(request)[1] == b"first"
    assert request.trailers["lambda-runtime-function-error-type"] == "RuntimeError"
    assert body.closed
    assert len(lines) == 1 and "RuntimeError" in lines[0] and "Traceback" in lines[0]  # logged once
    assert "Exception in WSGI application" not in capsys.readouterr().err


def test_a_failing_close_after_a_complete_response_is_only_logged(capsys):
    class FailingClose(Body):
        def close(self) -> None:
            raise OSError("close failed")

    def app(environ, start_response):
        start_response("200 OK", [])
        return FailingClose([b"all"])

    request = serve(app)
    assert prelude_and_body(request)[1] == b"all" and not request.trailers
    assert "close failed" in capsys.readouterr().err


def test_start_response_with_exc_info_replaces_headers_before_anything_was_sent():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("handled")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/html")], sys.exc_info())
        return [b"sorry"]

    prelude, body = prelude_and_body(serve(app))
    assert prelude["statusCode"] == 503 and prelude["headers"]["content-type"] == "text/html" and body == b"sorry"


def test_start_response_with_exc_info_after_sending_reraises():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"sent"
        try:
            raise ValueError("too late")
        except ValueError:
            start_response("500 Error", [], sys.exc_info())
        yield b"never"

    request = serve(app)
    assert prelude_and_body(request)[1] == b"sent"
    assert request.trailers["lambda-runtime-function-error-type"] == "ValueError"


def test_legacy_write_callable_and_empty_body():
    def writer(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]

    def empty(environ, start_response):
        start_response("204 No Content", [])
        return [b"dropped"]

    assert prelude_and_body(serve(writer))[1] == b"written returned"
    request = serve(empty)
    assert prelude_and_body(request)[0]["statusCode"] == 204
    assert request.body.endswith(DELIMITER_CHUNK + b"0\r\n\r\n")


@pytest.mark.parametrize("status", ["OK", "2000 OK", "20x OK", 200])
def test_malformed_status_is_a_500(status, capsys):
    def app(environ, start_response):
        start_response(status, [])
        return [b"x"]

    assert prelude_and_body(serve(app))[0]["statusCode"] == 500


def test_body_without_start_response_and_str_items_are_500s(capsys):
    def no_start(environ, start_response):
        return [b"x"]

    def text_items(environ, start_response):
        start_response("200 OK", [])
        return ["not bytes"]

    assert prelude_and_body(serve(no_start))[0]["statusCode"] == 500
    assert prelude_and_body(serve(text_items))[0]["statusCode"] == 500


def test_file_wrapper_sends_the_file_in_blocks_and_closes_it():
    file = io.BytesIO(b"a" * 100)
    wrapper = FileWrapper(file, block_size=40)
    assert [len(block) for block in wrapper] == [40, 40, 20]
    wrapper.close()
    assert file.closed
