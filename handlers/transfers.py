"""The transfer routes: create, sign parts, list parts, complete, read, delete, download URL.

Every route validates the transfer id before it touches an S3 key, authorises with a capability
token (owner or download, compared in constant time), and changes the manifest only through the
store's compare-and-swap. A download is counted when its URL is issued, inside the same atomic
update that checks the limit, so concurrent requests can never exceed it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from handlers import tokens, validation
from handlers.config import S3_MAX_PARTS, S3_MIN_PART_BYTES, MiB, Settings
from handlers.errors import ApiError, conflict, gone, invalid, not_found, too_large
from handlers.http import JsonResponse, Request
from handlers.manifest import DELETED, PENDING, READY, Manifest, iso
from handlers.store import ManifestStore, error_code

MAX_PARTS_PER_REQUEST = 100
CREATE_FIELDS = ("size", "sha256", "metadata", "expires_in", "max_downloads")


@dataclass
class Service:
    """What route handlers need, built once per environment."""

    settings: Settings
    store: ManifestStore
    s3: Any
    presigner: Any
    clock: Callable[[], float] = field(default=time.time)

    @property
    def bucket(self) -> str:
        return self.settings.bucket


# -- authorisation ---------------------------------------------------------------------------------


def transfer_id(request: Request) -> str:
    value = request.path_params.get("id", "")
    if not tokens.is_valid_transfer_id(value):
        raise not_found()  # never let a malformed id near an S3 key
    return value


def authorise(request: Request, service: Service, *, owner: bool, download: bool) -> Manifest:
    """Load the manifest if the bearer token grants one of the requested roles; 404 otherwise."""
    token = request.bearer_token()
    manifest, _ = service.store.load(transfer_id(request))
    allowed = (owner and tokens.token_matches(token, manifest.owner_token_hash)) or (
        download and tokens.token_matches(token, manifest.download_token_hash)
    )
    if not allowed or manifest.state == DELETED:
        raise not_found()
    return manifest


def require_live(manifest: Manifest, now: float) -> None:
    if manifest.is_expired(now):
        raise gone("expired", "this transfer has expired")


def require_pending(manifest: Manifest) -> None:
    if manifest.state != PENDING:
        raise conflict("wrong_state", f"the transfer is {manifest.state}, not pending")


# -- create ------------------------------------------------------------------------------------------


def plan_parts(size: int, settings: Settings) -> tuple[str, int, int]:
    """(method, part size, part count) within S3's limits: ≥5 MiB parts, ≤10,000 of them."""
    if size <= settings.multipart_threshold_bytes:
        return "single", size, 1
    part_size = max(settings.part_size_bytes, S3_MIN_PART_BYTES, math.ceil(size / S3_MAX_PARTS))
    part_size = math.ceil(part_size / MiB) * MiB
    return "multipart", part_size, math.ceil(size / part_size)


def create_transfer(request: Request, service: Service) -> JsonResponse:
    settings = service.settings
    document = request.json()
    validation.reject_unknown(document, CREATE_FIELDS)
    size = validation.integer(document, "size", 1, 2**63)
    if size > settings.max_transfer_bytes:
        raise too_large(f"size {size} exceeds this service's limit of {settings.max_transfer_bytes} bytes")
    sha256 = validation.sha256_digest(document)
    metadata = validation.optional_string(document, "metadata")
    if metadata is not None and len(metadata.encode("utf-8")) > settings.max_metadata_bytes:
        raise too_large(f"metadata exceeds {settings.max_metadata_bytes} bytes")
    expires_in = validation.integer(document, "expires_in", 60, settings.max_expires_in, settings.default_expires_in)
    max_downloads = validation.integer(
        document, "max_downloads", 1, settings.max_max_downloads, settings.default_max_downloads
    )
    method, part_size, part_count = plan_parts(size, settings)
    owner_token = tokens.new_token()
    now = service.clock()
    manifest = Manifest(
        id=tokens.new_transfer_id(),
        state=PENDING,
        size=size,
        sha256=sha256,
        method=method,
        part_size=part_size,
        part_count=part_count,
        upload_id=None,
        metadata=metadata,
        created_at=now,
        expires_at=now + expires_in,
        max_downloads=max_downloads,
        download_count=0,
        owner_token_hash=tokens.hash_token(owner_token),
    )
    manifest = _store_new(service, manifest)
    body: dict[str, Any] = {
        "id": manifest.id,
        "owner_token": owner_token,
        "state": manifest.state,
        "expires_at": iso(manifest.expires_at),
        "upload": _upload_instructions(service, manifest),
    }
    return JsonResponse(201, body, {"location": f"/transfers/{manifest.id}"})


def _store_new(service: Service, manifest: Manifest) -> Manifest:
    """Create the multipart upload (if any) and the manifest; a second id on the rare collision."""
    for _ in range(3):
        if manifest.method == "multipart":
            options = {"ChecksumAlgorithm": "SHA256"} if manifest.sha256 else {}
            upload = service.s3.create_multipart_upload(
                Bucket=service.bucket, Key=service.store.ciphertext_key(manifest.id), **options
            )
            manifest = manifest.replace(upload_id=upload["UploadId"])
        if service.store.create(manifest):
            return manifest
        _abort_upload(service, manifest)
        manifest = manifest.replace(id=tokens.new_transfer_id(), upload_id=None)
    raise ApiError(503, "busy", "could not allocate a transfer id; retry")


def _upload_instructions(service: Service, manifest: Manifest) -> dict[str, Any]:
    if manifest.method == "multipart":
        return {
            "method": "multipart",
            "part_size": manifest.part_size,
            "part_count": manifest.part_count,
            "checksums_required": manifest.sha256 is not None,
        }
    params: dict[str, Any] = {
        "Bucket": service.bucket,
        "Key": service.store.ciphertext_key(manifest.id),
        "ContentLength": manifest.size,
    }
    headers = {"content-length": str(manifest.size)}
    if manifest.sha256:
        params["ChecksumSHA256"] = manifest.sha256
        headers["x-amz-checksum-sha256"] = manifest.sha256
    ttl = service.settings.presign_ttl_seconds
    url = service.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
    return {"method": "single", "url": url, "http_method": "PUT", "headers": headers, "expires_in": ttl}


# -- parts ---------------------------------------------------------------------------------------------


def sign_parts(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False)
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
        "Key": service.store.ciphertext_key(manifest.id),
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
    manifest = authorise(request, service, owner=True, download=False)
    require_pending(manifest)
    if manifest.method != "multipart":
        raise conflict("not_multipart", "this transfer uploads with one presigned PUT; it has no parts")
    parts = _uploaded_parts(service, manifest)
    body = [{"number": p["PartNumber"], "size": p["Size"], "etag": p["ETag"]} for p in parts]
    missing = sorted(set(range(1, manifest.part_count + 1)) - {p["PartNumber"] for p in parts})
    return JsonResponse(200, {"parts": body, "missing": missing, "part_count": manifest.part_count})


def _uploaded_parts(service: Service, manifest: Manifest) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            page = service.s3.list_parts(
                Bucket=service.bucket,
                Key=service.store.ciphertext_key(manifest.id),
                UploadId=manifest.upload_id,
                PartNumberMarker=marker,
            )
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":
                raise conflict("wrong_state", "the multipart upload no longer exists") from None
            raise
        parts.extend(page.get("Parts", []))
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


# -- complete ---------------------------------------------------------------------------------------------


def complete_transfer(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False)
    require_live(manifest, service.clock())
    if manifest.state == READY:
        raise conflict("already_complete", "the transfer is already complete")
    require_pending(manifest)
    if manifest.method == "multipart":
        _complete_multipart(service, manifest)
    verify_object(service, manifest)
    download_token = tokens.new_token()

    def mark_ready(current: Manifest) -> Manifest:
        if current.state == READY:
            raise conflict("already_complete", "the transfer is already complete")
        require_pending(current)
        return current.replace(
            state=READY, download_token_hash=tokens.hash_token(download_token), completed_at=service.clock()
        )

    ready = service.store.update(manifest.id, mark_ready)
    body = {"id": ready.id, "state": ready.state, "download_token": download_token, "size": ready.size}
    return JsonResponse(200, body)


def _complete_multipart(service: Service, manifest: Manifest) -> None:
    parts = _uploaded_parts(service, manifest)
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
            Key=service.store.ciphertext_key(manifest.id),
            UploadId=manifest.upload_id,
            MultipartUpload={"Parts": listing},
        )
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":
            raise conflict("already_complete", "the upload was already completed") from None
        raise


def verify_object(service: Service, manifest: Manifest) -> None:
    """The ciphertext must be in S3 with the declared size, and the declared checksum if any."""
    key = service.store.ciphertext_key(manifest.id)
    try:
        head = service.s3.head_object(Bucket=service.bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise conflict("upload_missing", "no ciphertext has been uploaded yet") from None
        raise
    if head["ContentLength"] != manifest.size:
        raise conflict("upload_mismatch", f"uploaded {head['ContentLength']} bytes, declared {manifest.size}")
    if manifest.sha256 and manifest.method == "single":
        stored = head.get("ChecksumSHA256") or _hash_object(service, key)
        if stored != manifest.sha256:
            raise conflict("checksum_mismatch", "the uploaded ciphertext does not match the declared sha256")


def _hash_object(service: Service, key: str) -> str:
    """SHA-256 of an object whose store did not record one; single uploads are bounded in size."""
    digest = hashlib.sha256()
    body = service.s3.get_object(Bucket=service.bucket, Key=key)["Body"]
    for block in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


# -- read, delete, download ---------------------------------------------------------------------------------


def get_transfer(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=True)
    return JsonResponse(200, manifest.public_view(service.clock()))


def delete_transfer(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False)
    _abort_upload(service, manifest)
    service.s3.delete_object(Bucket=service.bucket, Key=service.store.ciphertext_key(manifest.id))
    service.store.delete(manifest.id)
    return JsonResponse(204)


def _abort_upload(service: Service, manifest: Manifest) -> None:
    if manifest.method != "multipart" or not manifest.upload_id or manifest.state != PENDING:
        return
    try:
        service.s3.abort_multipart_upload(
            Bucket=service.bucket, Key=service.store.ciphertext_key(manifest.id), UploadId=manifest.upload_id
        )
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise


def count_download(service: Service, transfer: str) -> Manifest:
    """Atomically check state, expiry and limit, and count one download."""

    def take(current: Manifest) -> Manifest:
        now = service.clock()
        if current.state == PENDING:
            raise conflict("not_ready", "the upload is not complete yet")
        if current.state != READY:
            raise not_found()
        if current.is_expired(now):
            raise gone("expired", "this transfer has expired")
        if current.download_count >= current.max_downloads:
            raise gone("download_limit_reached", "this transfer has reached its download limit")
        return current.replace(download_count=current.download_count + 1)

    return service.store.update(transfer, take)


def download_url(request: Request, service: Service) -> JsonResponse:
    return presigned_download(service, authorise(request, service, owner=False, download=True))


def presigned_download(service: Service, manifest: Manifest) -> JsonResponse:
    """Count one download (atomically, with the limit) and answer with a presigned GET."""
    counted = count_download(service, manifest.id)
    ttl = service.settings.presign_ttl_seconds
    params = {"Bucket": service.bucket, "Key": service.store.ciphertext_key(manifest.id)}
    url = service.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)
    body = {"url": url, "expires_in": ttl, "size": counted.size, "downloads_remaining": counted.downloads_remaining}
    return JsonResponse(200, body)
