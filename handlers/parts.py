"""Multipart uploads: the part plan, presigned part PUTs, the parts S3 holds, and completion.

Each part URL is SigV4-presigned with the part's exact `Content-Length` (and its SHA-256 when the
transfer declared one), so S3 refuses any other body. ListParts is always read to the end (1,000
parts a page), so uploads of up to 10,000 parts are seen whole.
"""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import ClientError

from handlers import validation
from handlers.config import S3_MAX_PARTS, S3_MIN_PART_BYTES, MiB, Settings
from handlers.errors import ApiError, conflict, invalid, not_found
from handlers.http import JsonResponse, Request
from handlers.manifest import DELETED, READY, Manifest
from handlers.service import Service, authorise, require_live, require_pending
from handlers.store import error_code

MAX_PARTS_PER_REQUEST = 100


def plan_parts(size: int, settings: Settings) -> tuple[str, int, int]:
    """(method, part size, part count) within S3's limits: ≥5 MiB parts, ≤10,000 of them."""
    if size <= settings.multipart_threshold_bytes:
        return "single", size, 1
    part_size = max(settings.part_size_bytes, S3_MIN_PART_BYTES, math.ceil(size / S3_MAX_PARTS))
    part_size = math.ceil(part_size / MiB) * MiB
    return "multipart", part_size, math.ceil(size / part_size)


def sign_parts(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False).manifest
    require_live(manifest, service.clock())
    require_pending(manifest)
    if manifest.method != "multipart":
        raise conflict("not_multipart", "this transfer uploads with one presigned PUT; it has no parts")
    document = request.json()
    validation.reject_unknown(document, ("parts",))
    requested = document.get("parts")
    if not isinstance(requested, list) or not requested:
        raise invalid("parts", "must be a non-empty list of {number, sha256?} objects")
    if len(requested) > MAX_PARTS_PER_REQUEST:
        raise invalid("parts", f"at most {MAX_PARTS_PER_REQUEST} parts per request")
    signed, seen = [], set()
    for index, item in enumerate(requested):
        signed.append(_sign_part(service, manifest, item, f"parts[{index}]", seen))
    return JsonResponse(200, {"parts": signed, "expires_in": service.settings.presign_ttl_seconds})


def _sign_part(service: Service, manifest: Manifest, item: Any, where: str, seen: set[int]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid(where, "must be an object")
    validation.reject_unknown(item, ("number", "sha256"))
    number = validation.integer(item, "number", 1, manifest.part_count)
    if number in seen:
        raise invalid(f"{where}.number", f"part {number} is listed twice")
    seen.add(number)
    checksum = validation.sha256_digest(item)
    if manifest.sha256 and checksum is None:
        raise invalid(f"{where}.sha256", "this transfer declared a checksum, so every part needs its sha256")
    if not manifest.sha256 and checksum is not None:
        raise invalid(f"{where}.sha256", "this transfer declared no checksum; send parts without one")
    length = manifest.part_length(number)
    params: dict[str, Any] = {
        "Bucket": service.bucket,
        "Key": service.ciphertext_key(manifest.id),
        "UploadId": manifest.upload_id,
        "PartNumber": number,
        "ContentLength": length,
    }
    headers = {"content-length": str(length)}
    if checksum:
        params["ChecksumSHA256"] = checksum
        headers["x-amz-checksum-sha256"] = checksum
    ttl = service.settings.presign_ttl_seconds
    url = service.presigner.generate_presigned_url("upload_part", Params=params, ExpiresIn=ttl)
    return {"number": number, "url": url, "headers": headers, "size": length}


def list_parts(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False).manifest
    require_pending(manifest)
    require_live(manifest, service.clock())  # a resume that cannot finish should hear it first
    if manifest.method != "multipart":
        raise conflict("not_multipart", "this transfer uploads with one presigned PUT; it has no parts")
    parts = uploaded_parts(service, manifest)
    body = [{"number": p["PartNumber"], "size": p["Size"], "etag": p["ETag"]} for p in parts]
    missing = sorted(set(range(1, manifest.part_count + 1)) - {p["PartNumber"] for p in parts})
    return JsonResponse(200, {"parts": body, "missing": missing, "part_count": manifest.part_count})


def uploaded_parts(service: Service, manifest: Manifest) -> list[dict[str, Any]]:
    """Every part S3 holds for the transfer's upload, all pages of ListParts."""
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            page = service.s3.list_parts(
                Bucket=service.bucket,
                Key=service.ciphertext_key(manifest.id),
                UploadId=manifest.upload_id,
                PartNumberMarker=marker,
            )
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":
                raise upload_gone(service, manifest.id) from None
            raise
        parts.extend(page.get("Parts", []))
        following = page.get("NextPartNumberMarker") or 0
        if not page.get("IsTruncated") or following <= marker:  # the last page (or a store that loops)
            return parts
        marker = following


def complete_multipart(service: Service, manifest: Manifest) -> None:
    """Check every planned part is there at its planned size, then ask S3 to assemble them."""
    parts = uploaded_parts(service, manifest)
    numbers = [p["PartNumber"] for p in parts]
    missing = sorted(set(range(1, manifest.part_count + 1)) - set(numbers))
    if missing:
        raise conflict("upload_incomplete", f"parts not uploaded yet: {missing[:20]}")
    for part in parts:
        if part["Size"] != manifest.part_length(part["PartNumber"]):
            raise conflict(
                "upload_mismatch", f"part {part['PartNumber']} has {part['Size']} bytes, not the planned size"
            )
    listing = []
    for part in sorted(parts, key=lambda p: p["PartNumber"]):
        entry = {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
        if part.get("ChecksumSHA256"):
            entry["ChecksumSHA256"] = part["ChecksumSHA256"]
        listing.append(entry)
    try:
        service.s3.complete_multipart_upload(
            Bucket=service.bucket,
            Key=service.ciphertext_key(manifest.id),
            UploadId=manifest.upload_id,
            MultipartUpload={"Parts": listing},
        )
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":
            raise upload_gone(service, manifest.id) from None
        code = error_code(exc)
        if code in ("InvalidPart", "BadDigest", "InvalidDigest", "InvalidRequest"):
            raise conflict("checksum_mismatch", f"S3 refused the parts ({code}): a part does not match") from None
        if code in ("EntityTooSmall", "InvalidPartOrder"):
            raise conflict("upload_mismatch", f"S3 refused the parts ({code})") from None
        raise


def abort_upload(service: Service, manifest: Manifest) -> None:
    if manifest.method != "multipart" or not manifest.upload_id:
        return
    try:
        service.s3.abort_multipart_upload(
            Bucket=service.bucket, Key=service.ciphertext_key(manifest.id), UploadId=manifest.upload_id
        )
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise


def upload_gone(service: Service, transfer_id: str) -> ApiError:
    """Why the multipart upload vanished: deleted (404), completed (409) or aborted (409)."""
    try:
        manifest, _ = service.store.load(transfer_id)
    except ApiError:
        return not_found()
    if manifest.state == DELETED:
        return not_found()
    if manifest.state == READY:
        return conflict("already_complete", "the transfer is already complete")
    return conflict("wrong_state", "the multipart upload no longer exists")
