"""Pure codec tests: framing, prelude, trailers, and the incremental decoders at every split."""

from __future__ import annotations

import base64
import json

import pytest

from runtime import wire


def decode_all(pieces):
    decoder = wire.ChunkedDecoder()
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return decoder, events


def body_of(events):
    return b"".join(e.data for e in events if isinstance(e, wire.Data))


ENCODED = (
    wire.encode_chunk(b"hello")
    + wire.encode_chunk(b"\x00" * 8)
    + wire.encode_chunk(b"x" * 300)
    + wire.encode_last_chunk({"Lambda-Runtime-Function-Error-Type": "ValueError", "X-Other": "1"})
)


def test_encode_chunk_frames_hex_length():
    assert wire.encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert wire.encode_chunk(b"a" * 26) == b"1a\r\n" + b"a" * 26 + b"\r\n"


def test_empty_chunk_is_refused_because_it_would_end_the_body():
    with pytest.raises(ValueError):
        wire.encode_chunk(b"")


def test_last_chunk_without_and_with_trailers():
    assert wire.encode_last_chunk() == b"0\r\n\r\n"
    assert wire.encode_last_chunk({"A": "b"}) == b"0\r\nA: b\r\n\r\n"


def test_trailer_values_cannot_inject_lines():
    with pytest.raises(ValueError):
        wire.encode_last_chunk({"A": "b\r\nEvil: 1"})


def test_trailer_block_over_4k_is_refused():
    with pytest.raises(ValueError):
        wire.encode_last_chunk({"A": "x" * 5000})


def test_whole_input_decodes_to_body_and_trailers():
    decoder, events = decode_all([ENCODED + b"GET /next"])
    assert body_of(events) == b"hello" + b"\x00" * 8 + b"x" * 300
    assert events[-1] == wire.EndOfBody({"lambda-runtime-function-error-type": "ValueError", "x-other": "1"})
    assert decoder.done and decoder.unused == b"GET /next"


def test_byte_by_byte_gives_the_same_result():
    decoder, events = decode_all([ENCODED[i : i + 1] for i in range(len(ENCODED))])
    assert body_of(events) == b"hello" + b"\x00" * 8 + b"x" * 300
    assert isinstance(events[-1], wire.EndOfBody) and decoder.done


@pytest.mark.parametrize("split", range(1, len(ENCODED)))
def test_every_split_point(split):
    decoder, events = decode_all([ENCODED[:split], ENCODED[split:]])
    assert decoder.done
    assert body_of(events) == b"hello" + b"\x00" * 8 + b"x" * 300
    assert events[-1].trailers["lambda-runtime-function-error-type"] == "ValueError"


def test_data_is_passed_on_before_the_chunk_is_complete():
    decoder = wire.ChunkedDecoder()
    assert decoder.feed(b"a\r\n01234") == [wire.Data(b"01234")]
    assert decoder.feed(b"56789\r\n") == [wire.Data(b"56789")]


def test_chunk_extensions_are_ignored():
    _, events = decode_all([b"3;name=value\r\nabc\r\n0\r\n\r\n"])
    assert body_of(events) == b"abc"


@pytest.mark.parametrize(
    "bad",
    [b"zz\r\n", b"-1\r\n", b"0x5\r\nhello\r\n", b"5\r\nhelloXX", b"1" * 2000, b"12345678901234567\r\n"],
)
def test_malformed_chunks_raise_wire_error(bad):
    with pytest.raises(wire.WireError):
        decode_all([bad])


def test_oversized_trailer_block_raises():
    with pytest.raises(wire.WireError):
        decode_all([b"0\r\nA: " + b"x" * 5000])


def test_prelude_encoding_is_compact_json_with_cookies_always_present():
    prelude = wire.build_prelude(201, {"Content-Type": "text/plain"})
    assert json.loads(wire.encode_prelude(prelude)) == {
        "statusCode": 201,
        "headers": {"content-type": "text/plain"},
        "cookies": [],
    }


def test_set_cookie_headers_move_into_cookies_and_default_content_type():
    prelude = wire.build_prelude(200, [("Set-Cookie", "a=1"), ("X-A", "1"), ("x-a", "2")], ["b=2"])
    assert prelude.cookies == ("b=2", "a=1")
    assert prelude.headers == {"x-a": "1,2", "content-type": "application/octet-stream"}


@pytest.mark.parametrize("status", [99, 100, 199, 600, "200", True])
def test_prelude_rejects_bad_status(status):
    with pytest.raises((TypeError, ValueError)):
        wire.build_prelude(status)


def test_prelude_over_cap_is_refused_before_sending():
    prelude = wire.build_prelude(200, {"x-big": "v" * wire.MAX_PRELUDE_BYTES})
    with pytest.raises(ValueError):
        wire.encode_prelude(prelude)


def test_error_trailers_base64_the_body():
    trailers = wire.encode_error_trailers("ValueError", b'{"errorMessage":"x"}')
    assert trailers[wire.ERROR_TYPE_TRAILER] == "ValueError"
    assert base64.b64decode(trailers[wire.ERROR_BODY_TRAILER]) == b'{"errorMessage":"x"}'


STREAM = b'{"statusCode":200,"headers":{},"cookies":["a=1"]}' + wire.PRELUDE_DELIMITER + b"body\x00bytes"


@pytest.mark.parametrize("split", range(len(STREAM) + 1))
def test_prelude_splitter_finds_delimiter_at_any_split(split):
    splitter = wire.PreludeSplitter()
    events = splitter.feed(STREAM[:split]) + splitter.feed(STREAM[split:])
    assert events[0] == wire.PreludeReceived(wire.Prelude(200, {}, ("a=1",)))
    assert b"".join(e.data for e in events[1:]) == b"body\x00bytes"


def test_prelude_splitter_byte_by_byte():
    splitter = wire.PreludeSplitter()
    events = [e for i in range(len(STREAM)) for e in splitter.feed(STREAM[i : i + 1])]
    assert isinstance(events[0], wire.PreludeReceived)
    assert b"".join(e.data for e in events[1:]) == b"body\x00bytes"


@pytest.mark.parametrize(
    "bad",
    [b'{"statusCode":200}\x00\x00\x00x', b"not json" + wire.PRELUDE_DELIMITER, b"[]" + wire.PRELUDE_DELIMITER],
)
def test_prelude_splitter_rejects_malformed_preludes(bad):
    with pytest.raises(wire.WireError):
        wire.PreludeSplitter().feed(bad + b"\x00" * 8)


def test_prelude_splitter_bounds_memory_without_delimiter():
    splitter = wire.PreludeSplitter(max_prelude_bytes=100)
    with pytest.raises(wire.WireError):
        splitter.feed(b"{" + b" " * 200)


def test_response_head_parsing():
    head = wire.parse_response_head(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nX-A: b")
    assert (head.status, head.reason, head.headers) == (202, "Accepted", {"content-length": "2", "x-a": "b"})
    with pytest.raises(wire.WireError):
        wire.parse_response_head(b"SPDY nonsense")


def test_error_trailers_round_trip_and_tolerate_bad_base64():
    trailers = {k.lower(): v for k, v in wire.encode_error_trailers("KeyError", b'{"errorMessage":"x"}').items()}
    assert wire.decode_error_trailers(trailers) == ("KeyError", b'{"errorMessage":"x"}')
    assert wire.decode_error_trailers({}) == (None, None)
    bad = {"lambda-runtime-function-error-type": "X", "lambda-runtime-function-error-body": "not base64!"}
    assert wire.decode_error_trailers(bad) == ("X", b"not base64!")


# -- field checks at the handler's response.start() -----------------------------------------------


@pytest.mark.parametrize(
    ("headers", "cookies"),
    [
        ({"x-name": "€"}, None),  # not Latin-1
        ({"x-a": "b\r\nSet-Cookie: evil=1"}, None),  # header injection
        ({"x-a": "b\nc"}, None),
        ({"x-a": "nul\x00"}, None),
        ({"bad name": "v"}, None),
        ({"x\r\ny": "v"}, None),
        ({"": "v"}, None),
        ({}, ["a=1\r\nX: y"]),
    ],
)
def test_prelude_refuses_fields_that_are_not_http(headers, cookies):
    with pytest.raises(ValueError):
        wire.build_prelude(200, headers, cookies)


def test_prelude_accepts_latin1_and_tabs():
    prelude = wire.build_prelude(200, {"x-a": "caf\xe9\tok"})
    assert prelude.headers["x-a"] == "caf\xe9\tok"


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"statusCode":200,"x":' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"statusCode":' + b"9" * 5000 + b"}",
        b'{"statusCode":200,"x":1' + b"0" * 400 + b"}",
        b'{"statusCode":200,"x":NaN}',
        b'{"statusCode":100}',
        b'{"statusCode":200,"headers":{"x":"a\\r\\nb: c"}}',
        b'{"statusCode":200,"headers":{"x y":"v"}}',
        b'{"statusCode":200,"headers":{"x":"\\u20ac"}}',
        b'{"statusCode":200,"cookies":["a\\n"]}',
        b"\xff\xfe",
    ],
)
def test_decode_prelude_raises_only_wire_error(document):
    with pytest.raises(wire.WireError):
        wire.decode_prelude(document)


def test_decode_prelude_keeps_brackets_inside_strings():
    document = b'{"statusCode":200,"headers":{"x":"' + b"[{" * 30 + b'"}}'
    assert wire.decode_prelude(document).headers == {"x": "[{" * 30}


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 20x OK",
        b"HTTP/2 200 OK",
        b"HTTP/1.1 200 OK\r\nBad Name: x",
        b"HTTP/1.1 200 O\x00K",
    ],
)
def test_malformed_response_heads_raise_wire_error(head):
    with pytest.raises(wire.WireError):
        wire.parse_response_head(head)


def test_size_line_limit_does_not_depend_on_how_the_line_arrives():
    line = b"0" * (wire.MAX_CHUNK_SIZE_LINE + 1) + b"\r\n"
    with pytest.raises(wire.WireError):
        wire.ChunkedDecoder().feed(line)
    decoder = wire.ChunkedDecoder()
    with pytest.raises(wire.WireError):
        for index in range(len(line)):
            decoder.feed(line[index : index + 1])
    exact = b"1;" + b"e" * (wire.MAX_CHUNK_SIZE_LINE - 2) + b"\r\nx\r\n0\r\n\r\n"  # at the limit
    decoder, events = decode_all([exact[i : i + 1] for i in range(len(exact))])
    assert decoder.done and body_of(events) == b"x"


# -- request heads and body framing -------------------------------------------------------------------


def framing_of(*fields: tuple[str, str], version: str = "HTTP/1.1") -> wire.BodyFraming:
    head = "POST / " + version + "\r\nHost: h\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields)
    return wire.request_body_framing(wire.parse_request_head(head.encode("latin-1").rstrip(b"\r\n")))


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (b"GET / HTTP/1.1\r\nX: 1", "needs a Host field"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a", "more than one Host field"),
        (b"GET / HTTP/1.0\r\nHost: a\r\nHost: b", "more than one Host field"),
    ],
)
def test_host_is_required_once_in_http_1_1_and_never_repeated(head, problem):
    """RFC 9112 §3.2: a server must answer 400 to either."""
    with pytest.raises(wire.WireError, match=problem):
        wire.parse_request_head(head)
    assert wire.parse_request_head(b"GET / HTTP/1.0").headers == {}  # HTTP/1.0 may leave it out


@pytest.mark.parametrize(
    ("target", "origin"),
    [
        ("http://127.0.0.1:9000/health", "/health"),
        ("HTTP://h/a/b?x=1&y=/z", "/a/b?x=1&y=/z"),
        ("https://h?q=1", "/?q=1"),
        ("http://h", "/"),
        ("/plain?x=http://h/", "/plain?x=http://h/"),
    ],
)
def test_an_absolute_form_target_is_read_as_its_path_and_query(target, origin):
    """RFC 9112 §3.2.2: a server must accept the absolute form, as proxies send it."""
    head = wire.parse_request_head(f"GET {target} HTTP/1.1\r\nHost: h".encode())
    assert head.target == origin


def test_a_head_with_bare_lf_line_ends_is_refused_at_once_not_waited_for():
    parser = wire.RequestParser()
    assert parser.feed(b"GET / HTTP/1.1\r\n") == []  # an unfinished head: wait for more
    with pytest.raises(wire.WireError, match="bare LF"):
        parser.feed(b"Host: h\n\n")


def test_request_head_keeps_field_order_and_joins_repeats():
    head = wire.parse_request_head(b"GET /a?b=1 HTTP/1.1\r\nHost: h\r\nX-H: a\r\nx-h: b")
    assert (head.method, head.target, head.version) == ("GET", "/a?b=1", "HTTP/1.1")
    assert head.fields == (("host", "h"), ("x-h", "a"), ("x-h", "b"))
    assert head.headers["x-h"] == "a, b"
    assert head.keep_alive


@pytest.mark.parametrize(
    "head",
    [
        b"GET /a",
        b"GET  /a HTTP/1.1",
        b"G(T / HTTP/1.1",
        b"GET /\x01 HTTP/1.1",
        b"GET /\xe9 HTTP/1.1",
        b"GET / HTTP/1.1\r\n folded: x",
        b"GET / HTTP/1.1\r\nName : x",
        b"GET / HTTP/1.1\r\nX: a\x00b",
        b"GET / FTP/1.0",
    ],
)
def test_malformed_request_heads_raise_wire_error(head):
    with pytest.raises(wire.WireError):
        wire.parse_request_head(head)


def test_unknown_http_versions_are_their_own_error():
    with pytest.raises(wire.UnsupportedVersion):
        wire.parse_request_head(b"GET / HTTP/2.0")


def test_body_framing_reads_lengths_and_chunked():
    assert framing_of(("Content-Length", "5")) == wire.BodyFraming(wire.LENGTH, 5)
    assert framing_of(("Content-Length", "5"), ("Content-Length", "5")) == wire.BodyFraming(wire.LENGTH, 5)
    assert framing_of(("Content-Length", "5, 5")) == wire.BodyFraming(wire.LENGTH, 5)
    assert framing_of(("Content-Length", "0")) == wire.BodyFraming(wire.NO_BODY)
    assert framing_of() == wire.BodyFraming(wire.NO_BODY)
    assert framing_of(("Transfer-Encoding", "Chunked")) == wire.BodyFraming(wire.CHUNKED)


@pytest.mark.parametrize(
    "fields",
    [
        [("Content-Length", "\xb2")],  # a digit to str.isdigit(), not to HTTP
        [("Content-Length", "-1")],
        [("Content-Length", "+5")],
        [("Content-Length", "5"), ("Content-Length", "6")],
        [("Content-Length", "5, 6")],
        [("Content-Length", "")],
        [("Content-Length", "9" * 30)],
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "xchunked")],
        [("Transfer-Encoding", "chunked, gzip")],
        [("Transfer-Encoding", "chunked, chunked")],
        [("Transfer-Encoding", "")],
    ],
)
def test_malformed_framing_is_refused(fields):
    with pytest.raises(wire.WireError):
        framing_of(*fields)


def test_codings_other_than_chunked_are_not_implemented():
    with pytest.raises(wire.UnsupportedTransferCoding):
        framing_of(("Transfer-Encoding", "gzip, chunked"))


def test_transfer_encoding_in_http_1_0_is_refused():
    with pytest.raises(wire.WireError):
        framing_of(("Transfer-Encoding", "chunked"), version="HTTP/1.0")


def test_response_framing_has_no_body_for_head_204_and_304():
    assert wire.response_body_framing(204, {"content-length": "5"}).kind == wire.NO_BODY
    assert wire.response_body_framing(200, {"content-length": "5"}, "HEAD").kind == wire.NO_BODY
    assert wire.response_body_framing(200, {"content-length": "5"}) == wire.BodyFraming(wire.LENGTH, 5)
    assert wire.response_body_framing(200, {}).kind == wire.UNTIL_CLOSE


# -- requests on a connection -------------------------------------------------------------------------


PIPELINED = (
    b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    b"PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy"
)


def read_requests(pieces):
    parser, requests = wire.RequestParser(), []

    def take(events):
        for event in events:
            if isinstance(event, wire.RequestStarted):
                requests.append([event.head.target, b"", None])
            elif isinstance(event, wire.Data):
                requests[-1][1] += bytes(event.data)
            else:
                requests[-1][2] = dict(event.trailers)

    for piece in pieces:
        take(parser.feed(piece))
        while parser.done:
            take(parser.start_next())
    return requests


@pytest.mark.parametrize("split", range(len(PIPELINED) + 1))
def test_pipelined_requests_after_a_chunked_body_are_all_read(split):
    assert read_requests([PIPELINED[:split], PIPELINED[split:]]) == [
        ["/a", b"abc", {"t": "1"}],
        ["/b", b"", {}],
        ["/c", b"xy", {}],
    ]


def test_request_parser_bounds_the_head():
    parser = wire.RequestParser()
    with pytest.raises(wire.FieldsTooLarge):
        parser.feed(b"GET / HTTP/1.1\r\nX: " + b"v" * wire.MAX_HEAD_BYTES)
