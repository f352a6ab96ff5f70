"""Manifests in S3, updated only by compare-and-swap.

Create is `If-None-Match: *` (never overwrite); every update reads the manifest with its ETag,
applies a pure change, and writes with `If-Match: <etag>`. A lost race (412, or 409 when S3
sees two conditional writes at once) re-reads and retries with jittered backoff, a bounded number
of times, so concurrent requests never lose an update and never spin forever. A manifest deleted
while an update was in flight is a 404, never a 500.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from handlers.errors import ApiError, not_found
from handlers.manifest import Manifest

MAX_ATTEMPTS = 20
RACE_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


class ManifestStore:
    def __init__(self, s3: Any, bucket: str, prefix: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self._sleep = sleep

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
        return Manifest.from_document(json.loads(answer["Body"].read())), answer["ETag"]

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
                self._put(updated, IfMatch=etag)
                return updated
            except ClientError as exc:
                if error_code(exc) in MISSING_CODES:
                    raise not_found() from None  # deleted between our read and our write
                if error_code(exc) not in RACE_CODES:
                    raise
            self._sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter, not secrecy
        raise ApiError(503, "busy", "the transfer is being changed by many requests at once; retry shortly")

    def delete(self, transfer_id: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.manifest_key(transfer_id))

    def _put(self, manifest: Manifest, **condition: str) -> None:
        body = json.dumps(manifest.to_document(), separators=(",", ":")).encode("utf-8")
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.manifest_key(manifest.id),
            Body=body,
            ContentType="application/json",
            **condition,
        )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
