"""The file's name, size and media type, sealed for the transfer's opaque `metadata` field.

The key is HKDF-SHA-256 of the transfer secret (empty salt, info "metadata", 16 bytes), as Firefox
Send derives its metadata key; unlike Send, each seal uses a random 96-bit nonce stored in front,
so the key never meets a nonce twice. The field is base64url (no padding) of
nonce ‖ AES-128-GCM(JSON) ‖ tag, where the JSON is `{"name": str, "size": int, "type": str}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from client.ece import KEY_BYTES, NONCE_BYTES, TAG_BYTES, hkdf

METADATA_INFO = b"metadata"
DEFAULT_TYPE = "application/octet-stream"
MAX_NAME_CHARS = 255


class MetadataError(ValueError):
    """The metadata does not open with this secret (a wrong or damaged link) or is malformed."""


@dataclass(frozen=True)
class FileMetadata:
    name: str
    size: int
    type: str = DEFAULT_TYPE

    def document(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "type": self.type}


def metadata_key(secret: bytes) -> AESGCM:
    return AESGCM(hkdf(secret, b"", METADATA_INFO, KEY_BYTES))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def seal_metadata(secret: bytes, metadata: FileMetadata, nonce: bytes | None = None) -> str:
    nonce = nonce or os.urandom(NONCE_BYTES)
    plaintext = json.dumps(metadata.document(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b64url(nonce + metadata_key(secret).encrypt(nonce, plaintext, None))


def open_metadata(secret: bytes, sealed: str | None) -> FileMetadata:
    if not sealed:
        raise MetadataError("the transfer carries no metadata: it was not sent by this client")
    try:
        raw = unb64url(sealed)
    except ValueError:
        raise MetadataError("the transfer's metadata is not base64url") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise MetadataError("the transfer's metadata is too short")
    try:
        plaintext = metadata_key(secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
    except InvalidTag:
        raise MetadataError("the link's secret does not open this transfer (wrong or damaged link)") from None
    try:
        document = json.loads(plaintext)
        name, size, media_type = document["name"], document["size"], document.get("type") or DEFAULT_TYPE
    except (ValueError, KeyError, TypeError):
        raise MetadataError("the transfer's metadata is not the expected JSON") from None
    if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MetadataError("the transfer's metadata has a malformed name or size")
    return FileMetadata(name, size, str(media_type))
