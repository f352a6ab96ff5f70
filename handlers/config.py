"""Every setting of the transfer API, read from the environment in one place.

Each variable is documented in README.md ("Configuration"). Limits that S3 imposes (5 MiB
minimum part, 10,000 parts, 5 GiB per part and per single PUT) are constants, not settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB
S3_MIN_PART_BYTES = 5 * MiB
S3_MAX_PART_BYTES = 5 * GiB
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_PUT_BYTES = 5 * GiB
KEY_HASH = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """A setting is missing or malformed: the function cannot serve requests."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str = "transfers/"
    presign_ttl_seconds: int = 900
    download_url_ttl_seconds: int = 60
    multipart_threshold_bytes: int = 64 * MiB
    part_size_bytes: int = 16 * MiB
    max_transfer_bytes: int = 100 * GiB
    max_metadata_bytes: int = 4096
    default_expires_in: int = 7 * 24 * 3600
    max_expires_in: int = 30 * 24 * 3600
    default_max_downloads: int = 10
    max_max_downloads: int = 10_000
    allowed_origins: tuple[str, ...] = ("*",)
    public_s3_endpoint: str | None = None
    relay_threshold_bytes: int = 6 * 1000 * 1000
    events_poll_seconds: float = 2.0
    events_max_seconds: int = 30  # one stream's life; the client reconnects (an abandoned one ends by then)
    create_key_hashes: tuple[str, ...] = ()  # SHA-256 (hex) of the keys that may create transfers; () = anyone


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    text = environ.get(name)
    if text is None or text == "":
        return default
    if not (text.strip().isascii() and text.strip().isdigit()) or len(text.strip()) > 18:
        raise ConfigError(f"{name}={text[:40]!r} is not a non-negative integer of at most 18 digits")
    value = int(text)
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def _default_within(environ: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """A request's default, which must respect the configured maximum: a built-in default above it
    comes down to it (MaxExpiryDays=1 makes the default one day, not a week the bucket's lifecycle
    rule would cut short); a configured one above it is refused."""
    if not environ.get(name, "").strip():  # unset or empty: the built-in default, as `_int` reads it
        return min(default, maximum)
    value = _int(environ, name, default, minimum)
    if value > maximum:
        raise ConfigError(f"{name}={value} exceeds the configured maximum {maximum}")
    return value


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    bucket = environ.get("TRANSFER_BUCKET", "").strip()
    if not bucket:
        raise ConfigError("TRANSFER_BUCKET is not set")
    part_size = _int(environ, "TRANSFER_PART_SIZE_BYTES", 16 * MiB, S3_MIN_PART_BYTES)
    if part_size > S3_MAX_PART_BYTES:
        raise ConfigError(f"TRANSFER_PART_SIZE_BYTES={part_size} exceeds S3's 5 GiB part limit")
    threshold = _int(environ, "TRANSFER_MULTIPART_THRESHOLD_BYTES", 64 * MiB, 1)
    if threshold > S3_MAX_SINGLE_PUT_BYTES:
        raise ConfigError("TRANSFER_MULTIPART_THRESHOLD_BYTES exceeds S3's 5 GiB single PUT limit")
    hashes = tuple(h.strip().lower() for h in environ.get("TRANSFER_CREATE_KEY_HASHES", "").split(",") if h.strip())
    malformed = [h for h in hashes if not KEY_HASH.fullmatch(h)]
    if malformed:
        raise ConfigError("TRANSFER_CREATE_KEY_HASHES must list hex SHA-256 digests (64 characters), comma-separated")
    origins = tuple(o.strip() for o in environ.get("TRANSFER_ALLOWED_ORIGINS", "*").split(",") if o.strip())
    max_expires_in = _int(
        environ,
        "TRANSFER_MAX_EXPIRES_IN",
        _int(environ, "TRANSFER_MAX_EXPIRES_DAYS", 30, 1) * 24 * 3600,  # the template sets days
        60,
    )
    max_max_downloads = _int(environ, "TRANSFER_MAX_MAX_DOWNLOADS", 10_000, 1)
    return Settings(
        bucket=bucket,
        prefix=environ.get("TRANSFER_PREFIX", "transfers/").strip("/") + "/",
        presign_ttl_seconds=_int(environ, "TRANSFER_PRESIGN_TTL_SECONDS", 900, 1),
        download_url_ttl_seconds=_int(environ, "TRANSFER_DOWNLOAD_URL_TTL_SECONDS", 60, 1),
        multipart_threshold_bytes=threshold,
        part_size_bytes=part_size,
        max_transfer_bytes=_int(environ, "TRANSFER_MAX_BYTES", 100 * GiB, 1),
        max_metadata_bytes=_int(environ, "TRANSFER_MAX_METADATA_BYTES", 4096, 0),
        default_expires_in=_default_within(environ, "TRANSFER_DEFAULT_EXPIRES_IN", 7 * 24 * 3600, 60, max_expires_in),
        max_expires_in=max_expires_in,
        default_max_downloads=_default_within(environ, "TRANSFER_DEFAULT_MAX_DOWNLOADS", 10, 1, max_max_downloads),
        max_max_downloads=max_max_downloads,
        allowed_origins=origins or ("*",),
        public_s3_endpoint=environ.get("TRANSFER_PUBLIC_S3_ENDPOINT") or None,
        relay_threshold_bytes=_int(environ, "TRANSFER_RELAY_THRESHOLD_BYTES", 6 * 1000 * 1000, 0),
        events_poll_seconds=_int(environ, "TRANSFER_EVENTS_POLL_MS", 2000, 100) / 1000,
        events_max_seconds=_int(environ, "TRANSFER_EVENTS_MAX_SECONDS", 30, 5),
        create_key_hashes=hashes,
    )
