"""Pure parts of the emulator: event mapping, buffered interpretation, event stream, throttle."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import EventStreamBuffer

from runtime.emulator import eventstream, function_url
from runtime.emulator.throttle import Throttle


def request(**overrides):
    fields = {
        "method": "GET",
        "target": "/a/b?x=1&x=2&y=",
        "headers": [("Cookie", "p=1; q=2"), ("X-H", "a"), ("X-H", "b"), ("User-Agent", "ua")],
        "body": b"",
        "source_ip": "10.0.0.1",
        "request_id": "rid",
        "time_epoch_ms": 1_700_000_000_123,
    }
    return function_url.HttpRequest(**{**fields, **overrides})


def test_event_mapping_matches_payload_format_2():
    event = function_url.build_event(request())
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b" and event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-h"] == "a,b" and event["headers"]["cookie"] == "p=1; q=2"
    assert event["cookies"] == ["p=1", "q=2"]
    assert "body" not in event and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/a/b",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.0.0.1",
        "userAgent": "ua",
    }
    assert context["timeEpoch"] == 1_700_000_000_123 and context["time"] == "14/Nov/2023:22:13:20 +0000"


def test_no_query_and_no_cookie_leave_their_keys_out():
    event = function_url.build_event(request(target="/", headers=[]))
    assert event["rawQueryString"] == "" and "queryStringParameters" not in event and "cookies" not in event


def test_text_and_binary_bodies():
    text = function_url.build_event(
        request(method="POST", body=b'{"a":1}', headers=[("content-type", "application/json")])
    )
    assert text["body"] == '{"a":1}' and text["isBase64Encoded"] is False
    binary = function_url.build_event(request(method="POST", body=b"\x00\x01", headers=[("content-type", "idk")]))
    assert binary["body"] == "AAE=" and binary["isBase64Encoded"] is True
    invalid_utf8 = function_url.build_event(
        request(method="POST", body=b"\xff", headers=[("content-type", "text/plain")])
    )
    assert invalid_utf8["isBase64Encoded"] is True
    for media in ["text/csv", "application/problem+json", "application/atom+xml", "application/x-www-form-urlencoded"]:
        assert function_url.is_text_content_type(media)
    assert not function_url.is_text_content_type("application/octet-stream")


def test_buffered_interpretation():
    bare = function_url.interpret_buffered(b'"hi"')
    assert (bare.status, bare.body, bare.headers) == (200, b'"hi"', [("content-type", "application/json")])
    redirect = function_url.interpret_buffered(
        json.dumps({"statusCode": 302, "headers": {"Location": "/x"}, "cookies": ["a=1", "b=2"]}).encode()
    )
    assert redirect.status == 302 and ("location", "/x") in redirect.headers
    assert [v for k, v in redirect.headers if k == "set-cookie"] == ["a=1", "b=2"]
    binary = function_url.interpret_buffered(
        json.dumps({"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}).encode()
    )
    assert binary.body == b"\x00\x01"
    assert function_url.interpret_buffered(b"not json").status == 502


def test_event_stream_messages_decode_with_botocore():
    buffer = EventStreamBuffer()
    buffer.add_data(eventstream.payload_chunk(b"hello") + eventstream.invoke_complete("Runtime.X", "details"))
    messages = list(buffer)
    assert messages[0].headers[":event-type"] == "PayloadChunk" and messages[0].payload == b"hello"
    assert messages[1].headers[":event-type"] == "InvokeComplete"
    assert json.loads(messages[1].payload) == {"ErrorCode": "Runtime.X", "ErrorDetails": "details"}


def test_throttle_allows_burst_then_paces():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(burst_bytes=100, rate_bytes_per_second=10, clock=lambda: now[0], sleep=sleep)
    throttle.wait(100)
    assert slept == []
    throttle.wait(20)
    assert slept == [2.0]
    throttle.wait(5)
    assert slept == [2.0, 0.5]


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ({"statusCode": 200, "headers": {"x-a": "b\r\nSet-Cookie: evil=1"}}, "valid HTTP field"),
        ({"statusCode": 200, "headers": {"x-name": "\u20ac"}}, "valid HTTP field"),
        ({"statusCode": 200, "headers": {"bad name": "v"}}, "valid HTTP field"),
        ({"statusCode": 200, "cookies": ["a=1\nb"]}, "valid HTTP field"),
        ({"statusCode": 200, "cookies": "a=1"}, "cookies a list"),
        ({"statusCode": 100}, "statusCode 100 is not an integer from 200 to 599"),
        ({"statusCode": "201"}, "statusCode '201' is not an integer"),
        ({"statusCode": 200, "body": "!!", "isBase64Encoded": True}, "body is not valid base64"),
    ],
)
def test_a_buffered_value_that_cannot_be_http_is_a_502_whose_reason_is_logged(returned, problem):
    response = function_url.interpret_buffered(json.dumps(returned).encode())
    assert response.status == 502 and response.body == b'{"Message":"Internal Server Error"}'
    assert problem in response.problem


def test_buffered_header_numbers_become_text():
    response = function_url.interpret_buffered(b'{"statusCode": 200, "headers": {"x-n": 5, "x-b": true}}')
    assert ("x-n", "5") in response.headers and ("x-b", "true") in response.headers


def test_a_body_that_stalls_is_refused_with_408_and_a_closed_peer_is_client_gone():
    import socket

    from runtime.emulator.http_connection import ClientGone, ConnectionLimits, RequestRejected, ServerConnection

    limits = ConnectionLimits(body_timeout=0.05)
    for then_close, expected in ((False, RequestRejected), (True, ClientGone)):
        server_side, client_side = socket.socketpair()
        with server_side, client_side:
            connection = ServerConnection(server_side, ("peer", 0), limits)
            client_side.sendall(b'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"size"')
            if then_close:
                client_side.shutdown(socket.SHUT_WR)
            assert connection.read_request() is not None
            with pytest.raises(expected) as stopped:
                connection.read_body(1000)
            if expected is RequestRejected:
                assert stopped.value.status == 408
