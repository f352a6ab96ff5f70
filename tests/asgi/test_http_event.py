"""The request a Function URL event describes: pure, on plain dicts."""

from __future__ import annotations

import base64

import pytest

from runtime.http_event import NotAnHttpEvent, request_from_event


def function_url_event(**overrides):
    """Shaped like the payload format 2.0 example in AWS's Function URL documentation."""
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"header1": "value1", "header2": "value1,value2", "host": "abc.lambda-url.us-east-1.on.aws"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "agent",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": "Hello from client!",
        "isBase64Encoded": False,
    }
    event.update(overrides)
    return event


def test_documented_event_becomes_the_request_a_server_would_have_seen():
    request = request_from_event(function_url_event())
    assert request.method == "POST"
    assert request.path == "/my/path" and request.raw_path == b"/my/path"
    assert request.query_string == b"parameter1=value1&parameter1=value2&parameter2=value"
    assert (b"header2", b"value1,value2") in request.headers
    assert (b"cookie", b"cookie1; cookie2") in request.headers
    assert request.body == b"Hello from client!"
    assert request.client == ("203.0.113.7", 0)
    assert request.server == ("abc.lambda-url.us-east-1.on.aws", 443)
    assert request.scheme == "https" and request.http_version == "1.1"


def test_percent_encoded_path_is_decoded_and_raw_path_kept():
    request = request_from_event(function_url_event(rawPath="/caf%C3%A9/a%2Fb%20c"))
    assert request.path == "/café/a/b c"
    assert request.raw_path == b"/caf%C3%A9/a%2Fb%20c"


def test_cookie_header_is_rebuilt_from_the_cookies_list_once():
    event = function_url_event(cookies=["a=1", "b=2"])
    event["headers"]["cookie"] = "a=1; b=2"
    cookies = [value for name, value in request_from_event(event).headers if name == b"cookie"]
    assert cookies == [b"a=1; b=2"]
    no_list = function_url_event()
    del no_list["cookies"]
    no_list["headers"]["cookie"] = "only=header"
    assert (b"cookie", b"only=header") in request_from_event(no_list).headers


def test_base64_body_is_decoded():
    payload = bytes(range(256))
    event = function_url_event(body=base64.b64encode(payload).decode(), isBase64Encoded=True)
    assert request_from_event(event).body == payload


def test_get_without_body_query_or_cookies():
    event = function_url_event(rawQueryString="")
    for key in ("body", "cookies", "queryStringParameters"):
        del event[key]
    event["requestContext"]["http"]["method"] = "get"
    request = request_from_event(event)
    assert request.method == "GET" and request.body == b"" and request.query_string == b""
    assert all(name != b"cookie" for name, _ in request.headers)


def test_forwarded_scheme_port_and_host_port():
    event = function_url_event()
    event["headers"].update({"x-forwarded-proto": "http", "x-forwarded-port": "8080, 443", "host": "example.test"})
    request = request_from_event(event)
    assert request.scheme == "http" and request.server == ("example.test", 8080)
    event["headers"]["host"] = "127.0.0.1:9001"
    assert request_from_event(event).server == ("127.0.0.1", 9001)
    event["headers"]["host"] = "[::1]:9002"
    assert request_from_event(event).server == ("::1", 9002)


def test_non_latin1_header_values_keep_their_utf8_bytes():
    event = function_url_event()
    event["headers"]["x-name"] = "€"
    assert (b"x-name", "€".encode()) in request_from_event(event).headers


def test_query_is_rebuilt_from_parameters_when_raw_query_is_missing():
    event = function_url_event()
    del event["rawQueryString"]
    event["queryStringParameters"] = {"q": "a b"}
    assert request_from_event(event).query_string == b"q=a+b"


def test_http2_protocol_and_missing_raw_path():
    event = function_url_event()
    del event["rawPath"]
    event["requestContext"]["http"]["protocol"] = "HTTP/2.0"
    request = request_from_event(event)
    assert request.http_version == "2" and request.path == "/my/path"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"requestContext": {}},
        {"requestContext": {"http": {}}},
        {"requestContext": {"http": {"method": 1}}},
        function_url_event(body="not base64!", isBase64Encoded=True),
        function_url_event(body=3),
        function_url_event(headers={"x": 1}),
        function_url_event(cookies="a=1"),
        function_url_event(rawPath=["/"]),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_anything_else_is_not_an_http_event(event):
    with pytest.raises(NotAnHttpEvent):
        request_from_event(event)
