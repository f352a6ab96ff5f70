"""What every route needs: the `Service` (settings, manifest store, S3 clients, clock) and
authorisation by capability token.

Every route validates the transfer id before it touches an S3 key and authorises with a token
compared in constant time. An unknown transfer, a deleted one and a wrong token get the same 404,
so neither ids nor tokens can be probed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers import tokens
from handlers.config import Settings
from handlers.errors import conflict, gone, not_found
from handlers.http import Request
from handlers.manifest import DELETED, PENDING, Manifest
from handlers.store import ManifestStore


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

    def ciphertext_key(self, transfer_id: str) -> str:
        return self.store.ciphertext_key(transfer_id)


@dataclass(frozen=True)
class Authorised:
    """A manifest the request's token grants access to, with the ETag it was read at."""

    manifest: Manifest
    etag: str
    remembered: bool = False  # from this environment's memory, not read from S3 just now

    @property
    def current(self) -> tuple[Manifest, str]:
        return self.manifest, self.etag


def transfer_id(request: Request) -> str:
    value = request.path_params.get("id", "")
    if not tokens.is_valid_transfer_id(value):
        raise not_found()  # never let a malformed id near an S3 key
    return value


def authorise(
    request: Request,
    service: Service,
    *,
    owner: bool,
    download: bool,
    deleted_ok: bool = False,
    for_reservation: bool = False,
) -> Authorised:
    """Load the manifest if the bearer token grants one of the requested roles; 404 otherwise.

    A transfer marked deleted is a 404 too, except for `DELETE` itself (`deleted_ok`), so that a
    deletion cut short can be finished by sending it again. `for_reservation`: the caller reserves
    bytes next, with a compare-and-swap from this manifest, so a ready manifest this environment
    saw recently serves (one S3 round trip less before a download's first byte); the write proves
    it current or fails and reads the real one. Tokens never change, so the check stays exact.
    """
    token = request.bearer_token()
    remembered = service.store.recent(transfer_id(request)) if for_reservation else None
    manifest, etag = remembered or service.store.load(transfer_id(request))
    allowed = (owner and tokens.token_matches(token, manifest.owner_token_hash)) or (
        download and tokens.token_matches(token, manifest.download_token_hash)
    )
    if not allowed or (manifest.state == DELETED and not deleted_ok):
        raise not_found()
    return Authorised(manifest, etag, remembered is not None)


def require_live(manifest: Manifest, now: float) -> None:
    if manifest.is_expired(now):
        raise gone("expired", "this transfer has expired")


def require_pending(manifest: Manifest) -> None:
    if manifest.state != PENDING:
        raise conflict("wrong_state", f"the transfer is {manifest.state}, not pending")
