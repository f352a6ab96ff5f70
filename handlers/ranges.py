"""HTTP `Range: bytes=...` for one range, as a pure function (RFC 9110 §14.1.2, §14.4).

Forms: `a-b`, `a-` (open-ended), `-n` (the last n bytes). A header we cannot use (another unit,
several ranges, bad syntax) is ignored and the whole body is served, as the RFC allows; a
well-formed range that selects nothing is unsatisfiable (416). Numbers are never converted
beyond 19 digits: a longer one is simply larger than any object (a first byte past the end, a
last byte clipped to the end, a suffix covering everything).

`exact_s3_form` says whether S3 reads a header exactly as `parse_range` does, so that a presigned
GET can be bound to it and charged by its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.ASCII)
S3_FORM = re.compile(r"^bytes=(?:[1-9]\d{0,18}|0)-(?:(?:[1-9]\d{0,18}|0))?$|^bytes=-[1-9]\d{0,18}$", re.ASCII)
MAX_DIGITS = 19
BEYOND_ANY_OBJECT = 10**MAX_DIGITS


class Unsatisfiable(ValueError):
    """The range is well formed but selects no byte of the object."""


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.first}-{self.last}/{total}"

    def s3_range(self) -> str:
        return f"bytes={self.first}-{self.last}"


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """The requested range clipped to `total` bytes; None to serve everything; raises Unsatisfiable."""
    if not header:
        return None
    found = SINGLE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if found is None:
        return None
    start_text, end_text = found.groups()
    if not start_text and not end_text:
        return None
    if not start_text:  # suffix: the last n bytes
        suffix = _number(end_text)
        if suffix == 0 or total == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, total - suffix), total - 1)
    first = _number(start_text)
    last = _number(end_text) if end_text else total - 1
    if end_text and last < first:
        return None  # syntactically invalid: ignore
    if first >= total:
        raise Unsatisfiable(header)
    return ByteRange(first, min(last, total - 1))


def exact_s3_form(header: str | None) -> bool:
    """True for `bytes=a-b`, `bytes=a-`, `bytes=-n` written plainly (no spaces, no leading zeros)."""
    return bool(header) and S3_FORM.fullmatch(header or "") is not None


def _number(digits: str) -> int:
    """The value of a digit string, without converting more than MAX_DIGITS digits."""
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= MAX_DIGITS else BEYOND_ANY_OBJECT
