"""Pure logic of the transfer API: tokens, ids, validation, part planning, manifests, events."""

import base64

import pytest

from handlers import tokens, validation
from handlers.config import ConfigError, MiB, Settings, load_settings
from handlers.errors import ApiError
from handlers.http import request_from_event
from handlers.manifest import Manifest
from handlers.parts import plan_parts


def test_tokens_are_256_bit_urlsafe_and_only_hashes_match():
    token = tokens.new_token()
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    stored = tokens.hash_token(token)
    assert token not in stored
    assert tokens.token_matches(token, stored)
    assert not tokens.token_matches(tokens.new_token(), stored)
    assert not tokens.token_matches(None, stored) and not tokens.token_matches(token, None)
    assert not tokens.token_matches("short", stored)


def test_transfer_ids_are_128_bit_and_validated():
    transfer = tokens.new_transfer_id()
    assert len(base64.urlsafe_b64decode(transfer + "==")) == 16
    assert tokens.is_valid_transfer_id(transfer)
    for bad in ["../etc", "a" * 21, "a" * 23, "a/b" + "c" * 19, "", "ä" * 22]:
        assert not tokens.is_valid_transfer_id(bad)


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "is required"), ("1", "must be an integer"), (True, "must be an integer"), (0, "between")],
)
def test_integer_validation_names_field_and_reason(value, message):
    document = {} if value is None else {"size": value}
    with pytest.raises(ApiError) as caught:
        validation.integer(document, "size", 1, 10)
    assert caught.value.status == 400 and "size" in caught.value.message and message in caught.value.message


def test_sha256_validation():
    good = base64.b64encode(b"x" * 32).decode()
    assert validation.sha256_digest({"sha256": good}) == good
    for bad in ["not base64!", base64.b64encode(b"short").decode(), 5]:
        with pytest.raises(ApiError):
            validation.sha256_digest({"sha256": bad})


def test_sha256_has_one_spelling_per_digest():
    """The 43rd character of a 32-byte digest carries 2 unused bits: any other value of them decodes
    to the same digest, so a comparison of strings would refuse the right body later."""
    digest = bytes(range(32))
    canonical = base64.b64encode(digest).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(canonical[42])
    spellings = [canonical[:42] + alphabet[last ^ bits] + "=" for bits in (1, 2, 3)]
    assert all(base64.b64decode(spelling) == digest for spelling in spellings)
    assert validation.sha256_digest({"sha256": canonical}) == canonical
    for spelling in spellings:
        with pytest.raises(ApiError, match="not canonical base64"):
            validation.sha256_digest({"sha256": spelling})


def settings(**overrides):
    return Settings(bucket="b", **overrides)


def test_small_transfers_use_one_put():
    assert plan_parts(10, settings()) == ("single", 10, 1)


def test_large_transfers_use_parts_within_s3_limits():
    method, part_size, count = plan_parts(
        100 * MiB, settings(multipart_threshold_bytes=10 * MiB, part_size_bytes=16 * MiB)
    )
    assert (method, part_size, count) == ("multipart", 16 * MiB, 7)
    method, part_size, count = plan_parts(200 * 1024 * MiB, settings())  # 200 GiB: parts must grow
    assert count <= 10_000 and part_size >= 5 * MiB and part_size * count >= 200 * 1024 * MiB


def test_settings_reject_parts_below_s3_minimum_and_missing_bucket():
    with pytest.raises(ConfigError):
        load_settings({"TRANSFER_BUCKET": "b", "TRANSFER_PART_SIZE_BYTES": str(4 * MiB)})
    with pytest.raises(ConfigError):
        load_settings({})


def test_defaults_never_promise_more_than_the_configured_maximum():
    """MaxExpiryDays=1 (the bucket's lifecycle deletes after a day) must not leave a 7-day default."""
    short = load_settings({"TRANSFER_BUCKET": "b", "TRANSFER_MAX_EXPIRES_DAYS": "1", "TRANSFER_MAX_MAX_DOWNLOADS": "3"})
    assert short.default_expires_in == short.max_expires_in == 24 * 3600
    assert short.default_max_downloads == short.max_max_downloads == 3
    assert load_settings({"TRANSFER_BUCKET": "b"}).default_expires_in == 7 * 24 * 3600
    empty = {"TRANSFER_BUCKET": "b", "TRANSFER_MAX_EXPIRES_DAYS": "1", "TRANSFER_DEFAULT_EXPIRES_IN": " "}
    assert load_settings(empty).default_expires_in == 24 * 3600  # an empty setting is an unset one
    for name, value in (("TRANSFER_DEFAULT_EXPIRES_IN", "86401"), ("TRANSFER_DEFAULT_MAX_DOWNLOADS", "4")):
        environ = {"TRANSFER_BUCKET": "b", "TRANSFER_MAX_EXPIRES_DAYS": "1", "TRANSFER_MAX_MAX_DOWNLOADS": "3"}
        with pytest.raises(ConfigError, match=f"{name}={value} exceeds the configured maximum"):
            load_settings({**environ, name: value})


def test_manifest_part_lengths_and_round_trip():
    manifest = Manifest(
        id="i", state="pending", size=12 * MiB, sha256=None, method="multipart", part_size=5 * MiB, part_count=3,
        upload_id="u", metadata=None, created_at=0, expires_at=10, max_downloads=1, bytes_charged=0,
        owner_token_hash="h",
    )  # fmt: skip
    assert [manifest.part_length(n) for n in (1, 2, 3)] == [5 * MiB, 5 * MiB, 2 * MiB]
    assert Manifest.from_document(manifest.to_document()) == manifest
    view = manifest.public_view(now=5)
    assert "owner_token_hash" not in view and "upload_id" not in view
    assert manifest.is_expired(10) and not manifest.is_expired(9)


def test_request_from_event_decodes_base64_and_rejects_bad_base64():
    event = {"rawPath": "/x", "requestContext": {"http": {"method": "put"}}, "body": "AAE=", "isBase64Encoded": True}
    request = request_from_event(event)
    assert request.method == "PUT" and request.body == b"\x00\x01"
    with pytest.raises(ApiError) as caught:
        request_from_event({**event, "body": "!!!"})
    assert caught.value.status == 400


def test_ids_and_tokens_with_a_trailing_newline_are_refused():
    from handlers import tokens

    assert tokens.is_valid_transfer_id("A" * 22)
    assert not tokens.is_valid_transfer_id("A" * 22 + "\n")
    token = tokens.new_token()
    assert tokens.token_matches(token, tokens.hash_token(token))
    assert not tokens.token_matches(token + "\n", tokens.hash_token(token))
