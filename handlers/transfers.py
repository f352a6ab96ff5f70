"""The transfer's life: create, complete, read the public view, delete.

Creation mints both capability tokens at once (owner and download) and returns each exactly
once; the download token works from then on but reads stay refused (409 `not_ready`) until the
transfer is `ready`. Every manifest change is the store's compare-and-swap, so a `DELETE` racing
`complete` or the fast-path upload ends in a 404 or a 409, never a 500 or a half-deleted transfer.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from botocore.exceptions import ClientError

from handlers import parts, tokens, validation
from handlers.errors import ApiError, conflict, not_found, too_large
from handlers.http import JsonResponse, Request
from handlers.manifest import DELETED, PENDING, READY, Manifest, iso
from handlers.service import Service, authorise, require_live, require_pending
from handlers.store import MISSING_CODES, error_code

log = logging.getLogger("transfer-api")

CREATE_FIELDS = ("size", "sha256", "metadata", "expires_in", "max_downloads")
JSON_ESCAPE_FACTOR = 6  # a metadata byte can take up to 6 bytes of JSON (\u00XX)
CREATE_BODY_ALLOWANCE = 4096  # the other fields of a create request


# -- create ------------------------------------------------------------------------------------------


def require_creation_key(request: Request, service: Service) -> None:
    """When TRANSFER_CREATE_KEY_HASHES is set, only holders of one of those keys may create transfers."""
    allowed = service.settings.create_key_hashes
    if not allowed:
        return
    try:
        key = request.bearer_token()
    except ApiError as missing:
        missing.message = "this service requires a creation key: send it as 'Authorization: Bearer <key>'"
        raise
    if not tokens.creation_key_allowed(key, allowed):
        raise ApiError(403, "forbidden", "this service requires a valid creation key to create transfers")


def create_transfer(request: Request, service: Service) -> JsonResponse:
    settings = service.settings
    require_creation_key(request, service)
    document = request.json(settings.max_metadata_bytes * JSON_ESCAPE_FACTOR + CREATE_BODY_ALLOWANCE)
    validation.reject_unknown(document, CREATE_FIELDS)
    limit = settings.max_transfer_bytes
    size = validation.integer(
        document,
        "size",
        1,
        limit,
        above_maximum=lambda value: too_large(f"size {value} exceeds this service's limit of {limit} bytes"),
    )
    sha256 = validation.sha256_digest(document)
    metadata = validation.optional_string(document, "metadata")
    if metadata is not None and len(metadata.encode("utf-8", "replace")) > settings.max_metadata_bytes:
        raise too_large(f"metadata exceeds this service's limit of {settings.max_metadata_bytes} bytes")
    expires_in = validation.integer(document, "expires_in", 60, settings.max_expires_in, settings.default_expires_in)
    max_downloads = validation.integer(
        document, "max_downloads", 1, settings.max_max_downloads, settings.default_max_downloads
    )
    method, part_size, part_count = parts.plan_parts(size, settings)
    owner_token, download_token = tokens.new_token(), tokens.new_token()
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
        bytes_charged=0,
        owner_token_hash=tokens.hash_token(owner_token),
        download_token_hash=tokens.hash_token(download_token),
    )
    manifest = _store_new(service, manifest)
    body: dict[str, Any] = {
        "id": manifest.id,
        "owner_token": owner_token,
        "download_token": download_token,
        "state": manifest.state,
        "size": manifest.size,
        "expires_at": iso(manifest.expires_at),
        "max_downloads": manifest.max_downloads,
        "upload": _upload_instructions(service, manifest),
    }
    return JsonResponse(201, body, {"location": f"/transfers/{manifest.id}"})


def _store_new(service: Service, manifest: Manifest) -> Manifest:
    """Create the multipart upload (if any) and the manifest; a second id on the rare collision."""
    for _ in range(3):
        if manifest.method == "multipart":
            options = {"ChecksumAlgorithm": "SHA256"} if manifest.sha256 else {}
            upload = service.s3.create_multipart_upload(
                Bucket=service.bucket, Key=service.ciphertext_key(manifest.id), **options
            )
            manifest = manifest.replace(upload_id=upload["UploadId"])
        if service.store.create(manifest):
            return manifest
        parts.abort_upload(service, manifest)
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
        "Key": service.ciphertext_key(manifest.id),
        "ContentLength": manifest.size,
        "IfNoneMatch": "*",  # create-only: once stored, the ciphertext of a transfer never changes
    }
    headers = {"content-length": str(manifest.size), "if-none-match": "*"}
    if manifest.sha256:
        params["ChecksumSHA256"] = manifest.sha256
        headers["x-amz-checksum-sha256"] = manifest.sha256
    ttl = service.settings.presign_ttl_seconds
    url = service.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
    return {"method": "single", "url": url, "http_method": "PUT", "headers": headers, "expires_in": ttl}


# -- complete ----------------------------------------------------------------------------------------


def complete_transfer(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=False).manifest
    require_live(manifest, service.clock())
    if manifest.state == READY:
        raise conflict("already_complete", "the transfer is already complete")
    require_pending(manifest)
    if manifest.method == "multipart":
        parts.complete_multipart(service, manifest)
    verify_object(service, manifest)
    return JsonResponse(200, mark_ready(service, manifest.id))


def mark_ready(service: Service, transfer_id: str) -> dict[str, Any]:
    """Pending -> ready, atomically; the answer `{id, state, size}`. A transfer deleted meanwhile is
    a 404 and its ciphertext goes.

    Transfers created before download tokens were issued at creation (manifest format 1) have
    none yet: they get one here, returned once in this answer, as those clients expect.
    """
    legacy_token = tokens.new_token()

    def change(current: Manifest) -> Manifest:
        if current.state == READY:
            raise conflict("already_complete", "the transfer is already complete")
        if current.state != PENDING:
            raise not_found()
        token_hash = current.download_token_hash or tokens.hash_token(legacy_token)
        return current.replace(state=READY, completed_at=service.clock(), download_token_hash=token_hash)

    try:
        ready = service.store.update(transfer_id, change)
    except ApiError as exc:
        if exc.status == 404:
            delete_ciphertext(service, transfer_id)  # written after the DELETE removed it: an orphan
        raise
    answer: dict[str, Any] = {"id": ready.id, "state": ready.state, "size": ready.size}
    if tokens.token_matches(legacy_token, ready.download_token_hash):
        answer["download_token"] = legacy_token
    return answer


def verify_object(service: Service, manifest: Manifest) -> None:
    """The ciphertext must be in S3 with the declared size, and the declared checksum if any."""
    key = service.ciphertext_key(manifest.id)
    try:
        head = service.s3.head_object(Bucket=service.bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in MISSING_CODES:
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
    try:
        body = service.s3.get_object(Bucket=service.bucket, Key=key)["Body"]
    except ClientError as exc:
        if error_code(exc) in MISSING_CODES:
            raise conflict("upload_missing", "the ciphertext was removed while it was being checked") from None
        raise
    for block in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


# -- read, delete ------------------------------------------------------------------------------------


def get_transfer(request: Request, service: Service) -> JsonResponse:
    manifest = authorise(request, service, owner=True, download=True).manifest
    return JsonResponse(200, manifest.public_view(service.clock()))


def delete_transfer(request: Request, service: Service) -> JsonResponse:
    """Mark deleted first (concurrent requests then see 404), then remove the upload, object, manifest.

    A deletion cut short (a crash, an S3 error) leaves the transfer marked deleted: sending the
    `DELETE` again finishes it.
    """
    authorised = authorise(request, service, owner=True, download=False, deleted_ok=True)
    transfer = authorised.manifest
    service.store.update(transfer.id, lambda current: current.replace(state=DELETED), authorised.current)
    parts.abort_upload(service, transfer)
    service.s3.delete_object(Bucket=service.bucket, Key=service.ciphertext_key(transfer.id))
    service.store.delete(transfer.id)
    return JsonResponse(204)


def delete_ciphertext(service: Service, transfer_id: str) -> None:
    """Best effort, for cleaning up after a lost race; the bucket's lifecycle rule catches the rest."""
    try:
        service.s3.delete_object(Bucket=service.bucket, Key=service.ciphertext_key(transfer_id))
    except ClientError:
        log.exception("could not delete the ciphertext of %s", transfer_id)
