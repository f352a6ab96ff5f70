"""A transfer's manifest: the one JSON document that holds its state, next to its ciphertext.

States: pending (upload in progress) -> ready (complete, downloadable) -> expired or deleted.
Only hashes of tokens are stored. `public_view` is what clients may see; it omits the hashes
and the multipart upload id. The dataclass is immutable: every change makes a new value that the
store writes with a compare-and-swap.

Downloads are accounted in bytes: a transfer may hand out `max_downloads * size` bytes of
ciphertext in all (`download_budget`), and `bytes_charged` is what reads and presigned URLs have
reserved so far (see `handlers.accounting` and the README's "Download limits").
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

PENDING, READY, EXPIRED, DELETED = "pending", "ready", "expired", "deleted"
FORMAT_VERSION = 2  # 2: downloads counted in bytes (`bytes_charged`), download token set at creation


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True)
class Manifest:
    id: str
    state: str
    size: int
    sha256: str | None
    method: str  # "single" or "multipart"
    part_size: int
    part_count: int
    upload_id: str | None
    metadata: str | None
    created_at: float
    expires_at: float
    max_downloads: int
    bytes_charged: int
    owner_token_hash: str
    download_token_hash: str | None = None
    completed_at: float | None = None
    revision: int = 0  # bumped by every stored change: the id of live events
    version: int = FORMAT_VERSION

    def replace(self, **changes: Any) -> Manifest:
        return dataclasses.replace(self, **changes)

    def is_expired(self, now: float) -> bool:
        return self.state == EXPIRED or now >= self.expires_at

    @property
    def download_budget(self) -> int:
        """Bytes of ciphertext this transfer may hand out in all: `max_downloads` copies."""
        return self.max_downloads * self.size

    @property
    def bytes_remaining(self) -> int:
        return max(0, self.download_budget - self.bytes_charged)

    @property
    def download_count(self) -> int:
        """Whole copies' worth of ciphertext charged so far."""
        return self.bytes_charged // self.size

    @property
    def downloads_remaining(self) -> int:
        """Whole copies that can still be read."""
        return self.bytes_remaining // self.size

    def part_length(self, number: int) -> int:
        """Exact byte length of part `number` (1-based): all full but the last."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)

    def to_document(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Manifest:
        names = {f.name for f in dataclasses.fields(cls)}
        if "bytes_charged" not in document:  # format 1 counted whole downloads
            charged = document.get("download_count", 0) * document["size"]
            document = {**document, "bytes_charged": charged, "version": FORMAT_VERSION}
        return cls(**{k: v for k, v in document.items() if k in names})

    def public_view(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": EXPIRED if self.state == READY and self.is_expired(now) else self.state,
            "size": self.size,
            "sha256": self.sha256,
            "metadata": self.metadata,
            "upload": {"method": self.method, "part_size": self.part_size, "part_count": self.part_count},
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "completed_at": iso(self.completed_at) if self.completed_at else None,
            "max_downloads": self.max_downloads,
            "download_count": self.download_count,
            "downloads_remaining": self.downloads_remaining,
            "bytes_charged": self.bytes_charged,
            "bytes_remaining": self.bytes_remaining,
            "revision": self.revision,
        }
