"""The ciphertext relay: stored ciphertext streamed from S3 through the function, chunk by chunk.

`GET /transfers/{id}/ciphertext` reads the object in bounded chunks and writes each to the client
as it arrives, so memory does not grow with the object. `Range` gives 206 (or 416). A full read is
counted only after its last byte was handed to the runtime; ranged reads are not counted. The
limit is checked before a full read starts, so concurrent full reads can finish above it by at
most the number that started together, and every finished one is counted exactly.
`GET /transfers/{id}/download` relays small transfers and redirects large ones to S3.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from handlers import transfers
from handlers.errors import ApiError, conflict, gone, not_found
from handlers.http import JsonResponse, Request, StreamResponse
from handlers.manifest import PENDING, READY, Manifest
from handlers.ranges import ByteRange, Unsatisfiable, parse_range

log = logging.getLogger("transfer-api")

STREAMED_RESPONSE_LIMIT = 200 * 1000 * 1000  # Lambda's streamed-response cap, in decimal megabytes
RELAY_CHUNK_BYTES = 1024 * 1024
PREFETCH_CHUNKS = 4  # at most 4 MiB in flight per relay


def _readable(request: Request, service: transfers.Service) -> Manifest:
    manifest = transfers.authorise(request, service, owner=False, download=True)
    if manifest.state == PENDING:
        raise conflict("not_ready", "the upload is not complete yet")
    if manifest.state != READY:
        raise not_found()
    transfers.require_live(manifest, service.clock())
    return manifest


def _require_downloads_left(manifest: Manifest) -> None:
    if manifest.download_count >= manifest.max_downloads:
        raise gone("download_limit_reached", "this transfer has reached its download limit")


def ciphertext(request: Request, service: transfers.Service) -> StreamResponse:
    manifest = _readable(request, service)
    return _relay(request, service, manifest)


def _relay(request: Request, service: transfers.Service, manifest: Manifest) -> StreamResponse:
    try:
        byte_range = parse_range(request.headers.get("range"), manifest.size)
    except Unsatisfiable:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"the ciphertext has {manifest.size} bytes",
            {"content-range": f"bytes */{manifest.size}"},
        ) from None
    length = byte_range.length if byte_range else manifest.size
    if length > STREAMED_RESPONSE_LIMIT:
        raise ApiError(
            413,
            "too_large_for_relay",
            f"{length} bytes exceed Lambda's 200 MB streamed-response limit; "
            f"use GET /transfers/{manifest.id}/download-url for a direct S3 link",
        )
    if byte_range is None:
        _require_downloads_left(manifest)
    headers = {
        "content-type": "application/octet-stream",
        "x-ciphertext-size": str(manifest.size),
        "accept-ranges": "bytes",
        "cache-control": "no-store",
    }
    if byte_range is not None:
        headers["content-range"] = byte_range.content_range(manifest.size)
    body = _stream_object(service, manifest, byte_range)
    return StreamResponse(206 if byte_range else 200, body, headers)


def _stream_object(service: transfers.Service, manifest: Manifest, byte_range: ByteRange | None) -> Iterator[bytes]:
    options = {"Range": byte_range.s3_range()} if byte_range else {}
    try:
        answer = service.s3.get_object(Bucket=service.bucket, Key=service.store.ciphertext_key(manifest.id), **options)
    except ClientError as exc:
        raise ApiError(502, "storage_error", "the ciphertext could not be read from storage") from exc

    def chunks() -> Iterator[bytes]:
        sent, body = 0, answer["Body"]
        try:
            for chunk in prefetched(body.iter_chunks(RELAY_CHUNK_BYTES), PREFETCH_CHUNKS):
                sent += len(chunk)
                yield chunk
        finally:
            body.close()
        expected = byte_range.length if byte_range else manifest.size
        if sent != expected:
            raise ApiError(502, "storage_error", f"storage returned {sent} of {expected} bytes")
        if byte_range is None:
            _count_completed(service, manifest.id)

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


def _count_completed(service: transfers.Service, transfer_id: str) -> None:
    """Count a full read whose last byte has gone to the runtime (compare-and-swap, never refused)."""
    try:
        service.store.update(transfer_id, lambda m: m.replace(download_count=m.download_count + 1))
    except Exception:
        log.exception("a completed download of %s could not be counted", transfer_id)


def download(request: Request, service: transfers.Service) -> StreamResponse | JsonResponse:
    """One link for every size: relay up to the threshold, else 303 to a presigned GET."""
    manifest = _readable(request, service)
    if manifest.size <= service.settings.relay_threshold_bytes:
        return _relay(request, service, manifest)
    answer = transfers.presigned_download(service, manifest)
    return JsonResponse(303, answer.body, {"location": answer.body["url"]})
