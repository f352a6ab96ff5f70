"""JSON for the runtime's start-up path, without importing the `json` package.

`import json` pulls in `re` (and, through it, `enum` and the regular-expression compiler): about
10 ms of every cold start on Lambda, measured with `./dev bench cold_start`, for parsing events
and writing answers that CPython's C accelerator (`_json`, which `json` itself uses) does alone.
So this module drives `_json`'s scanner and encoder directly, with the same options `json.loads`
and `json.dumps` give them, and falls back to the `json` package where `_json` does not exist
(another Python implementation). Decoding accepts what `json.loads` accepts from UTF-8 text
(leading and trailing whitespace, a UTF-8 byte-order mark) and raises ValueError otherwise.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # not CPython: the json package is all there is
    _json = None

WHITESPACE = " \t\n\r"


class _ScannerOptions:
    """The attributes `_json.make_scanner` reads from its context (json.JSONDecoder's)."""

    __slots__ = ("object_hook", "object_pairs_hook", "parse_constant", "parse_float", "parse_int", "strict")

    def __init__(
        self,
        parse_int: Callable[[str], Any] | None,
        parse_float: Callable[[str], Any] | None,
        parse_constant: Callable[[str], Any] | None,
    ) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_int = parse_int or int
        self.parse_float = parse_float or float
        self.parse_constant = parse_constant or _CONSTANTS.__getitem__


_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_default_scanner = None


def loads(
    document: bytes | bytearray | str,
    *,
    parse_int: Callable[[str], Any] | None = None,
    parse_float: Callable[[str], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """As `json.loads`; raises ValueError (UnicodeDecodeError included) for anything that is not JSON,
    nesting too deep for the interpreter included."""
    text = document.decode("utf-8") if isinstance(document, (bytes, bytearray)) else document
    if text.startswith("\ufeff"):  # a byte-order mark, as json.loads accepts (the utf-8-sig codec costs an import)
        text = text[1:]
    if _json is None:
        import json

        return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    scanner = _scanner(parse_int, parse_float, parse_constant)
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = scanner(text, start)
    except StopIteration as stop:
        raise ValueError(f"not valid JSON at character {stop.value}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if text[end:].strip(WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _scanner(
    parse_int: Callable[[str], Any] | None,
    parse_float: Callable[[str], Any] | None,
    parse_constant: Callable[[str], Any] | None,
) -> Callable[[str, int], tuple[Any, int]]:
    global _default_scanner
    if parse_int is None and parse_float is None and parse_constant is None:
        if _default_scanner is None:
            _default_scanner = _json.make_scanner(_ScannerOptions(None, None, None))
        return _default_scanner
    return _json.make_scanner(_ScannerOptions(parse_int, parse_float, parse_constant))


def dumps(value: Any, *, ensure_ascii: bool = True, separators: tuple[str, str] = (", ", ": ")) -> str:
    """As `json.dumps` with these options; raises TypeError or ValueError for what JSON cannot hold."""
    if _json is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators)
    item_separator, key_separator = separators
    if isinstance(value, str):
        return _quote(value, ensure_ascii)
    encode = _json.make_encoder(
        {},  # markers: circular references raise ValueError, as in json.dumps
        _not_serializable,
        _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
        None,  # indent
        key_separator,
        item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan, as json.dumps
    )
    return "".join(encode(value, 0))


def _quote(text: str, ensure_ascii: bool) -> str:
    return (_json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring)(text)


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
