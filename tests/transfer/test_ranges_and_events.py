"""Pure parts of the relay and the event stream: Range parsing and the SSE wire format."""

import pytest

from handlers.events import format_event
from handlers.ranges import ByteRange, Unsatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=5-", ByteRange(5, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-1000", ByteRange(0, 99)),
        ("bytes=10-5000", ByteRange(10, 99)),
        ("bytes = 1-2", ByteRange(1, 2)),
    ],
)
def test_single_ranges(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", [None, "", "items=0-1", "bytes=0-1,5-6", "bytes=5-1", "bytes=-", "bytes=a-b"])
def test_unusable_ranges_are_ignored(header):
    assert parse_range(header, 100) is None


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


def test_range_headers():
    chosen = ByteRange(10, 19)
    assert (chosen.length, chosen.content_range(100), chosen.s3_range()) == (10, "bytes 10-19/100", "bytes=10-19")


def test_event_format():
    assert format_event("state", {"a": 1}, "3.0") == b'id: 3.0\nevent: state\ndata: {"a":1}\n\n'
    assert format_event("end", {"reason": "expired"}) == b'event: end\ndata: {"reason":"expired"}\n\n'
