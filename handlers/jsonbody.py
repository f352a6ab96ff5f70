"""JSON request bodies, parsed with bounds on everything the client controls.

Python's `json` would turn a 5,000-digit number into a `ValueError` and a deeply nested document
into a `RecursionError` (both 500s). Here the body size, the nesting depth and the digits of every
integer are bounded before anything is converted, and each violation is a 400 (or 413 for size)
that names the limit. `NaN` and `Infinity`, which are not JSON, are refused too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from handlers.errors import ApiError

MAX_DEPTH = 8  # our documents nest 3 deep ({"parts": [{...}]})
MAX_INTEGER_DIGITS = 20  # every integer we accept fits in 19 digits
STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
BRACKET = re.compile(r"[\[\]{}]")


class _Refused(ValueError):
    """Raised from inside `json.loads` hooks; becomes a 400."""


def parse_object(body: bytes, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}`. ApiError 400/413 for anything else."""
    if len(body) > max_bytes:
        raise ApiError(413, "too_large", f"JSON request bodies are limited to {max_bytes} bytes")
    if not body.strip():
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not UTF-8") from None
    if nesting_depth(text) > MAX_DEPTH:
        raise ApiError(400, "invalid_json", f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except _Refused as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return document


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (unbalanced text still gets a number; json rejects it)."""
    depth = deepest = 0
    for bracket in BRACKET.findall(STRING.sub("", text)):
        depth = depth + 1 if bracket in "[{" else depth - 1
        deepest = max(deepest, depth)
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"integers are limited to {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")
