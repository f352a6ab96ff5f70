"""The ciphertext relay: stored ciphertext streamed from S3 through the function, chunk by chunk.

`GET /transfers/{id}/ciphertext` reads the object in bounded chunks and writes each to the client
as it arrives, so memory does not grow with the object. `Range` gives 206 (or 416). Before the
first byte leaves, the read reserves what it will send (`accounting`): the whole size, or the
range's length. A relay that ends early gives back what it never handed to the runtime.
`GET /transfers/{id}/download` relays small transfers and redirects large ones to S3.

Speed (measured with `./dev bench relay`, see the README): the object is opened while the
reservation is being written, so S3's first byte is not waiting behind the manifest update;
the body is read by a second thread straight into a small ring of reused buffers (`readinto`,
one copy from the kernel) that go to the runtime uncopied, so reading S3 and writing to the
client overlap and the relay does not allocate per chunk.
"""

from __future__ import annotations

import itertools
import queue
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
PREFETCH_CHUNKS = 4  # at most 4 MiB in flight per relay


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
            for chunk in prefetched(body_chunks(body, length), PREFETCH_CHUNKS):
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

    Reads straight into a ring of PREFETCH_CHUNKS + 2 reused buffers when botocore's body sits on
    a plain `http.client` response (`readinto1`: one copy, from the kernel, of whatever the
    socket holds, so a piece moves on as soon as it arrives), and through botocore otherwise. A
    buffer is reused only after `prefetched` let its consumer write it: the ring is one larger
    than what can be queued plus the one being written.
    """
    raw = getattr(body, "_raw_stream", None)
    response = getattr(raw, "_fp", None)
    reader = getattr(response, "fp", None)
    encoded = getattr(raw, "headers", {}).get("content-encoding", "identity") not in ("", "identity")
    if reader is None or not hasattr(reader, "readinto1") or encoded or getattr(response, "chunked", False):
        yield from body.iter_chunks(RELAY_CHUNK_BYTES)
        return
    ring = [memoryview(bytearray(RELAY_CHUNK_BYTES)) for _ in range(PREFETCH_CHUNKS + 2)]
    remaining = length
    for index in itertools.count():
        if remaining <= 0:
            return
        buffer = ring[index % len(ring)][: min(remaining, RELAY_CHUNK_BYTES)]
        count = reader.readinto1(buffer)
        if not count:
            return  # S3 closed early: the caller sees the short count
        remaining -= count
        yield buffer[:count]


def prefetched(chunks: Iterator[bytes | memoryview], depth: int) -> Iterator[bytes | memoryview]:
    """Read ahead up to `depth` chunks in a thread, so reading S3 and writing to the client overlap.

    Without it the relay alternates: read a chunk, wait while it is written, read the next. Memory
    stays bounded by `depth` chunks. If the consumer stops early, the reader stops at its next put.
    """
    channel: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stopped.is_set():
            try:
                channel.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not put(("chunk", chunk)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it in its own thread
            put(("error", exc))

    threading.Thread(target=read, name="relay-prefetch", daemon=True).start()
    try:
        while True:
            kind, value = channel.get()
            if kind == "chunk":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stopped.set()
