"""Manifests in S3, updated only by compare-and-swap.

Create is `If-None-Match: *` (never overwrite); every update reads the manifest with its ETag,
applies a pure change, and writes with `If-Match: <etag>`. A lost race (412, or 409 when S3
sees two conditional writes at once) re-reads and retries with jittered backoff, a bounded number
of times, so concurrent requests never lose an update and never spin forever. A manifest deleted
while an update was in flight is a 404, never a 500.

The store remembers the last ready manifest (and its ETag) it read or wrote for each of a few
hundred transfers. A read that reserves bytes may start from that instead of reading S3 again
(`recent`): its compare-and-swap then proves the manifest was still current, or fails and reads
the real one, so a stale memory can cost a retry but never grant a read.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from handlers.errors import ApiError, not_found
from handlers.manifest import READY, Manifest

MAX_ATTEMPTS = 20
RACE_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
REMEMBERED_MANIFESTS = 256


class ManifestStore:
    def __init__(self, s3: Any, bucket: str, prefix: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self._sleep = sleep
        self._recent: collections.OrderedDict[str, tuple[Manifest, str]] = collections.OrderedDict()
        self._recent_lock = threading.Lock()

    def manifest_key(self, transfer_id: str) -> str:
        return f"{self.prefix}{transfer_id}/manifest.json"

    def ciphertext_key(self, transfer_id: str) -> str:
        return f"{self.prefix}{transfer_id}/ciphertext"

    def create(self, manifest: Manifest) -> bool:
        """Write a new manifest; False if one already exists under that id."""
        try:
            self._put(manifest, IfNoneMatch="*")
        except ClientError as exc:
            if error_code(exc) in RACE_CODES:
                return False
            raise
        return True

    def load(self, transfer_id: str) -> tuple[Manifest, str]:
        """The manifest and its ETag; 404 when there is none."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.manifest_key(transfer_id))
        except ClientError as exc:
            if error_code(exc) in MISSING_CODES:
                raise not_found() from None
            raise
        manifest, etag = Manifest.from_document(json.loads(answer["Body"].read())), answer["ETag"]
        self._remember(manifest, etag)
        return manifest, etag

    def recent(self, transfer_id: str) -> tuple[Manifest, str] | None:
        """The last ready manifest this environment saw for `transfer_id`, with its ETag, if any.

        Only for a caller that goes on to change the manifest with `update(current=...)`: the
        conditional write is what proves it current.
        """
        with self._recent_lock:
            return self._recent.get(transfer_id)

    def _remember(self, manifest: Manifest, etag: str) -> None:
        with self._recent_lock:
            if manifest.state != READY:
                self._recent.pop(manifest.id, None)
                return
            self._recent[manifest.id] = (manifest, etag)
            self._recent.move_to_end(manifest.id)
            while len(self._recent) > REMEMBERED_MANIFESTS:
                self._recent.popitem(last=False)

    def update(
        self,
        transfer_id: str,
        change: Callable[[Manifest], Manifest],
        current: tuple[Manifest, str] | None = None,
    ) -> Manifest:
        """Apply `change` atomically. `change` may raise ApiError to refuse; it may run several times.

        `current` is a (manifest, etag) pair the caller has just loaded: the first attempt uses it
        instead of reading the manifest again.
        """
        for attempt in range(MAX_ATTEMPTS):
            manifest, etag = current if current is not None and attempt == 0 else self.load(transfer_id)
            updated = change(manifest)
            if updated == manifest:
                return manifest
            updated = updated.replace(revision=manifest.revision + 1)
            try:
                self._remember(updated, self._put(updated, IfMatch=etag))
                return updated
            except ClientError as exc:
                if error_code(exc) in MISSING_CODES:
                    raise not_found() from None  # deleted between our read and our write
                if error_code(exc) not in RACE_CODES:
                    raise
            self._sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not secrecy
        raise ApiError(503, "busy", "the transfer is being changed by many requests at once; retry shortly")

    def delete(self, transfer_id: str) -> None:
        with self._recent_lock:
            self._recent.pop(transfer_id, None)
        self.s3.delete_object(Bucket=self.bucket, Key=self.manifest_key(transfer_id))

    def _put(self, manifest: Manifest, **condition: str) -> str:
        """Write `manifest` under `condition`; its new ETag."""
        body = json.dumps(manifest.to_document(), separators=(",", ":")).encode("utf-8")
        answer = self.s3.put_object(
            Bucket=self.bucket,
            Key=self.manifest_key(manifest.id),
            Body=body,
            ContentType="application/json",
            **condition,
        )
        return str(answer.get("ETag", ""))


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
