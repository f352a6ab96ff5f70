"""Pure pieces of the client and of the page server: event parsing, file names, page assembly."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from client.events import ServerEvent, parse_events
from client.metadata import FileMetadata
from client.receive import safe_name
from handlers.pages import INLINE_MARKER, content_security_policy, load_page


def test_server_events_are_parsed_like_a_browser_does():
    lines = ["retry: 3000", "", ": heartbeat", "id: 4.2", "event: state", 'data: {"state":', 'data: "ready"}', ""]
    lines += ["event: end", "data: {}", ""]
    events = list(parse_events(lines))
    assert events == [ServerEvent("state", '{"state":\n"ready"}', "4.2"), ServerEvent("end", "{}", "4.2")]


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("..", "download.bin"),
        ("", "download.bin"),
        ("a\x00b\x1b[31mc.txt", "ab[31mc.txt"),
        ("é" * 200, "é" * 127),
    ],
)
def test_names_from_the_sender_become_one_harmless_path_component(sent, saved):
    assert safe_name(FileMetadata(sent, 1).name) == saved


@pytest.mark.parametrize("name", ["send.html", "receive.html"])
def test_pages_inline_their_files_and_the_policy_allows_exactly_those(name):
    page = load_page(name)
    text = page.body.decode()
    assert not INLINE_MARKER.search(text) and "<script src" not in text and '<link rel="stylesheet"' not in text
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert len(scripts) == 3 and len(styles) == 1
    hashed = lambda block: "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"  # noqa: E731
    policy = content_security_policy(page, "https://bucket.s3.us-east-1.amazonaws.com")
    assert policy.startswith("default-src 'none'")
    assert "script-src " + " ".join(hashed(s) for s in scripts) in policy
    assert "style-src " + hashed(styles[0]) in policy
    assert "connect-src 'self' https://bucket.s3.us-east-1.amazonaws.com" in policy
