"""The ciphertext relay: stored ciphertext streamed from S3 through the function, chunk by chunk.

`GET /transfers/{id}/ciphertext` reads the object in bounded chunks and writes each to the client
as it arrives, so memory does not grow with the object. `Range` gives 206 (or 416). Before the
first byte leaves, the read reserves what it will send (`accounting`): the whole size, or the
range's length. A relay that ends early gives back what it never handed to the runtime.
`GET /transfers/{id}/download` relays small transfers and redirects large ones to S3.
"""

from __future__ import annotations

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
from handlers.service import Authorised, Service, authorise
from handlers.store import MISSING_CODES, error_code

STREAMED_RESPONSE_LIMIT = 200 * 1000 * 1000  # Lambda's streamed-response cap, in decimal megabytes
RELAY_CHUNK_BYTES = 1024 * 1024
PREFETCH_CHUNKS = 4  # at most 4 MiB in flight per relay


def ciphertext(request: Request, service: Service) -> StreamResponse:
    return relay(request, service, authorise(request, service, owner=False, download=True))


def download(request: Request, service: Service) -> StreamResponse | JsonResponse:
    """One link for every size: relay up to the threshold, else 303 to a presigned GET."""
    authorised = authorise(request, service, owner=False, download=True)
    if authorised.manifest.size <= service.settings.relay_threshold_bytes:
        return relay(request, service, authorised)
    answer = downloads.presigned_download(request, service, authorised)
    return JsonResponse(303, answer, {"location": answer["url"]})


def relay(request: Request, service: Service, authorised: Authorised) -> StreamResponse:
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
    counted = accounting.reserve(service, authorised, length)
    headers = {
        "content-type": "application/octet-stream",
        "x-ciphertext-size": str(manifest.size),
        "x-download-bytes-remaining": str(counted.bytes_remaining),
        "accept-ranges": "bytes",
    }
    if byte_range is not None:
        headers["content-range"] = byte_range.content_range(manifest.size)
    body = _stream_object(service, manifest, byte_range, length)
    return StreamResponse(206 if byte_range else 200, body, headers)


def _stream_object(service: Service, manifest: Manifest, byte_range: ByteRange | None, length: int) -> Iterator[bytes]:
    options = {"Range": byte_range.s3_range()} if byte_range else {}
    try:
        answer = service.s3.get_object(Bucket=service.bucket, Key=service.ciphertext_key(manifest.id), **options)
    except ClientError as exc:
        accounting.refund(service, manifest.id, length)
        if error_code(exc) in MISSING_CODES:
            raise not_found() from None  # deleted after we authorised
        raise ApiError(502, "storage_error", "the ciphertext could not be read from storage") from exc

    def chunks() -> Iterator[bytes]:
        sent, body = 0, answer["Body"]
        try:
            for chunk in prefetched(body.iter_chunks(RELAY_CHUNK_BYTES), PREFETCH_CHUNKS):
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


def prefetched(chunks: Iterator[bytes], depth: int) -> Iterator[bytes]:
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
