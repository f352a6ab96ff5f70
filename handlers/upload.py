"""The small-file fast path: `PUT /transfers/{id}/ciphertext` with the ciphertext as the body.

One round trip instead of three (sign, PUT to S3, complete). The body reaches the function inside
the invocation event, so it must fit Lambda's 6 MiB request limit *after* base64 (binary bodies are
base64 in the event: 4/3 larger) and the event's own fields: FAST_PATH_MAX_BYTES leaves 64 KiB for
those. Larger transfers use the presigned routes; the 413 says so.
"""

from __future__ import annotations

import base64
import hashlib

from botocore.exceptions import ClientError

from handlers import transfers
from handlers.errors import ApiError, conflict, invalid
from handlers.http import JsonResponse, Request
from handlers.manifest import READY, Manifest
from handlers.service import Service, authorise, require_live, require_pending
from handlers.store import RACE_CODES, error_code

LAMBDA_REQUEST_LIMIT = 6 * 1024 * 1024
EVENT_OVERHEAD_ALLOWANCE = 64 * 1024
FAST_PATH_MAX_BYTES = (LAMBDA_REQUEST_LIMIT - EVENT_OVERHEAD_ALLOWANCE) * 3 // 4  # 4,669,440 bytes


def too_large_message(transfer_id: str) -> str:
    return (
        f"the fast path takes at most {FAST_PATH_MAX_BYTES} bytes (Lambda's 6 MiB request limit after base64); "
        f"upload with the presigned URL from POST /transfers, or POST /transfers/{transfer_id}/parts"
    )


def upload_ciphertext(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False).manifest
    require_live(manifest, service.clock())
    if manifest.state == READY:
        raise conflict("already_complete", "the transfer is already complete")
    require_pending(manifest)
    if manifest.size > FAST_PATH_MAX_BYTES or len(request.body) > FAST_PATH_MAX_BYTES:
        raise ApiError(413, "too_large", too_large_message(manifest.id))
    if manifest.method != "single":
        raise conflict("not_single", "this transfer was planned as a multipart upload; use its parts")
    if len(request.body) != manifest.size:
        raise invalid("body", f"has {len(request.body)} bytes; the transfer declared {manifest.size}")
    if manifest.sha256 and base64.b64encode(hashlib.sha256(request.body).digest()).decode() != manifest.sha256:
        raise conflict("checksum_mismatch", "the body does not match the declared sha256")
    _store_ciphertext(service, manifest, request.body)
    try:
        transfers.verify_object(service, manifest)
    except ApiError:
        transfers.delete_ciphertext(service, manifest.id)
        raise
    return JsonResponse(200, transfers.mark_ready(service, manifest.id))


def _store_ciphertext(service: Service, manifest: Manifest, body: bytes) -> None:
    """Create-only write; S3 itself checks the declared SHA-256 when there is one."""
    options = {"ChecksumSHA256": manifest.sha256} if manifest.sha256 else {}
    try:
        service.s3.put_object(
            Bucket=service.bucket,
            Key=service.ciphertext_key(manifest.id),
            Body=body,
            IfNoneMatch="*",
            ContentType="application/octet-stream",
            **options,
        )
    except ClientError as exc:
        code = error_code(exc)
        if code in RACE_CODES:
            raise conflict("already_uploaded", "ciphertext for this transfer was already uploaded") from None
        if code in ("BadDigest", "InvalidRequest", "XAmzContentSHA256Mismatch"):
            raise conflict("checksum_mismatch", "the body does not match the declared sha256") from None
        raise
