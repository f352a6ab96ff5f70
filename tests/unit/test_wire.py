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


@pytest.mark.parametrize("status", [99, 600, "200", True])
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
