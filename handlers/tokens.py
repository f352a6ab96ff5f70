"""Capability tokens and transfer ids: random, URL-safe, stored only as hashes.

Tokens carry 256 bits from `secrets`, so a plain SHA-256 is a sufficient one-way store (there is
nothing to brute-force); comparison is constant-time. Ids carry 128 bits and are validated
against a strict pattern before they are ever put into an S3 key. Creation keys (the optional
credential for `POST /transfers`) are configured as SHA-256 hashes too, and checked against every
configured hash without stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

TOKEN_BYTES = 32
ID_BYTES = 16
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # token_urlsafe(16): 22 characters
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32): 43 characters
MAX_CREATION_KEY_CHARS = 256


def new_transfer_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_transfer_id(value: str) -> bool:
    return bool(ID_PATTERN.fullmatch(value))  # fullmatch: "$" would let a trailing newline through


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Constant-time check of `token` against a stored hash; False for anything malformed."""
    if not token or not stored_hash or not TOKEN_PATTERN.fullmatch(token):
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def creation_key_allowed(key: str, allowed_hashes: Iterable[str]) -> bool:
    """Constant-time check of a creation key against every configured SHA-256 (hex) hash."""
    if not key or len(key) > MAX_CREATION_KEY_CHARS:
        return False
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    found = False
    for allowed in allowed_hashes:
        found |= hmac.compare_digest(digest, allowed)
    return found
