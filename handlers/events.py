"""Live transfer events: `GET /transfers/{id}/events` as a `text/event-stream`.

The stream polls S3 cheaply: a conditional GET of the manifest with `If-None-Match: <etag>` costs a
304 while nothing changed, plus ListParts (every page of it) while a multipart upload is in progress. Each change
is one `state` event whose `id:` is `<manifest revision>.<parts uploaded>`; a client reconnecting
with `Last-Event-ID` gets no event until something changed after that id. A `retry:` hint opens
the stream and a comment heartbeat goes out every 15 s. The stream ends cleanly when the transfer
is deleted, expires or has no download allowance left, and after `TRANSFER_EVENTS_MAX_SECONDS`
(30) or before the invocation runs out of time, whichever is first, asking the client to reconnect:
Lambda never tells a function that its client went away, so this bounds what an abandoned stream
holds (one concurrent invocation) to half a minute rather than the function's whole timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handlers import parts
from handlers.errors import ApiError
from handlers.http import Request, StreamResponse
from handlers.manifest import DELETED, PENDING, Manifest
from handlers.service import Service, authorise
from handlers.store import MISSING_CODES, error_code

HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
STOP_MARGIN_MS = 3000  # end the stream this long before the function would time out


@dataclass
class Snapshot:
    manifest: Manifest | None  # None once the transfer is gone
    parts_uploaded: int
    bytes_uploaded: int

    @property
    def event_id(self) -> str:
        revision = self.manifest.revision if self.manifest else "deleted"
        return f"{revision}.{self.parts_uploaded}"


def format_event(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def events(request: Request, service: Service) -> StreamResponse:
    manifest = authorise(request, service, owner=True, download=True).manifest
    last_seen = request.headers.get("last-event-id", "").strip() or None
    headers = {"content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamResponse(200, EventStream(service, manifest, request.remaining_ms, last_seen).run(), headers)


class EventStream:
    def __init__(
        self,
        service: Service,
        manifest: Manifest,
        remaining_ms: Callable[[], int],
        last_seen: str | None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.transfer_id = manifest.id
        self.remaining_ms = remaining_ms
        self.last_seen = last_seen
        self.sleep = sleep
        self.monotonic = monotonic
        self.interval = service.settings.events_poll_seconds
        self.etag: str | None = None
        self.manifest: Manifest | None = manifest
        self.parts: list[dict[str, Any]] = []

    def run(self) -> Iterator[bytes]:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        started = last_beat = self.monotonic()
        while True:
            snapshot = self._poll()
            if snapshot.event_id != self.last_seen:
                self.last_seen = snapshot.event_id
                yield format_event("state", self._describe(snapshot), snapshot.event_id)
                last_beat = self.monotonic()
            reason = self._final_reason(snapshot)
            if reason:
                yield format_event("end", {"reason": reason})
                return
            out_of_time = self.remaining_ms() < self.interval * 1000 + STOP_MARGIN_MS
            if out_of_time or self.monotonic() - started >= self.service.settings.events_max_seconds:
                yield format_event("end", {"reason": "timeout", "reconnect": True})
                return
            if self.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                yield b": heartbeat\n\n"
                last_beat = self.monotonic()
            self.sleep(self.interval)

    def _poll(self) -> Snapshot:
        self.manifest = self._load_if_changed()
        if self.manifest is None or self.manifest.state == DELETED:
            return Snapshot(None, 0, 0)
        if self.manifest.state != PENDING:
            return Snapshot(self.manifest, self.manifest.part_count, self.manifest.size)
        if self.manifest.method == "multipart":
            self.parts = self._parts() or self.parts  # completed meanwhile: keep the last count
        return Snapshot(self.manifest, len(self.parts), sum(part["Size"] for part in self.parts))

    def _load_if_changed(self) -> Manifest | None:
        store = self.service.store
        options = {"IfNoneMatch": self.etag} if self.etag else {}
        try:
            answer = self.service.s3.get_object(
                Bucket=store.bucket, Key=store.manifest_key(self.transfer_id), **options
            )
        except ClientError as exc:
            code = error_code(exc)
            if code in ("304", "NotModified"):
                return self.manifest
            if code in MISSING_CODES:
                return None
            raise
        self.etag = answer["ETag"]
        return Manifest.from_document(json.loads(answer["Body"].read()))

    def _parts(self) -> list[dict[str, Any]]:
        assert self.manifest is not None
        try:
            return parts.uploaded_parts(self.service, self.manifest)
        except (ApiError, ClientError):
            return []  # completed or aborted meanwhile: the manifest will say which

    def _describe(self, snapshot: Snapshot) -> dict[str, Any]:
        if snapshot.manifest is None:
            return {"id": self.transfer_id, "state": "deleted"}
        view = snapshot.manifest.public_view(self.service.clock())
        view.pop("metadata", None)
        view["parts_uploaded"] = snapshot.parts_uploaded
        view["bytes_uploaded"] = snapshot.bytes_uploaded
        return view

    def _final_reason(self, snapshot: Snapshot) -> str | None:
        manifest = snapshot.manifest
        if manifest is None:
            return "deleted"
        if manifest.is_expired(self.service.clock()):
            return "expired"
        if manifest.bytes_remaining == 0:
            return "download_limit_reached"
        return None
