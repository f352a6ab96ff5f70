"""RFC 8188 `aes128gcm` content coding as pure functions: header, keys, records, whole streams.

https://www.rfc-editor.org/rfc/rfc8188 : a header (16-byte salt, 4-byte record size `rs`, key id
length and key id), then records of exactly `rs` bytes (the last may be shorter), each sealed on
its own with AES-128-GCM under a content-encryption key and a per-record nonce derived from the
input keying material and the salt. The plaintext of every record ends with a delimiter byte (1,
or 2 for the last record) followed by optional zero padding, so truncation is detected and any
range of whole records can be decrypted without the others.

Writers here always use `RECORD_SIZE` (64 KiB) records, an empty key id and no padding (as
Firefox Send does); readers accept any valid stream (other record sizes up to `MAX_RECORD_SIZE`,
key ids, padding). No I/O: bytes in, bytes out, "need more data" as a return value.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RECORD_SIZE = 64 * 1024
SALT_BYTES = 16
KEY_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
RECORD_OVERHEAD = TAG_BYTES + 1  # the tag and the delimiter byte
PLAINTEXT_PER_RECORD = RECORD_SIZE - RECORD_OVERHEAD  # 65,519 bytes of file per full record
HEADER_BYTES = SALT_BYTES + 4 + 1  # with the empty key id our writers use
MIN_RECORD_SIZE = RECORD_OVERHEAD + 1  # RFC 8188 §2: rs of 17 or less is invalid
MAX_RECORD_SIZE = 16 * 1024 * 1024  # a reader's bound on what the peer controls (RFC allows 2**32-1)
CEK_INFO = b"Content-Encoding: aes128gcm\x00"
NONCE_INFO = b"Content-Encoding: nonce\x00"
DELIMITER, LAST_DELIMITER = 0x01, 0x02


class FormatError(ValueError):
    """The bytes are not a valid aes128gcm stream, or a record failed authentication."""


@dataclass(frozen=True)
class Header:
    salt: bytes
    record_size: int = RECORD_SIZE
    key_id: bytes = b""

    def encode(self) -> bytes:
        return self.salt + struct.pack("!IB", self.record_size, len(self.key_id)) + self.key_id

    @property
    def length(self) -> int:
        return SALT_BYTES + 5 + len(self.key_id)


def parse_header(data: bytes) -> Header | None:
    """The header at the start of `data`, or None when more bytes are needed."""
    if len(data) < HEADER_BYTES:
        return None
    record_size, id_length = struct.unpack_from("!IB", data, SALT_BYTES)
    if len(data) < HEADER_BYTES + id_length:
        return None
    if not MIN_RECORD_SIZE <= record_size <= MAX_RECORD_SIZE:
        raise FormatError(f"record size {record_size} is outside {MIN_RECORD_SIZE}..{MAX_RECORD_SIZE}")
    return Header(bytes(data[:SALT_BYTES]), record_size, bytes(data[HEADER_BYTES : HEADER_BYTES + id_length]))


def hkdf(ikm: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA-256 (RFC 5869); an empty or absent salt means a zero-filled one."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


@dataclass(frozen=True)
class RecordKeys:
    """The content-encryption key and nonce base of one stream (RFC 8188 §2.2, §2.3)."""

    aead: AESGCM
    nonce_base: int

    @classmethod
    def derive(cls, ikm: bytes, salt: bytes) -> RecordKeys:
        cek = hkdf(ikm, salt, CEK_INFO, KEY_BYTES)
        nonce = hkdf(ikm, salt, NONCE_INFO, NONCE_BYTES)
        return cls(AESGCM(cek), int.from_bytes(nonce, "big"))

    def nonce(self, sequence: int) -> bytes:
        """NONCE = nonce base XOR the record's sequence number, as a 96-bit big-endian integer."""
        return (self.nonce_base ^ sequence).to_bytes(NONCE_BYTES, "big")

    def seal(self, sequence: int, plaintext: bytes, last: bool) -> bytes:
        delimiter = b"\x02" if last else b"\x01"
        return self.aead.encrypt(self.nonce(sequence), plaintext + delimiter, None)

    def open(self, sequence: int, record: bytes) -> tuple[bytes, bool]:
        """(plaintext, is_last) of one record; FormatError if it was altered or is malformed."""
        try:
            padded = self.aead.decrypt(self.nonce(sequence), bytes(record), None)
        except InvalidTag:
            raise FormatError(f"record {sequence} failed authentication") from None
        end = len(padded.rstrip(b"\x00"))
        if end == 0:
            raise FormatError(f"record {sequence} has no delimiter")
        delimiter = padded[end - 1]
        if delimiter not in (DELIMITER, LAST_DELIMITER):
            raise FormatError(f"record {sequence} has delimiter {delimiter}, not 1 or 2")
        return padded[: end - 1], delimiter == LAST_DELIMITER


# -- the geometry of what our writers produce ---------------------------------------------------


def record_count(plaintext_size: int) -> int:
    """Records for a file: full ones of 65,519 bytes, the last holding the rest (one for empty)."""
    return max(1, math.ceil(plaintext_size / PLAINTEXT_PER_RECORD))


def ciphertext_size(plaintext_size: int) -> int:
    return HEADER_BYTES + plaintext_size + RECORD_OVERHEAD * record_count(plaintext_size)


def record_plaintext_span(plaintext_size: int, sequence: int) -> tuple[int, int]:
    """(offset, length) of record `sequence`'s plaintext within the file."""
    start = sequence * PLAINTEXT_PER_RECORD
    return start, min(PLAINTEXT_PER_RECORD, plaintext_size - start)


# -- whole streams ------------------------------------------------------------------------------


class Encryptor:
    """Seals a file record by record; `record(i, plaintext)` is deterministic for a given secret+salt."""

    def __init__(self, ikm: bytes, salt: bytes, plaintext_size: int) -> None:
        self.header = Header(salt)
        self.keys = RecordKeys.derive(ikm, salt)
        self.plaintext_size = plaintext_size
        self.records = record_count(plaintext_size)

    def record(self, sequence: int, plaintext: bytes) -> bytes:
        expected = record_plaintext_span(self.plaintext_size, sequence)[1]
        if len(plaintext) != expected:
            raise ValueError(f"record {sequence} needs {expected} plaintext bytes, got {len(plaintext)}")
        return self.keys.seal(sequence, plaintext, sequence == self.records - 1)


def encrypt(ikm: bytes, salt: bytes, plaintext: bytes) -> bytes:
    """A whole small payload in one call (tests, metadata-sized inputs)."""
    encryptor = Encryptor(ikm, salt, len(plaintext))
    pieces = [encryptor.header.encode()]
    for sequence in range(encryptor.records):
        offset, length = record_plaintext_span(len(plaintext), sequence)
        pieces.append(encryptor.record(sequence, plaintext[offset : offset + length]))
    return b"".join(pieces)


class Decryptor:
    """Incremental reader: `feed()` bytes as they arrive, get verified plaintext back, then `finish()`.

    Starts at the header, or (for a resumed download) at record `first_sequence` of a stream whose
    header is already known. Holds at most one record. Any byte after the last record, a record
    that fails authentication, and a stream that ends before its last record raise FormatError.
    """

    def __init__(self, ikm: bytes, header: Header | None = None, first_sequence: int = 0) -> None:
        self.ikm = ikm
        self.header = header
        self.keys = RecordKeys.derive(ikm, header.salt) if header else None
        self.sequence = first_sequence
        self.buffer = bytearray()
        self.done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.done and data:
            raise FormatError("data after the last record")
        self.buffer += data
        if self.header is None and not self._read_header():
            return
        assert self.header is not None and self.keys is not None
        size = self.header.record_size
        while len(self.buffer) >= size and not self.done:
            yield self._open(size)
        if self.done and self.buffer:
            raise FormatError("data after the last record")

    def finish(self) -> Iterator[bytes]:
        """The last, shorter record if one is buffered; FormatError if the stream was cut short."""
        if self.header is None:
            raise FormatError("the stream ends inside its header")
        if self.buffer and not self.done:
            yield self._open(len(self.buffer))
        if not self.done:
            raise FormatError("the stream was truncated: its last record is missing")

    @property
    def records_done(self) -> int:
        return self.sequence

    def _read_header(self) -> bool:
        header = parse_header(self.buffer)
        if header is None:
            return False
        self.header = header
        self.keys = RecordKeys.derive(self.ikm, header.salt)
        del self.buffer[: header.length]
        return True

    def _open(self, length: int) -> bytes:
        assert self.keys is not None
        if length <= TAG_BYTES:
            raise FormatError(f"record {self.sequence} is too short")
        record = bytes(self.buffer[:length])
        del self.buffer[:length]
        plaintext, last = self.keys.open(self.sequence, record)
        self.sequence += 1
        self.done = last
        return plaintext


def decrypt(ikm: bytes, ciphertext: bytes) -> bytes:
    decryptor = Decryptor(ikm)
    return b"".join([*decryptor.feed(ciphertext), *decryptor.finish()])
