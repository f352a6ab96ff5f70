"""The aes128gcm format: RFC 8188 §3 vectors, interop with http_ece both ways, tampering, metadata, links."""

from __future__ import annotations

import base64
import os

import http_ece
import pytest

from client import ece
from client.link import LinkError, ShareLink, parse_link
from client.metadata import FileMetadata, MetadataError, open_metadata, seal_metadata


def b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# RFC 8188 §3.1 (one record, rs 4096) and §3.2 (two records of rs 25, key id "a1", padding).
RFC_3_1 = ("yqdlZ-tYemfogSmv7Ws5PQ", "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg")
RFC_3_2 = (
    "BO3ZVPxUlnLORbVGMpbT1Q",
    "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA",
)


@pytest.mark.parametrize(("ikm", "body"), [RFC_3_1, RFC_3_2], ids=["3.1", "3.2"])
def test_rfc8188_vectors_decrypt(ikm, body):
    assert ece.decrypt(b64u(ikm), b64u(body)) == b"I am the walrus"


def test_rfc8188_3_1_intermediate_values_and_exact_ciphertext():
    ikm, body = map(b64u, RFC_3_1)
    header = ece.parse_header(body)
    assert header == ece.Header(b64u("I1BsxtFttlv3u_Oo94xnmw"), 4096, b"")
    keys = ece.RecordKeys.derive(ikm, header.salt)
    assert keys.nonce(0) == b64u("Bcs8gkIRKLI8GeI8")
    assert ece.hkdf(ikm, header.salt, ece.CEK_INFO, 16) == b64u("_wniytB-ofscZDh4tbSjHw")
    assert header.encode() + keys.seal(0, b"I am the walrus", last=True) == body


def test_rfc8188_3_2_record_layout():
    ikm, body = map(b64u, RFC_3_2)
    header = ece.parse_header(body)
    assert (header.record_size, header.key_id) == (25, b"a1")
    decryptor = ece.Decryptor(ikm)
    # Both records are full-size (25 bytes); the second carries the last-record delimiter.
    pieces = list(decryptor.feed(body[:-1]))
    assert pieces == [b"I am th"] and not decryptor.done
    assert list(decryptor.feed(body[-1:])) == [b"e walrus"] and decryptor.done
    assert list(decryptor.finish()) == []


@pytest.mark.parametrize(
    "size", [0, 1, ece.PLAINTEXT_PER_RECORD - 1, ece.PLAINTEXT_PER_RECORD, ece.PLAINTEXT_PER_RECORD + 1, 200_000]
)
def test_geometry_and_round_trip(size):
    secret, salt, plaintext = os.urandom(16), os.urandom(16), os.urandom(size)
    ciphertext = ece.encrypt(secret, salt, plaintext)
    assert len(ciphertext) == ece.ciphertext_size(size)
    assert ece.decrypt(secret, ciphertext) == plaintext
    last_record = len(ciphertext) - ece.HEADER_BYTES - (ece.record_count(size) - 1) * ece.RECORD_SIZE
    assert ece.RECORD_OVERHEAD <= last_record <= ece.RECORD_SIZE  # every other record is exactly 64 KiB


@pytest.mark.parametrize("size", [1, ece.PLAINTEXT_PER_RECORD, 3 * ece.PLAINTEXT_PER_RECORD + 7])
def test_ours_decrypted_by_http_ece(size):
    secret, plaintext = os.urandom(16), os.urandom(size)
    ciphertext = ece.encrypt(secret, os.urandom(16), plaintext)
    assert http_ece.decrypt(ciphertext, key=secret, version="aes128gcm") == plaintext


@pytest.mark.parametrize(("size", "rs"), [(1, 4096), (10_000, 4096), (200_000, ece.RECORD_SIZE), (5000, 100)])
def test_http_ece_decrypted_by_ours_fed_byte_ranges(size, rs):
    secret, plaintext = os.urandom(16), os.urandom(size)
    ciphertext = http_ece.encrypt(plaintext, salt=os.urandom(16), key=secret, rs=rs, version="aes128gcm")
    decryptor = ece.Decryptor(secret)
    out = bytearray()
    for start in range(0, len(ciphertext), 777):  # arbitrary split points
        for piece in decryptor.feed(ciphertext[start : start + 777]):
            out += piece
    out += b"".join(decryptor.finish())
    assert out == plaintext


def test_every_split_point_of_a_small_stream():
    secret = os.urandom(16)
    ciphertext = http_ece.encrypt(b"split me anywhere", salt=os.urandom(16), key=secret, rs=20, version="aes128gcm")
    for split in range(len(ciphertext) + 1):
        decryptor = ece.Decryptor(secret)
        out = [*decryptor.feed(ciphertext[:split]), *decryptor.feed(ciphertext[split:]), *decryptor.finish()]
        assert b"".join(out) == b"split me anywhere"


def test_every_flipped_bit_is_detected():
    secret = os.urandom(16)
    # Three records of a small record size, so every bit (header, bodies, tags) is tried cheaply.
    ciphertext = http_ece.encrypt(os.urandom(60), salt=os.urandom(16), key=secret, rs=40, version="aes128gcm")
    for bit in range(len(ciphertext) * 8):
        damaged = bytearray(ciphertext)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ece.FormatError):
            ece.decrypt(secret, bytes(damaged))


def test_every_bit_of_a_64k_stream_header_and_record_edges():
    secret, plaintext = os.urandom(16), os.urandom(ece.PLAINTEXT_PER_RECORD + 5)
    ciphertext = ece.encrypt(secret, os.urandom(16), plaintext)
    interesting = [
        *range(0, 40),
        *range(ece.HEADER_BYTES + ece.RECORD_SIZE - 20, ece.HEADER_BYTES + ece.RECORD_SIZE + 20),
    ]
    interesting += range(len(ciphertext) - 20, len(ciphertext))
    for byte in interesting:
        for bit in range(8):
            damaged = bytearray(ciphertext)
            damaged[byte] ^= 1 << bit
            with pytest.raises(ece.FormatError):
                ece.decrypt(secret, bytes(damaged))


@pytest.mark.parametrize("cut", [0, 10, ece.HEADER_BYTES, ece.HEADER_BYTES + ece.RECORD_SIZE, -1])
def test_truncation_and_trailing_data_are_detected(cut):
    secret = os.urandom(16)
    ciphertext = ece.encrypt(secret, os.urandom(16), os.urandom(ece.PLAINTEXT_PER_RECORD + 100))
    with pytest.raises(ece.FormatError):
        ece.decrypt(secret, ciphertext[:cut])
    with pytest.raises(ece.FormatError):
        ece.decrypt(secret, ciphertext + b"\x00")


def test_reordered_records_and_wrong_secret_are_detected():
    secret = os.urandom(16)
    ciphertext = ece.encrypt(secret, os.urandom(16), os.urandom(3 * ece.PLAINTEXT_PER_RECORD))
    h, rs = ece.HEADER_BYTES, ece.RECORD_SIZE
    swapped = ciphertext[:h] + ciphertext[h + rs : h + 2 * rs] + ciphertext[h : h + rs] + ciphertext[h + 2 * rs :]
    with pytest.raises(ece.FormatError):
        ece.decrypt(secret, swapped)
    with pytest.raises(ece.FormatError):
        ece.decrypt(os.urandom(16), ciphertext)


def test_hostile_header_record_size_is_bounded():
    header = os.urandom(16) + (2**32 - 1).to_bytes(4, "big") + b"\x00"
    with pytest.raises(ece.FormatError):
        ece.parse_header(header)
    with pytest.raises(ece.FormatError):
        ece.parse_header(os.urandom(16) + (17).to_bytes(4, "big") + b"\x00")


def test_resume_from_a_record_boundary():
    secret, plaintext = os.urandom(16), os.urandom(3 * ece.PLAINTEXT_PER_RECORD + 9)
    ciphertext = ece.encrypt(secret, os.urandom(16), plaintext)
    header = ece.parse_header(ciphertext)
    decryptor = ece.Decryptor(secret, header, first_sequence=2)
    tail = ciphertext[header.length + 2 * ece.RECORD_SIZE :]
    assert b"".join([*decryptor.feed(tail), *decryptor.finish()]) == plaintext[2 * ece.PLAINTEXT_PER_RECORD :]


def test_metadata_round_trip_and_wrong_secret():
    secret = os.urandom(16)
    sealed = seal_metadata(secret, FileMetadata("rapport été.pdf", 12345, "application/pdf"))
    assert "rapport" not in sealed and "12345" not in sealed
    assert open_metadata(secret, sealed) == FileMetadata("rapport été.pdf", 12345, "application/pdf")
    with pytest.raises(MetadataError):
        open_metadata(os.urandom(16), sealed)
    for bad in (None, "", "!!!", sealed[:10], sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]):
        with pytest.raises(MetadataError):
            open_metadata(secret, bad)


def test_link_round_trip_and_rejections():
    link = ShareLink("https://x.lambda-url.us-east-1.on.aws", "A" * 22, "b" * 43, bytes(range(16)))
    assert parse_link(str(link)) == link
    prefixed = ShareLink("http://127.0.0.1:9000/prefix", "A" * 22, "b" * 43, bytes(16))
    assert parse_link(str(prefixed)) == prefixed
    text = str(link)
    for bad in (
        text.split("#")[0],
        text.replace("https://", "ftp://"),
        text.replace("/t/", "/x/"),
        text.replace("." + text.rsplit(".", 1)[1], ""),
        text[:-1],
        text.replace("A" * 22, "A" * 21 + "/"),
        "not a link",
    ):
        with pytest.raises(LinkError):
            parse_link(bad)


def test_the_readme_example_vector():
    secret, salt = bytes(range(16)), bytes(range(16, 32))
    ciphertext = ece.encrypt(secret, salt, b"hello\n")
    assert ciphertext.hex() == (
        "101112131415161718191a1b1c1d1e1f0001000000bd6d43ec444810b811ed9996dc4d71a457b67164be6c5e"
    )
    sealed = seal_metadata(secret, FileMetadata("hello.txt", 6, "text/plain"), nonce=bytes(range(32, 44)))
    assert sealed == (
        "ICEiIyQlJicoKSorPJvOmdZSq1ZfSnAQ1iblG_4ayCfPWElmpaP-bbqTov2fsovC845vpzJsz9SfZ_ZxmTK2tKmU0BVYPBEq5rIxV_Y"
    )
