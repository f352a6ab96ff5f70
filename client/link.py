"""The share link: `<service URL>/t/<id>#<download token>.<secret>`.

Everything after `#` is a URL fragment, which browsers and HTTP clients never send to a server:
the download token (43 base64url characters, sent only as a bearer token) and the 16-byte secret
(22 base64url characters, never sent anywhere).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from client.metadata import b64url, unb64url

SECRET_BYTES = 16
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class LinkError(ValueError):
    """The text is not a share link of this service."""


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


@dataclass(frozen=True)
class ShareLink:
    service_url: str  # without a trailing slash
    transfer_id: str
    download_token: str
    secret: bytes

    def __str__(self) -> str:
        return f"{self.service_url}/t/{self.transfer_id}#{self.download_token}.{b64url(self.secret)}"


def parse_link(text: str) -> ShareLink:
    text = text.strip()
    base, sep, fragment = text.partition("#")
    if not sep or not fragment:
        raise LinkError("the link has no '#<token>.<secret>' part; copy the whole link")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LinkError("the link must start with http:// or https://")
    prefix, marker, transfer_id = parts.path.rpartition("/t/")
    if not marker or not ID_PATTERN.match(transfer_id):
        raise LinkError("the link's path must end in /t/<transfer id>")
    token, dot, secret_text = fragment.partition(".")
    if not dot or not TOKEN_PATTERN.match(token) or not SECRET_PATTERN.match(secret_text):
        raise LinkError("the part after '#' is damaged: expected <download token>.<secret>")
    try:
        secret = unb64url(secret_text)
    except ValueError:
        raise LinkError("the link's secret is not base64url") from None
    if len(secret) != SECRET_BYTES:
        raise LinkError("the link's secret has the wrong length")
    return ShareLink(f"{parts.scheme}://{parts.netloc}{prefix}", transfer_id, token, secret)
