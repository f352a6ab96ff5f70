"""Presigned downloads: `GET /transfers/{id}/download-url`, and the redirect half of `/download`.

A presigned GET is charged when it is issued (`accounting.reserve`): `size` bytes, or, when the
request carries a `Range` that S3 reads exactly as we do, that range's length; the URL then signs
the `Range` header, so S3 serves that range and nothing else through it. URLs live
`TRANSFER_DOWNLOAD_URL_TTL_SECONDS` (60 s by default) because S3 serves a presigned URL as often
as it is asked until it expires: the limit counts URLs issued, not fetches of them.
"""

from __future__ import annotations

from typing import Any

from handlers import accounting
from handlers.errors import ApiError
from handlers.http import JsonResponse, Request
from handlers.ranges import ByteRange, Unsatisfiable, exact_s3_form, parse_range
from handlers.service import Authorised, Service, authorise


def download_url(request: Request, service: Service) -> JsonResponse:
    authorised = authorise(request, service, owner=False, download=True, for_reservation=True)
    return JsonResponse(200, presigned_download(request, service, authorised))


def requested_range(request: Request, size: int) -> ByteRange | None:
    """The request's usable `Range`, or None for the whole object; 416 when it selects nothing."""
    try:
        return parse_range(request.headers.get("range"), size)
    except Unsatisfiable:
        raise ApiError(
            416, "range_not_satisfiable", f"the ciphertext has {size} bytes", {"content-range": f"bytes */{size}"}
        ) from None


def presigned_download(request: Request, service: Service, authorised: Authorised) -> dict[str, Any]:
    """Charge the download (atomically, within the limit), then presign a GET for it."""
    manifest = authorised.manifest
    accounting.charge(manifest, 0, service.clock())  # not ready, expired: say so before looking at Range
    header = request.headers.get("range", "")
    byte_range = requested_range(request, manifest.size)
    bound = byte_range is not None and exact_s3_form(header)
    charged = byte_range.length if byte_range is not None and bound else manifest.size
    counted = accounting.reserve(service, authorised, charged)
    params = {"Bucket": service.bucket, "Key": service.ciphertext_key(manifest.id)}
    if bound:
        params["Range"] = header
    ttl = service.settings.download_url_ttl_seconds
    url = service.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)
    return {
        "url": url,
        "expires_in": ttl,
        "size": manifest.size,
        "headers": {"range": header} if bound else {},
        "content_range": byte_range.content_range(manifest.size) if byte_range is not None and bound else None,
        "charged_bytes": charged,
        "bytes_remaining": counted.bytes_remaining,
        "downloads_remaining": counted.downloads_remaining,
    }
