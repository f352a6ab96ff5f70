"""The ciphertext relay: stored ciphertext streamed from S3 through the function, chunk by chunk.

`GET /transfers/{id}/ciphertext` reads the object in bounded chunks and writes each to the client
as it arrives, so memory does not grow with the object. `Range` gives 206 (or 416). Before the
first byte leaves, the read reserves what it will send (`accounting`): the whole size, or the
range's length. A relay that ends early gives back what it never handed to the runtime.
`GET /transfers/{id}/download` relays small transfers and redirects large ones to S3.

Speed (measured with `./dev bench relay`, see the README): the object is opened while the
reservation is being written, so S3's first byte is not waiting behind the manifest update; the
body is read straight into one buffer that the environment keeps across relays (`readinto1`, one
copy from the kernel) and goes to the runtime uncopied. One thread reads and writes in turn: the
kernel's socket buffer already reads S3 ahead while a chunk is being written, and a read-ahead
thread (measured: no gain in throughput) only added lock and GIL hand-offs per chunk, and its
ring of fresh buffers cost 4 ms of page faults before the first byte.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers import accounting, downloads
from handlers.errors import ApiError, not_found
from handlers.http import JsonResponse, Request, StreamResponse
from handlers.manifest import Manifest
from handlers.ranges import ByteRange
from handlers.service import Authorised, Service, authorise, transfer_id
from handlers.store import MISSING_CODES, error_code

STREAMED_RESPONSE_LIMIT = 200 * 1000 * 1000  # Lambda's streamed-response cap, in decimal megabytes
RELAY_CHUNK_BYTES = 1024 * 1024


def ciphertext(request: Request, service: Service) -> StreamResponse:
    """A whole-object read opens the object while the token is still being checked (a ranged one
    cannot: a suffix range needs the size from the manifest). Nothing is sent, or read beyond
    the response head, before the read is authorised and its bytes reserved."""
    early = None
    if not request.headers.get("range"):
        early = OpeningObject(service, transfer_id(request), None)
    try:
        authorised = authorise(request, service, owner=False, download=True, for_reservation=True)
    except BaseException:
        if early is not None:
            early.discard()
        raise
    return relay(request, service, authorised, early)


def download(request: Request, service: Service) -> StreamResponse | JsonResponse:
    """One link for every size: relay up to the threshold, else 303 to a presigned GET."""
    authorised = authorise(request, service, owner=False, download=True, for_reservation=True)
    if authorised.manifest.size <= service.settings.relay_threshold_bytes:
        return relay(request, service, authorised)
    answer = downloads.presigned_download(request, service, authorised)
    return JsonResponse(303, answer, {"location": answer["url"]})


def relay(
    request: Request, service: Service, authorised: Authorised, early: OpeningObject | None = None
) -> StreamResponse:
    try:
        return _relay(request, service, authorised, early)
    except BaseException:
        if early is not None:
            early.discard()  # refused before reading (expired, 416, 413, limit): close what was opened
        raise


def _relay(request: Request, service: Service, authorised: Authorised, early: OpeningObject | None) -> StreamResponse:
    manifest = authorised.manifest
    accounting.charge(manifest, 0, service.clock())  # not ready, expired: say so before looking at Range
    byte_range = downloads.requested_range(request, manifest.size)
    length = byte_range.length if byte_range else manifest.size
    if length > STREAMED_RESPONSE_LIMIT:
        raise ApiError(
            413,
            "too_large_for_relay",
            f"{length} bytes exceed Lambda's 200 MB streamed-response limit; "
            f"use GET /transfers/{manifest.id}/download-url for a direct S3 link, or a smaller Range",
        )
    if early is not None and byte_range is None:
        opening = early
    else:
        if early is not None:
            early.discard()
        opening = OpeningObject(service, manifest.id, byte_range)  # in parallel with the reservation
    try:
        counted = accounting.reserve(service, authorised, length)
    except BaseException:
        opening.discard()
        raise
    headers = {
        "content-type": "application/octet-stream",
        "x-ciphertext-size": str(manifest.size),
        "x-download-bytes-remaining": str(counted.bytes_remaining),
        "accept-ranges": "bytes",
    }
    if byte_range is not None:
        headers["content-range"] = byte_range.content_range(manifest.size)
    body = _stream_object(service, manifest, opening, length)
    return StreamResponse(206 if byte_range else 200, body, headers)


class OpeningObject:
    """`GetObject` started in a thread, so it overlaps the token check and the reservation."""

    def __init__(self, service: Service, transfer: str, byte_range: ByteRange | None) -> None:
        self._service = service
        self._key = service.ciphertext_key(transfer)
        self._options = {"Range": byte_range.s3_range()} if byte_range else {}
        self._answer: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._discarded = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._open, name="relay-open", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            answer = self._service.s3.get_object(Bucket=self._service.bucket, Key=self._key, **self._options)
        except BaseException as exc:  # re-raised by result(), in the request's thread
            self._error = exc
            return
        with self._lock:
            self._answer = answer
            if self._discarded:
                answer["Body"].close()

    def result(self) -> dict[str, Any]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._answer is not None
        return self._answer

    def discard(self) -> None:
        """The read was refused: close the object, now or as soon as it is open (never read it)."""
        with self._lock:
            self._discarded = True
            if self._answer is not None:
                self._answer["Body"].close()


def _stream_object(service: Service, manifest: Manifest, opening: OpeningObject, length: int) -> Iterator[bytes]:
    try:
        answer = opening.result()
    except BaseException as exc:  # nothing was sent: the whole reservation goes back
        accounting.refund(service, manifest.id, length)
        if isinstance(exc, ClientError) and error_code(exc) in MISSING_CODES:
            raise not_found() from None  # deleted after we authorised
        if isinstance(exc, (ClientError, BotoCoreError, OSError)):
            raise ApiError(502, "storage_error", "the ciphertext could not be read from storage") from exc
        raise

    def chunks() -> Iterator[bytes | memoryview]:
        sent, body = 0, answer["Body"]
        try:
            for chunk in body_chunks(body, length):
                sent += len(chunk)
                yield chunk
        except (BotoCoreError, ClientError, OSError) as exc:  # S3 failed mid-object: cut the stream
            raise ApiError(502, "storage_error", f"storage failed after {sent} of {length} bytes") from exc
        finally:
            body.close()
            accounting.refund(service, manifest.id, length - sent)  # stopped early: give back the rest
        if sent != length:
            raise ApiError(502, "storage_error", f"storage returned {sent} of {length} bytes")

    return chunks()


def body_chunks(body: Any, length: int) -> Iterator[bytes | memoryview]:
    """The object's `length` bytes, in pieces as the socket delivers them (up to RELAY_CHUNK_BYTES).

    When botocore's body sits on a plain `http.client` response, each piece is read straight into
    one reused buffer (`readinto1`: one copy, from the kernel, of whatever the socket holds, so a
    piece moves on as soon as it arrives) and handed on uncopied: a piece is valid only until the
    next is asked for. The relay's consumer is the runtime's `write`, which has put a chunk on the
    wire before it returns. Otherwise the pieces come through botocore as new bytes objects.
    """
    raw = getattr(body, "_raw_stream", None)
    response = getattr(raw, "_fp", None)
    reader = getattr(response, "fp", None)
    encoded = getattr(raw, "headers", {}).get("content-encoding", "identity") not in ("", "identity")
    if reader is None or not hasattr(reader, "readinto1") or encoded or getattr(response, "chunked", False):
        yield from body.iter_chunks(RELAY_CHUNK_BYTES)
        return
    buffer = _take_buffer()
    try:
        remaining = length
        while remaining > 0:
            count = reader.readinto1(buffer[: min(remaining, RELAY_CHUNK_BYTES)])
            if not count:
                return  # S3 closed early: the caller sees the short count
            remaining -= count
            yield buffer[:count]
    finally:
        _spare_buffers.append(buffer)


_spare_buffers: list[memoryview] = []  # relay buffers, kept for the environment's next relays


def _take_buffer() -> memoryview:
    """A spare buffer, or a new one. A new 1 MiB bytearray is zero-filled page by page: measured
    at about 0.7 ms per MiB of page faults before the first byte, paid once per environment."""
    try:
        return _spare_buffers.pop()
    except IndexError:
        return memoryview(bytearray(RELAY_CHUNK_BYTES))
