"""The web client's two pages, served by the function: `GET /` (send) and `GET /t/{id}` (receive).

The HTML, CSS and JavaScript live in `client/web/`, found relative to this module (the same layout
in the repository and in the deployed zip, where build.sh copies them). Each page is assembled
once per environment: the stylesheet and scripts its `<!-- inline: ... -->` markers name are
inlined, and the Content-Security-Policy allows exactly those blocks by their SHA-256, no other
script or style, and network access only to this origin and the S3 endpoint the presigned URLs
point at. One request per page, nothing third-party, and the fragment holding the key is never
sent: browsers keep it, and `Referrer-Policy: no-referrer` keeps the path out of other requests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from handlers import tokens
from handlers.errors import not_found
from handlers.http import Request, StreamResponse
from handlers.service import Service

WEB_ROOT = Path(__file__).resolve().parent.parent / "client" / "web"
INLINE_MARKER = re.compile(r"<!-- inline: ([a-z. ]+) -->")
STYLE, SCRIPT = "style", "script"


class Page:
    """An assembled page: its bytes and the hashes of its inline blocks, for the CSP."""

    def __init__(self, body: bytes, script_hashes: tuple[str, ...], style_hashes: tuple[str, ...]) -> None:
        self.body = body
        self.script_hashes = script_hashes
        self.style_hashes = style_hashes


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@functools.lru_cache(maxsize=4)
def load_page(name: str, root: Path = WEB_ROOT) -> Page:
    """Read `name` and inline what its markers name (files in `root` only, by their plain names)."""
    scripts: list[str] = []
    styles: list[str] = []

    def inline(match: re.Match[str]) -> str:
        blocks = []
        for file_name in match.group(1).split():
            text = (root / Path(file_name).name).read_text(encoding="utf-8")
            kind = STYLE if file_name.endswith(".css") else SCRIPT
            (styles if kind == STYLE else scripts).append(_digest(text))
            blocks.append(f"<{kind}>{text}</{kind}>")
        return "\n".join(blocks)

    text = INLINE_MARKER.sub(inline, (root / name).read_text(encoding="utf-8"))
    return Page(text.encode("utf-8"), tuple(scripts), tuple(styles))


def storage_origin(service: Service) -> str:
    """The scheme://host[:port] of the presigned URLs this function hands out (computed, not fetched)."""
    url = service.presigner.generate_presigned_url(
        "get_object", Params={"Bucket": service.bucket, "Key": service.settings.prefix + "origin"}, ExpiresIn=60
    )
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(page: Page, storage: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(page.script_hashes),
            "style-src " + " ".join(page.style_hashes),
            f"connect-src 'self' {storage}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _serve(name: str, service: Service) -> StreamResponse:
    page = load_page(name)
    headers = {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": content_security_policy(page, storage_origin(service)),
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "cache-control": "no-cache",
    }
    return StreamResponse(200, [page.body], headers)


def send_page(request: Request, service: Service) -> StreamResponse:
    return _serve("send.html", service)


def receive_page(request: Request, service: Service) -> StreamResponse:
    if not tokens.is_valid_transfer_id(request.path_params.get("id", "")):
        raise not_found()
    return _serve("receive.html", service)
