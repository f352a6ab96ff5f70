"""The web page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Upload through the send page; open the share link in a fresh profile while the upload is held
back; watch the state go from uploading to ready live; download; compare bytes. The page's
ciphertext opens with http_ece, and http_ece's ciphertext downloads through the page. No request
either browser makes carries the secret. Set `UPDATE_SCREENSHOTS=1` to rewrite docs/*.png.

Needs /usr/bin/chromium and /usr/bin/chromedriver: installed with apt-get when missing and this
runs as root, else the module is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import http_ece
import pytest
import requests

from client import ece
from client.link import ShareLink, new_secret, parse_link
from client.metadata import FileMetadata, seal_metadata
from tests.client.conftest import BUCKET, PROJECT_ROOT, MiB, start_api

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=900,800",
]


def ensure_chromium() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        if subprocess.run(command, env=environ, capture_output=True, timeout=900).returncode != 0:
            pytest.skip(f"could not install chromium with {' '.join(command)}")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("apt-get did not provide /usr/bin/chromium and /usr/bin/chromedriver")


class Browser:
    """One headless Chromium with its own fresh profile and download directory."""

    def __init__(self, home: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        self.downloads = home / "downloads"
        self.downloads.mkdir(parents=True)
        options = Options()
        options.binary_location = CHROMIUM
        for flag in [*FLAGS, f"--user-data-dir={home / 'profile'}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(self.downloads)}
        )
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.requests: list[dict] = []

    def wait(self, condition, timeout: float = 60, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; page says: {self.text('main')!r}")

    def text(self, selector: str) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def state(self) -> str | None:
        return self.driver.execute_script("return document.body.dataset.state || null")

    def find(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def downloaded(self, name: str) -> bytes:
        path = self.downloads / name
        self.wait(lambda: path.exists() and not list(self.downloads.glob("*.crdownload")), what=f"{name} saved")
        return path.read_bytes()

    def collect_requests(self) -> list[dict]:
        """Every request the browser sent (URL, headers, body), from its DevTools log."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                request = message["params"]["request"]
                self.requests.append({k: request.get(k) for k in ("url", "headers", "postData")})
            elif message["method"] == "Network.requestWillBeSentExtraInfo":
                self.requests.append({"headers": message["params"].get("headers")})
        return self.requests

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def api():
    ensure_chromium()
    running = start_api()
    try:
        yield running
    finally:
        running.emulator.stop()


@pytest.fixture(scope="module")
def browsers(api, tmp_path_factory):
    started: list[Browser] = []
    try:
        sender = Browser(tmp_path_factory.mktemp("sender"))
        started.append(sender)
        receiver = Browser(tmp_path_factory.mktemp("receiver"))  # a fresh profile: nothing shared
        started.append(receiver)
        yield sender, receiver
    finally:
        for browser in started:
            browser.quit()


def screenshot(browser: Browser, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        (PROJECT_ROOT / "docs").mkdir(exist_ok=True)
        browser.driver.save_screenshot(str(PROJECT_ROOT / "docs" / name))


def test_pages_carry_a_strict_content_security_policy(api):
    for path in ("/", "/t/" + "A" * 22):
        response = requests.get(api.url + path, timeout=30)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy and "script-src 'sha256-" in policy
        assert f"connect-src 'self' {api.s3_endpoint}" in policy
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "<script src" not in response.text and "http" not in response.text.split("<body>")[0]
    assert requests.get(api.url + "/t/not-an-id", timeout=30).status_code == 404


def test_upload_in_one_browser_download_live_in_another(api, browsers, tmp_path):
    sender, receiver = browsers
    data = random.randbytes(11 * MiB + 333)  # three 5 MiB parts
    source = tmp_path / "Quarterly report.pdf"
    source.write_bytes(data)
    # Hold the upload back: the sender cannot reach storage until the receiver is watching.
    storage = api.s3_endpoint.split("//", 1)[1]
    sender.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [f"*{storage}*"]})
    sender.driver.get(api.url + "/")
    sender.find("#file").send_keys(str(source))
    sender.find("#max-downloads").clear()
    sender.find("#max-downloads").send_keys("3")
    sender.find("#send").click()
    link = sender.wait(lambda: sender.find("#link").get_attribute("value"), what="the share link")
    assert link.startswith(api.url + "/t/")
    secret_text = link.rsplit(".", 1)[1]

    receiver.driver.get(link)
    receiver.wait(lambda: receiver.state() == "pending", what="the receiver to show the upload in progress")
    assert "still uploading" in receiver.text("#state") and receiver.text("#file-name") == source.name
    assert receiver.find("#download").get_attribute("disabled") is not None
    sender.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})  # let the upload through
    sender.wait(lambda: sender.state() == "sent", timeout=120, what="the upload to complete")
    screenshot(sender, "send-page.png")
    receiver.wait(lambda: receiver.state() == "ready", timeout=60, what="the receiver to see it ready, live")
    screenshot(receiver, "receive-page.png")
    receiver.find("#download").click()
    assert receiver.downloaded(source.name) == data
    receiver.wait(lambda: receiver.state() == "saved", what="the page to confirm the download")

    # The page's ciphertext is standard aes128gcm: an independent implementation opens it.
    transfer_id = link.split("/t/")[1].split("#")[0]
    stored = api.s3.get_object(Bucket=BUCKET, Key=f"transfers/{transfer_id}/ciphertext")["Body"].read()
    assert ece.parse_header(stored).record_size == ece.RECORD_SIZE
    assert http_ece.decrypt(stored, key=parse_link(link).secret, version="aes128gcm") == data
    assert data[1000:1100] not in stored and b"Quarterly" not in b"".join(api.objects().values())

    # No request from either browser carried the secret (the fragment stays in the browser).
    for browser in browsers:
        for request in browser.collect_requests():
            assert secret_text not in json.dumps(request)
    assert secret_text not in "\n".join(api.emulator.logs)


def upload_with_http_ece(api, plaintext: bytes, name: str, record_size: int) -> tuple[ShareLink, str]:
    """A transfer whose ciphertext was written by http_ece (another record size) and sealed metadata."""
    secret = new_secret()
    ciphertext = http_ece.encrypt(plaintext, salt=os.urandom(16), key=secret, rs=record_size, version="aes128gcm")
    metadata = seal_metadata(secret, FileMetadata(name, len(plaintext), "text/plain"))
    created = requests.post(f"{api.url}/transfers", json={"size": len(ciphertext), "metadata": metadata}, timeout=30)
    transfer = created.json()
    put = requests.put(
        f"{api.url}/transfers/{transfer['id']}/ciphertext",
        data=ciphertext,
        headers={"authorization": f"Bearer {transfer['owner_token']}", "content-type": "application/octet-stream"},
        timeout=60,
    )
    assert put.status_code == 200, put.text
    return ShareLink(
        api.url, transfer["id"], transfer["download_token"], secret
    ), f"transfers/{transfer['id']}/ciphertext"


def test_page_decrypts_what_http_ece_wrote(api, browsers):
    _, receiver = browsers
    plaintext = random.randbytes(300_000)
    link, _ = upload_with_http_ece(api, plaintext, "from-http-ece.txt", record_size=4096)
    receiver.driver.get(str(link))
    receiver.wait(lambda: receiver.state() == "ready", what="ready")
    receiver.find("#download").click()
    assert receiver.downloaded("from-http-ece.txt") == plaintext


def test_page_refuses_tampered_ciphertext_and_wrong_keys(api, browsers):
    _, receiver = browsers
    plaintext = random.randbytes(200_000)
    link, key = upload_with_http_ece(api, plaintext, "tampered.bin", record_size=ece.RECORD_SIZE)
    stored = bytearray(api.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    stored[150_000] ^= 0x80
    api.s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(stored))
    receiver.driver.get(str(link))
    receiver.wait(lambda: receiver.state() == "ready", what="ready")
    receiver.find("#download").click()
    receiver.wait(lambda: receiver.state() == "failed", what="the verification failure")
    assert "failed verification" in receiver.text("#error") and "Nothing was saved" in receiver.text("#error")
    assert not (receiver.downloads / "tampered.bin").exists()

    wrong_key = str(link).rsplit(".", 1)[0] + "." + "A" * 22
    receiver.driver.get("about:blank")
    receiver.driver.get(wrong_key)
    receiver.wait(lambda: receiver.state() == "failed", what="the wrong-key message")
    assert "does not open this file" in receiver.text("#error")
    screenshot(receiver, "receive-page-wrong-link.png")
    receiver.driver.get("about:blank")
    receiver.driver.get(str(link).split("#")[0])
    receiver.wait(lambda: receiver.state() == "failed", what="the damaged-link message")
    assert "incomplete or damaged" in receiver.text("#error")
