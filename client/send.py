"""`send`: encrypt a file while reading it and upload the ciphertext, resumably.

Small files (ciphertext up to the fast-path limit) go in one request through the function. Larger
ones are hashed in a first pass (the whole ciphertext's SHA-256 is declared at creation, which lets
every part carry its own SHA-256 that S3 checks), then uploaded to presigned URLs: one PUT, or
parts in parallel. Each part is encrypted from the file on demand, so memory holds at most one
part per worker whatever the file's size. The state needed to resume (secret, tokens, plan) is
saved before the first byte leaves; `--resume` asks the API which parts S3 already holds, checks
that the file still produces the declared ciphertext, and uploads only the missing parts.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import queue
import shlex
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from client import ece
from client.api import TransferApi, with_retries
from client.errors import ClientError, Interrupted, ServiceError, UsageError
from client.link import ShareLink, new_secret
from client.metadata import FileMetadata, b64url, seal_metadata, unb64url
from client.progress import Progress
from client.state import SendState, SendStateStore

FAST_PATH_MAX_BYTES = 4_669_440  # the API's small-file limit (Lambda's 6 MiB event, base64)
DEFAULT_PARALLEL = 4
BODY_BLOCK = 64 * 1024


@dataclass(frozen=True)
class SendOptions:
    api_url: str
    expires_in: int | None = None
    max_downloads: int | None = None
    resume: bool = False
    parallel: int = DEFAULT_PARALLEL
    show_progress: bool | None = None
    state_dir: Path | None = None
    creation_key: str | None = None


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


class CiphertextFile:
    """The aes128gcm ciphertext of a file, produced on demand for any byte range."""

    def __init__(self, descriptor: int, encryptor: ece.Encryptor) -> None:
        self.descriptor = descriptor
        self.encryptor = encryptor
        self.header = encryptor.header.encode()
        self.size = ece.ciphertext_size(encryptor.plaintext_size)

    def __len__(self) -> int:
        return self.size

    def record(self, sequence: int) -> bytes:
        offset, length = ece.record_plaintext_span(self.encryptor.plaintext_size, sequence)
        plaintext = os.pread(self.descriptor, length, offset)
        if len(plaintext) != length:
            raise UsageError("the file became shorter while it was being sent")
        return self.encryptor.record(sequence, plaintext)

    def read_range(self, start: int, end: int) -> bytes:
        """Ciphertext bytes [start, end)."""
        header_length = len(self.header)
        out = bytearray(self.header[start:end] if start < header_length else b"")
        if end <= header_length:
            return bytes(out)
        first = (max(start, header_length) - header_length) // ece.RECORD_SIZE
        last = (end - 1 - header_length) // ece.RECORD_SIZE
        for sequence in range(first, last + 1):
            record_start = header_length + sequence * ece.RECORD_SIZE
            record = self.record(sequence)
            out += record[max(start - record_start, 0) : end - record_start]
        return bytes(out)

    def digest(self, progress: Progress) -> str:
        """Base64 SHA-256 of the whole ciphertext, computed record by record."""
        digest = hashlib.sha256(self.header)
        progress.advance(len(self.header))
        for sequence in range(self.encryptor.records):
            record = self.record(sequence)
            digest.update(record)
            progress.advance(len(record))
        return base64.b64encode(digest.digest()).decode("ascii")


class CountingBody:
    """A request body that reports bytes as the HTTP client reads them (for the progress bar).

    It reads from memory, or straight from a `CiphertextFile` record by record (one record held).
    """

    def __init__(self, data: bytes | CiphertextFile, on_bytes: Callable[[int], None]) -> None:
        self.data = data
        self.length = len(data)
        self.position = 0
        self.record: tuple[int, bytes] = (-1, b"")
        self.on_bytes = on_bytes

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        end = self.length if size is None or size < 0 else min(self.length, self.position + size)
        chunk = self._slice(self.position, end)
        self.position += len(chunk)
        self.on_bytes(len(chunk))
        return chunk

    def _slice(self, start: int, end: int) -> bytes:
        if not isinstance(self.data, CiphertextFile):
            return bytes(self.data[start:end])
        header = self.data.header
        if start < len(header):
            return header[start : min(end, len(header))]
        sequence, offset = divmod(start - len(header), ece.RECORD_SIZE)
        if self.record[0] != sequence:
            self.record = (sequence, self.data.record(sequence))
        return self.record[1][offset : offset + end - start]

    def __iter__(self):  # requests streams bodies that are iterable and have a length
        while chunk := self.read(BODY_BLOCK):
            yield chunk


def put_presigned(
    session: requests.Session,
    api: TransferApi,
    url: str,
    headers: dict[str, str],
    body: bytes | CiphertextFile,
    progress: Progress,
) -> None:
    """PUT `body` to a presigned URL with exactly the signed headers; retried, progress rolled back.

    A create-only PUT (`if-none-match: *`) that is refused with 412 on a retry found what an
    earlier attempt stored before its answer was lost: that is success (`complete` checks it).
    """
    sent = [0]
    attempts = [0]

    def count(n: int) -> None:
        sent[0] += n
        progress.advance(n)

    def once() -> requests.Response:
        progress.advance(-sent[0])
        sent[0] = 0
        attempts[0] += 1
        wanted = {k: v for k, v in headers.items() if k.lower() != "content-length"}  # set from the body
        return session.put(url, data=CountingBody(body, count), headers=wanted, timeout=(10, 300))

    response = with_retries(api.retry, "uploading to storage", once)
    create_only = any(k.lower() == "if-none-match" for k in headers)
    if response.status_code == 412 and create_only and attempts[0] > 1:
        progress.advance(len(body) - sent[0])
        return
    if response.status_code >= 400:
        raise ServiceError(response.status_code, "storage_refused", response.text[:300])


def guess_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class Sender:
    def __init__(self, path: Path, options: SendOptions, session: requests.Session | None = None) -> None:
        self.path = path
        self.options = options
        self.session = session or requests.Session()
        self.api = TransferApi(options.api_url, self.session)
        self.store = SendStateStore(options.state_dir)

    def run(self) -> ShareLink:
        try:
            stat = self.stat = self.path.stat()
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {exc.strerror}") from None
        if not self.path.is_file():
            raise UsageError(f"{self.path} is not a regular file")
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            if self.options.resume:
                return self._resume(descriptor, stat.st_size)
            return self._send_new(descriptor, stat.st_size)
        finally:
            os.close(descriptor)

    # -- a new transfer ---------------------------------------------------------------------------

    def _send_new(self, descriptor: int, size: int) -> ShareLink:
        secret, salt = new_secret(), os.urandom(ece.SALT_BYTES)
        source = CiphertextFile(descriptor, ece.Encryptor(secret, salt, size))
        metadata = seal_metadata(secret, FileMetadata(self.path.name, size, guess_type(self.path)))
        fields: dict[str, Any] = {
            "creation_key": self.options.creation_key,
            "metadata": metadata,
            "expires_in": self.options.expires_in,
            "max_downloads": self.options.max_downloads,
        }
        if source.size <= FAST_PATH_MAX_BYTES:
            return self._send_small(source, secret, fields)
        with Progress(source.size, "Sealing", self.options.show_progress) as progress:
            digest = source.digest(progress)
        transfer = self.api.create(size=source.size, sha256=digest, **fields)
        upload = transfer["upload"]
        state = SendState(
            api_url=self.api.base_url,
            source=str(self.path.resolve()),
            plaintext_size=size,
            transfer_id=transfer["id"],
            owner_token=transfer["owner_token"],
            download_token=transfer["download_token"],
            secret=b64url(secret),
            salt=salt.hex(),
            sha256=digest,
            method=upload["method"],
            part_size=upload.get("part_size", source.size),
            part_count=upload.get("part_count", 1),
        )
        self.store.save(self.path, state)
        link = self._link(state)
        print(f"Share link (downloads start once the upload completes):\n  {link}", file=sys.stderr)
        if upload["method"] == "single":
            self._upload_single(source, upload["url"], upload["headers"], state)
        else:
            self._upload_parts(source, state, list(range(1, state.part_count + 1)))
        return self._finish(state)

    def _send_small(self, source: CiphertextFile, secret: bytes, fields: dict[str, Any]) -> ShareLink:
        """One request through the function: the ciphertext is small enough to hold and to send at once."""
        ciphertext = source.read_range(0, source.size)
        transfer = self.api.create(size=source.size, sha256=sha256_b64(ciphertext), **fields)
        with Progress(source.size, "Uploading", self.options.show_progress) as progress:
            try:
                self.api.upload_fast(transfer["id"], transfer["owner_token"], ciphertext)
            except ServiceError as exc:
                if exc.code not in ("already_complete", "already_uploaded"):  # a retry whose answer was lost
                    raise
            progress.advance(source.size)
        return ShareLink(self.api.base_url, transfer["id"], transfer["download_token"], secret)

    # -- resuming --------------------------------------------------------------------------------

    def _resume(self, descriptor: int, size: int) -> ShareLink:
        state = self.store.load(self.path)
        if state is None:
            raise UsageError(f"there is no unfinished upload of {self.path} to resume; send it without --resume")
        if state.plaintext_size != size:
            raise UsageError(f"{self.path} changed since its upload started; send it again without --resume")
        self.api = TransferApi(state.api_url, self.session, self.api.retry)
        view = self.api.view(state.transfer_id, state.owner_token)
        if view["state"] == "ready":
            return self._finish(state)
        secret = unb64url(state.secret)
        source = CiphertextFile(descriptor, ece.Encryptor(secret, bytes.fromhex(state.salt), size))
        with Progress(source.size, "Checking", self.options.show_progress) as progress:
            digest = source.digest(progress)
        if digest != state.sha256:  # re-sealing different plaintext under the same nonces would leak it
            raise UsageError(f"{self.path} changed since its upload started; send it again without --resume")
        print(f"Resuming; share link:\n  {self._link(state)}", file=sys.stderr)
        if state.method == "single":
            raise UsageError(
                "this upload used one presigned URL, which cannot be renewed; send the file again without --resume"
            )
        self._upload_parts(source, state, self.api.missing_parts(state.transfer_id, state.owner_token))
        return self._finish(state)

    # -- uploads -----------------------------------------------------------------------------------

    def _upload_single(self, source: CiphertextFile, url: str, headers: dict[str, str], state: SendState) -> None:
        with Progress(source.size, "Uploading", self.options.show_progress) as progress:
            self._guard(lambda: put_presigned(self.session, self.api, url, headers, source, progress), state)

    def _upload_parts(self, source: CiphertextFile, state: SendState, missing: list[int]) -> None:
        done = source.size - sum(self._part_length(state, number) for number in missing)
        with Progress(source.size, "Uploading", self.options.show_progress, initial=done) as progress:
            self._guard(lambda: self._run_workers(source, state, missing, progress), state)

    def _part_length(self, state: SendState, number: int) -> int:
        total = ece.ciphertext_size(state.plaintext_size)
        return min(state.part_size, total - (number - 1) * state.part_size)

    def _upload_part(self, source: CiphertextFile, state: SendState, number: int, progress: Progress) -> None:
        start = (number - 1) * state.part_size
        body = source.read_range(start, start + self._part_length(state, number))
        request = [{"number": number, "sha256": sha256_b64(body)}]
        signed = self.api.sign_parts(state.transfer_id, state.owner_token, request)
        part = signed[number]
        put_presigned(self.session, self.api, part["url"], part["headers"], body, progress)

    def _run_workers(self, source: CiphertextFile, state: SendState, missing: list[int], progress: Progress) -> None:
        """Upload parts on daemon threads (so Ctrl-C ends the process at once); first failure wins."""
        pending: queue.Queue[int] = queue.Queue()
        for number in missing:
            pending.put(number)
        failures: list[BaseException] = []
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    number = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._upload_part(source, state, number, progress)
                except BaseException as exc:  # handed to the main thread
                    failures.append(exc)
                    stop.set()

        workers = [threading.Thread(target=work, daemon=True) for _ in range(max(1, self.options.parallel))]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.2)
        if failures:
            raise failures[0]

    def _guard(self, upload: Callable[[], None], state: SendState) -> None:
        """Run an upload; on any failure say how to go on (the state file is kept for --resume)."""
        if state.method == "multipart":
            command = shlex.join([sys.executable, "-m", "client", "send", str(self.path), "--resume"])
            hint = f"run `{command}` to continue where it stopped"
        else:
            hint = "send the file again"
        try:
            upload()
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; {hint}") from None
        except ClientError as exc:
            exc.message = f"{exc.message}; {hint}"
            raise

    def _finish(self, state: SendState) -> ShareLink:
        now = self.path.stat()
        if (now.st_size, now.st_mtime_ns) != (self.stat.st_size, self.stat.st_mtime_ns):
            self.store.delete(self.path)
            self.api.delete(state.transfer_id, state.owner_token)
            raise UsageError(f"{self.path} changed while it was being sent; the transfer was deleted, send it again")
        self.api.complete(state.transfer_id, state.owner_token)
        self.store.delete(self.path)
        return self._link(state)

    def _link(self, state: SendState) -> ShareLink:
        return ShareLink(state.api_url, state.transfer_id, state.download_token, unb64url(state.secret))


def send_file(path: Path, options: SendOptions, session: requests.Session | None = None) -> ShareLink:
    return Sender(path, options, session).run()
