"""Download accounting: a transfer hands out at most `max_downloads * size` bytes of ciphertext.

Every read *reserves* the bytes it may send before its first byte leaves: a full read (relayed or
a presigned URL) `size` bytes, a ranged read its length. The reservation is one compare-and-swap
of the manifest that also checks state and expiry, so concurrent readers can never reserve more
than the budget between them. A relay that stops before its end gives back what it did not hand
to the runtime (the same compare-and-swap); one that Lambda kills keeps its reservation, which
errs on the side of the limit. The design and what it means for clients is in the README
("Download limits").
"""

from __future__ import annotations

import logging

from handlers.errors import ApiError, conflict, gone, not_found
from handlers.manifest import PENDING, READY, Manifest
from handlers.service import Authorised, Service

log = logging.getLogger("transfer-api")


def charge(manifest: Manifest, nbytes: int, now: float) -> Manifest:
    """The manifest with `nbytes` more reserved; ApiError when the transfer cannot be read now."""
    if manifest.state == PENDING:
        raise conflict("not_ready", "the upload is not complete yet; reads start when the transfer is ready")
    if manifest.state != READY:
        raise not_found()
    if manifest.is_expired(now):
        raise gone("expired", "this transfer has expired")
    if nbytes > manifest.bytes_remaining:
        raise gone("download_limit_reached", _limit_message(manifest, nbytes))
    return manifest.replace(bytes_charged=manifest.bytes_charged + nbytes)


def give_back(manifest: Manifest, nbytes: int) -> Manifest:
    """The manifest with `nbytes` of an earlier reservation returned (never below zero)."""
    return manifest.replace(bytes_charged=max(0, manifest.bytes_charged - nbytes))


def reserve(service: Service, authorised: Authorised, nbytes: int) -> Manifest:
    """Reserve `nbytes` atomically, starting from the manifest the request was authorised with.

    A remembered manifest may be stale either way: a write from it fails and re-reads, and a
    refusal from it (another environment may have given bytes back since) is checked again
    against the manifest in S3 before it stands.
    """
    now = service.clock()
    transfer = authorised.manifest.id
    try:
        return service.store.update(transfer, lambda m: charge(m, nbytes, now), authorised.current)
    except ApiError:
        if not authorised.remembered:
            raise
    return service.store.update(transfer, lambda m: charge(m, nbytes, now))


def refund(service: Service, transfer_id: str, nbytes: int) -> None:
    """Return unsent bytes of a reservation; never fails the request (the transfer may be gone)."""
    if nbytes <= 0:
        return
    try:
        service.store.update(transfer_id, lambda m: give_back(m, nbytes))
    except ApiError as exc:
        if exc.status != 404:
            log.warning("could not return %d unsent bytes to %s: %s", nbytes, transfer_id, exc.message)
    except Exception:
        log.exception("could not return %d unsent bytes to %s", nbytes, transfer_id)


def _limit_message(manifest: Manifest, nbytes: int) -> str:
    remaining = manifest.bytes_remaining
    if remaining == 0:
        return f"this transfer has reached its download limit ({manifest.max_downloads} downloads)"
    return (
        f"this read needs {nbytes} bytes but only {remaining} bytes of this transfer's "
        f"{manifest.max_downloads}-download allowance remain; ask for a smaller Range"
    )
