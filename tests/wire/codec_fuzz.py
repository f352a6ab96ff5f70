"""Property checks for the pure codecs: every malformed input raises WireError and nothing else,
and decoding an input whole and decoding it split at any point give the same result.

Inputs are generated (valid messages with random sizes, fields, trailers and pipelined tails)
and then mutated (bytes flipped, inserted, deleted, duplicated, truncated), so most are near-valid:
the inputs where a decoder's limits and state changes matter. The test suite runs a bounded
number on every run (tests/unit/test_codec_properties.py); the full run is a command:

    .venv/bin/python -m tests.wire.codec_fuzz --count 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence

from runtime import wire

INTERESTING = b'\r\n\x00;:= \t0123456789abcdefABCDEF-+\x7f\x80\xff{}[]"\\'


# ---------------------------------------------------------------------------------------------
# Generators of valid messages


def _token(rng: random.Random, length: int | None = None) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+.^_`|~"
    return "".join(rng.choice(alphabet) for _ in range(length or rng.randint(1, 12)))


def _value(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return "v" * rng.choice([100, 1000, 4000])
    alphabet = "abc XYZ 019=;,/\t\"'é"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))).strip()


def chunked_body(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(0, 5)):
        size = rng.choice([1, 2, 7, 16, 255, 256, rng.randint(1, 400)])
        size_text = f"{size:x}"
        if rng.random() < 0.2:
            size_text = size_text.upper()
        if rng.random() < 0.1:
            size_text = "0" * rng.randint(1, 8) + size_text
        if rng.random() < 0.05:
            size_text = size_text.rjust(rng.choice([1020, 1023, 1024, 1025, 1030]), "0")
        extension = f";{_token(rng)}={_token(rng)}" if rng.random() < 0.15 else ""
        parts.append(f"{size_text}{extension}\r\n".encode() + rng.randbytes(size) + b"\r\n")
    trailers = "".join(f"{_token(rng)}: {_value(rng)}\r\n" for _ in range(rng.choice([0, 0, 1, 2, 3])))
    parts.append(f"0\r\n{trailers}\r\n".encode())
    return b"".join(parts)


def prelude_body(rng: random.Random) -> bytes:
    document: dict[str, object] = {"statusCode": rng.choice([200, 201, 204, 302, 404, 500, 599])}
    if rng.random() < 0.8:
        document["headers"] = {_token(rng): _value(rng) for _ in range(rng.randint(0, 4))}
    if rng.random() < 0.8:
        document["cookies"] = [f"{_token(rng)}={_token(rng)}" for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.05:
        document["nested"] = json.loads("[" * 40 + "]" * 40)
    text = json.dumps(document, ensure_ascii=rng.random() < 0.5).encode("utf-8")
    if rng.random() < 0.05:  # a number json.loads would refuse (or take seconds) to convert
        text = text[:-1] + b',"big":' + b"9" * rng.choice([10, 40, 5000]) + rng.choice([b"", b".5", b"e999"]) + b"}"
    return text + wire.PRELUDE_DELIMITER + rng.randbytes(rng.randint(0, 50))


def request_stream(rng: random.Random) -> bytes:
    requests = []
    for _ in range(rng.randint(1, 3)):
        method = rng.choice(["GET", "POST", "PUT", "HEAD", "DELETE"])
        target = rng.choice(["/", "/a/b?x=1&x=2", "/%20x", "*", "/" + _token(rng)])
        version = rng.choice(["HTTP/1.1"] * 8 + ["HTTP/1.0"])
        fields = [("Host", "example")] + [(_token(rng), _value(rng)) for _ in range(rng.randint(0, 3))]
        body = b""
        framing = rng.choice(["none", "length", "chunked"])
        if framing == "length":
            body = rng.randbytes(rng.randint(0, 60))
            fields.append(("Content-Length", str(len(body))))
        elif framing == "chunked":
            body = chunked_body(rng)
            fields.append(("Transfer-Encoding", "chunked"))
        head = f"{method} {target} {version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        requests.append(head.encode("utf-8") + body)
    return b"".join(requests)


def response_head(rng: random.Random) -> bytes:
    status = rng.choice(["200", "202", "413", "500", "99", "2000", "20x"])
    fields = "".join(f"{_token(rng)}: {_value(rng)}\r\n" for _ in range(rng.randint(0, 3)))
    return f"HTTP/1.1 {status} {_value(rng)}\r\n{fields}".encode().removesuffix(b"\r\n")


def mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        position = rng.randint(0, len(buffer))
        action = rng.randint(0, 5)
        if action == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] = rng.choice(INTERESTING)
        elif action == 1:
            buffer[position:position] = bytes(rng.choice(INTERESTING) for _ in range(rng.randint(1, 4)))
        elif action == 2:
            del buffer[position : position + rng.randint(1, 6)]
        elif action == 3:
            buffer[position:position] = buffer[position : position + rng.randint(1, 40)]
        elif action == 4:
            del buffer[position:]
        else:
            buffer[position:position] = b"\r\n" if rng.random() < 0.5 else b"\r\n\r\n"
    return bytes(buffer)


# ---------------------------------------------------------------------------------------------
# Decoding whole and split


def _joined(pieces: list[bytes | memoryview]) -> bytes:
    return b"".join(bytes(piece) for piece in pieces)


def decode_chunked(pieces: Sequence[bytes]) -> object:
    decoder = wire.ChunkedDecoder()
    data: list[bytes | memoryview] = []
    trailers = None
    try:
        for piece in pieces:
            for event in decoder.feed(piece):
                if isinstance(event, wire.Data):
                    data.append(event.data)
                else:
                    trailers = dict(event.trailers)
    except wire.WireError:
        return "error"
    return (_joined(data), trailers, decoder.done, decoder.unused if decoder.done else None)


def decode_prelude_stream(pieces: Sequence[bytes]) -> object:
    splitter = wire.PreludeSplitter()
    prelude, data = None, []
    try:
        for piece in pieces:
            for event in splitter.feed(piece):
                if isinstance(event, wire.PreludeReceived):
                    prelude = event.prelude
                else:
                    data.append(event.data)
    except wire.WireError:
        return "error"
    return (prelude, _joined(data))


def decode_requests(pieces: Sequence[bytes]) -> object:
    parser = wire.RequestParser()
    requests: list[list[object]] = []

    def take(events: list[object]) -> None:
        for event in events:
            if isinstance(event, wire.RequestStarted):
                requests.append([event.head, event.framing, b""])
            elif isinstance(event, wire.Data):
                requests[-1][2] += bytes(event.data)
            else:
                requests[-1].append(dict(event.trailers))

    try:
        for piece in pieces:
            take(parser.feed(piece))
            while parser.done:
                take(parser.start_next())
    except wire.WireError:
        return ("error", [request for request in requests if len(request) == 4])  # completed ones
    return requests


def decode_whole_only(decode: Callable[[bytes], object]) -> Callable[[Sequence[bytes]], object]:
    def run(pieces: Sequence[bytes]) -> object:
        try:
            return decode(b"".join(pieces))
        except wire.WireError:
            return "error"

    return run


CASES: dict[str, tuple[Callable[[random.Random], bytes], Callable[[Sequence[bytes]], object]]] = {
    "chunked": (chunked_body, decode_chunked),
    "prelude": (prelude_body, decode_prelude_stream),
    "requests": (request_stream, decode_requests),
    "response_head": (response_head, decode_whole_only(wire.parse_response_head)),
    "prelude_json": (
        lambda rng: prelude_body(rng).split(b"\x00", 1)[0],
        decode_whole_only(wire.decode_prelude),
    ),
}


def splits(rng: random.Random, data: bytes, every_point_up_to: int) -> list[list[bytes]]:
    """Ways to cut `data`: every single split point for short inputs, else a sample; plus 3-way."""
    short = len(data) <= every_point_up_to
    points = range(len(data) + 1) if short else sorted(rng.sample(range(len(data) + 1), 8))
    ways = [[data[:point], data[point:]] for point in points]
    if len(data) > 2:
        first, second = sorted(rng.sample(range(1, len(data)), 2))
        ways.append([data[:first], data[first:second], data[second:]])
    if len(data) <= 64:
        ways.append([data[i : i + 1] for i in range(len(data))])
    return ways


def check_one(name: str, rng: random.Random, every_point_up_to: int = 96) -> None:
    """Generate, mutate and check one input for codec `name`; AssertionError on a violation.

    Any exception other than WireError escapes from the decoders and fails the caller.
    """
    generate, decode = CASES[name]
    data = mutate(rng, generate(rng))
    whole = decode([data])
    for pieces in splits(rng, data, every_point_up_to):
        split = decode(pieces)
        if split != whole:
            raise AssertionError(f"{name}: whole {whole!r:.200} != split {split!r:.200} for {data!r:.300}")


def run(count: int, seed: int, names: Sequence[str] = tuple(CASES)) -> int:
    rng = random.Random(seed)
    for index in range(count):
        check_one(names[index % len(names)], rng)
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    started = time.monotonic()
    print(f"checking {args.count} generated inputs, seed {args.seed}", flush=True)
    run(args.count, args.seed)
    print(f"ok: {args.count} inputs, every codec whole == split, only WireError ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
