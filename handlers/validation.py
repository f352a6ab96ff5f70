"""Field checks for JSON request bodies: each failure names the field and says why (400)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from handlers.errors import invalid

MISSING = object()


def reject_unknown(document: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(document) - set(allowed))
    if unknown:
        raise invalid(unknown[0], "unknown field")


def integer(document: Mapping[str, Any], field: str, minimum: int, maximum: int, default: Any = MISSING) -> int:
    value = document.get(field, MISSING)
    if value is MISSING or (value is None and default is not MISSING):
        if default is MISSING:
            raise invalid(field, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"must be an integer, not {type(value).__name__}")
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
    return value


def optional_string(document: Mapping[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, f"must be a string, not {type(value).__name__}")
    return value
