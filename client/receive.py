"""`receive`: download a transfer, decrypt it as it streams, verify it, save it under its name.

The ciphertext comes through `GET /transfers/{id}/download` (relayed by the function, or a 303 to a
presigned S3 URL, which is kept for resuming). Plaintext of verified records goes to
`<output>.part`; only when the last record has verified, the declared size matches and the
ciphertext's SHA-256 matches the manifest is it renamed to the final name, so a failed or
tampered download never leaves plaintext there. A cut connection resumes with `Range` at the next
record boundary, in the same run (with backoff) or in a later run of the same command.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from client import ece
from client.api import TRANSIENT_ERRORS, TransferApi, raise_for_answer, with_retries
from client.errors import IntegrityError, Interrupted, NetworkError, UnavailableError, UsageError
from client.events import parse_events
from client.link import ShareLink, parse_link
from client.metadata import FileMetadata, MetadataError, open_metadata
from client.progress import Progress
from client.state import ReceiveState, load_receive_state, receive_state_path, save_receive_state

READ_BLOCK = 256 * 1024
STATE_EVERY_BYTES = 4 * 1024 * 1024  # how often the resume point is saved
URL_LIFETIME_MARGIN_SECONDS = 5  # reuse a presigned URL for a resumed range only while surely valid
FALLBACK_NAME = "download.bin"


@dataclass(frozen=True)
class ReceiveOptions:
    output: Path | None = None
    force: bool = False
    wait: bool = True
    show_progress: bool | None = None


def safe_name(name: str) -> str:
    """The sender's file name reduced to one harmless path component."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    while len(name.encode("utf-8")) > 255:
        name = name[:-1]
    return FALLBACK_NAME if name in ("", ".", "..") else name


def target_path(options: ReceiveOptions, metadata: FileMetadata) -> Path:
    if options.output is None:
        return Path.cwd() / safe_name(metadata.name)
    if options.output.is_dir():
        return options.output / safe_name(metadata.name)
    return options.output


class Receiver:
    def __init__(self, link: ShareLink, options: ReceiveOptions, session: requests.Session | None = None) -> None:
        self.link = link
        self.options = options
        self.session = session or requests.Session()
        self.api = TransferApi(link.service_url, self.session)
        self.presigned: tuple[str, float] | None = None  # (URL, monotonic time it stops being reused)

    def run(self) -> Path:
        view = self.api.view(self.link.transfer_id, self.link.download_token)
        try:
            metadata = open_metadata(self.link.secret, view.get("metadata"))
        except MetadataError as exc:
            raise IntegrityError(str(exc)) from None
        target = target_path(self.options, metadata)
        if not target.parent.is_dir():
            raise UsageError(f"cannot save to {target}: {target.parent} is not a directory")
        if target.exists() and not self.options.force:
            raise UsageError(f"{target} already exists; choose another name with -o, or pass --force")
        if view["state"] == "pending":
            view = self._wait_until_ready(view)
        self._check_available(view)
        expected = ece.ciphertext_size(metadata.size) if view["size"] is None else view["size"]
        partial = target.with_name(target.name + ".part")
        print(f"Receiving {metadata.name} ({metadata.size} bytes) to {target}", file=sys.stderr)
        try:
            self._download(partial, int(expected), metadata, view.get("sha256"))
        except KeyboardInterrupt:
            raise Interrupted("interrupted; run the same command again to resume the download") from None
        os.replace(partial, target)
        receive_state_path(partial).unlink(missing_ok=True)
        return target

    # -- before the download --------------------------------------------------------------------

    def _check_available(self, view: dict[str, Any]) -> None:
        if view["state"] == "expired":
            raise UnavailableError("this transfer has expired")
        if view["state"] != "ready":
            raise UnavailableError(f"this transfer is {view['state']}")
        if view.get("bytes_remaining", view.get("downloads_remaining")) == 0:
            raise UnavailableError("this transfer has reached its download limit")

    def _wait_until_ready(self, view: dict[str, Any]) -> dict[str, Any]:
        """Follow the live event stream while the sender is still uploading."""
        if not self.options.wait:
            raise UnavailableError("the sender has not finished uploading yet (leave out --no-wait to wait)")
        print("The sender is still uploading; waiting…", file=sys.stderr)
        last_id: str | None = None
        with Progress(int(view["size"]), "Sender uploading", self.options.show_progress) as progress:
            while True:
                headers = {"last-event-id": last_id} if last_id else {}
                path = f"/transfers/{self.link.transfer_id}/events"
                with self.api.call("GET", path, self.link.download_token, headers=headers, stream=True) as answer:
                    try:
                        for event in parse_events(answer.iter_lines(decode_unicode=True)):
                            last_id = event.id or last_id
                            data = event.json()
                            if event.event == "end" and not data.get("reconnect"):
                                raise UnavailableError(f"the transfer ended before it was ready ({data.get('reason')})")
                            if event.event == "state":
                                progress.advance(int(data.get("bytes_uploaded", 0)) - progress.bar.n)
                                if data["state"] != "pending":
                                    return self.api.view(self.link.transfer_id, self.link.download_token)
                    except TRANSIENT_ERRORS:
                        pass  # the stream broke; reconnect with Last-Event-ID
                time.sleep(1)  # as the stream's `retry:` hint asks, roughly

    # -- the download ---------------------------------------------------------------------------

    def _download(self, partial: Path, expected: int, metadata: FileMetadata, sha256: str | None) -> None:
        state = load_receive_state(partial)
        if state is not None and (
            state.transfer_id != self.link.transfer_id
            or not partial.exists()
            or partial.stat().st_size < state.plaintext_bytes  # the file lost what the state promises
        ):
            state = None
        header = ece.parse_header(bytes.fromhex(state.header)) if state else None
        records, written = (state.records_done, state.plaintext_bytes) if state else (0, 0)
        mode = "r+b" if state else "wb"
        with open(partial, mode) as output:
            output.truncate(written)
            output.seek(written)
            offset = header.length + records * header.record_size if header else 0
            digest = hashlib.sha256() if offset == 0 else None  # a resumed run cannot hash what it skipped
            with Progress(expected, "Downloading", self.options.show_progress, initial=offset) as progress:
                decryptor = ece.Decryptor(self.link.secret, header, records)
                try:
                    written = self._stream(output, partial, decryptor, expected, offset, written, digest, progress)
                except ece.FormatError as exc:
                    output.close()
                    self._discard(partial)
                    raise IntegrityError(
                        f"the download failed verification ({exc}): the ciphertext was altered or damaged, "
                        "or the link's secret is wrong; nothing was saved"
                    ) from None
            output.flush()
            os.fsync(output.fileno())
        problem = None
        if written != metadata.size:
            problem = f"decrypted {written} bytes but the sender declared {metadata.size}"
        elif digest is not None and sha256 and base64.b64encode(digest.digest()).decode() != sha256:
            problem = "the ciphertext's SHA-256 differs from the one declared at upload"
        if problem:
            self._discard(partial)
            raise IntegrityError(f"{problem}; nothing was saved")

    def _stream(
        self,
        output: Any,
        partial: Path,
        decryptor: ece.Decryptor,
        expected: int,
        offset: int,
        written: int,
        digest: Any,
        progress: Progress,
    ) -> int:
        """Download from `offset` to the end; a cut connection is retried from the byte where it stopped."""
        attempt, saved_at = 0, written
        while True:
            try:
                for block in self._ciphertext(offset, expected):
                    attempt = 0
                    offset += len(block)
                    progress.advance(len(block))
                    if digest is not None:
                        digest.update(block)
                    for plaintext in decryptor.feed(block):
                        output.write(plaintext)
                        written += len(plaintext)
                    if written - saved_at >= STATE_EVERY_BYTES:
                        self._save_point(output, partial, decryptor, expected, written)
                        saved_at = written
                for plaintext in decryptor.finish():
                    output.write(plaintext)
                    written += len(plaintext)
                return written
            except TRANSIENT_ERRORS as exc:
                attempt += 1
                if attempt >= self.api.retry.attempts:
                    self._save_point(output, partial, decryptor, expected, written)
                    hint = "run the same command again to resume"
                    raise NetworkError(f"the download kept failing ({exc}); {hint}") from None
                self.api.retry.pause(attempt)
            except (KeyboardInterrupt, NetworkError):
                self._save_point(output, partial, decryptor, expected, written)
                raise
            # The next attempt asks for the bytes from `offset` on; the decryptor keeps its partial record.

    def _save_point(self, output: Any, partial: Path, decryptor: ece.Decryptor, expected: int, written: int) -> None:
        if decryptor.header is None:
            return
        output.flush()
        os.fsync(output.fileno())
        state = ReceiveState(
            self.link.transfer_id, expected, decryptor.header.encode().hex(), decryptor.records_done, written
        )
        save_receive_state(partial, state)

    def _discard(self, partial: Path) -> None:
        partial.unlink(missing_ok=True)
        receive_state_path(partial).unlink(missing_ok=True)

    def _ciphertext(self, offset: int, expected: int) -> Iterator[bytes]:
        """Ciphertext from `offset`: through /download, or the presigned URL it redirected to."""
        if offset >= expected:
            return
        headers = {"range": f"bytes={offset}-"} if offset else {}
        response = None
        if self.presigned and time.monotonic() < self.presigned[1]:
            # Already paid for: a range of the same URL costs nothing more (S3 does not count fetches).
            response = self.session.get(self.presigned[0], headers=headers, stream=True, timeout=(10, 120))
            if response.status_code >= 400:
                response.close()
                response = None
        if response is None:
            path = f"/transfers/{self.link.transfer_id}/download"
            response = self.api.call("GET", path, self.link.download_token, headers=headers, stream=True)
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers["location"]
                lifetime = self._lifetime(response)
                response.close()
                self.presigned = (location, time.monotonic() + lifetime - URL_LIFETIME_MARGIN_SECONDS)
                response = with_retries(
                    self.api.retry,
                    "downloading from storage",
                    lambda: self.session.get(location, headers=headers, stream=True, timeout=(10, 120)),
                )
                raise_for_answer(response)
        with response:
            if offset and response.status_code != 206:
                raise NetworkError(f"the server ignored the resume range (status {response.status_code})")
            yield from response.iter_content(READ_BLOCK)

    @staticmethod
    def _lifetime(response: requests.Response) -> float:
        try:
            return float(response.json()["expires_in"])
        except (ValueError, KeyError, TypeError):
            return 0.0


def receive_link(text: str, options: ReceiveOptions, session: requests.Session | None = None) -> Path:
    try:
        link = parse_link(text)
    except ValueError as exc:
        raise UsageError(f"not a share link: {exc}") from None
    return Receiver(link, options, session).run()
