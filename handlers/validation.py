"""Field checks for JSON request bodies: each failure names the field and says why (400)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from handlers.errors import ApiError, invalid

FIELD_NAME_SHOWN = 64  # an unknown field's name is echoed in the message, cut to this length

MISSING = object()


def reject_unknown(document: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(document) - set(allowed))
    if unknown:
        raise invalid(unknown[0][:FIELD_NAME_SHOWN], "unknown field")


def integer(
    document: Mapping[str, Any],
    field: str,
    minimum: int,
    maximum: int,
    default: Any = MISSING,
    above_maximum: Callable[[int], ApiError] | None = None,
) -> int:
    """An integer field within [minimum, maximum]; `above_maximum` builds the error for too large a value."""
    value = document.get(field, MISSING)
    if value is MISSING or (value is None and default is not MISSING):
        if default is MISSING:
            raise invalid(field, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"must be an integer, not {type(value).__name__}")
    if value > maximum and above_maximum is not None:
        raise above_maximum(value)
    if not minimum <= value <= maximum:
        raise invalid(field, f"must be between {minimum} and {maximum}")
    return value


def sha256_digest(document: Mapping[str, Any], field: str = "sha256") -> str | None:
    """An optional base64 SHA-256 digest (as S3's x-amz-checksum-sha256 takes it)."""
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field, "is not valid base64") from None
    if len(raw) != 32:
        raise invalid(field, "must be the base64 of a 32-byte SHA-256 digest")
    if base64.b64encode(raw).decode("ascii") != value:  # unused low bits set: two spellings of one digest
        raise invalid(field, "is not canonical base64 (encode the 32 digest bytes with padding)")
    return value


def optional_string(document: Mapping[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, f"must be a string, not {type(value).__name__}")
    return value
