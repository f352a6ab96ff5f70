"""What an interrupted transfer needs to resume, kept on disk between runs.

Sending: one JSON file per source file (named by the SHA-256 of its absolute path) in the state
directory (`$TRANSFER_CLIENT_STATE_DIR`, else `$XDG_STATE_HOME/transfer-client`, else
`~/.local/state/transfer-client`), created 0600 in a 0700 directory because it holds the secret and
the owner token until the upload completes; it is deleted then.

Receiving: `<output>.part` holds the plaintext of the records verified so far and
`<output>.part.json` where to continue (the stream header and the count of records); neither holds
a key, which comes from the link again on the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_VERSION = 1


def default_state_dir() -> Path:
    explicit = os.environ.get("TRANSFER_CLIENT_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "transfer-client"


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Atomically replace `path` with `document`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle)
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and document.get("version") == STATE_VERSION else None


@dataclass(frozen=True)
class SendState:
    api_url: str
    source: str
    plaintext_size: int
    transfer_id: str
    owner_token: str
    download_token: str
    secret: str  # base64url
    salt: str  # hex
    sha256: str  # the whole ciphertext's, declared at creation
    method: str
    part_size: int
    part_count: int
    version: int = STATE_VERSION


class SendStateStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_state_dir()

    def path_for(self, source: Path) -> Path:
        key = hashlib.sha256(str(source.resolve()).encode("utf-8")).hexdigest()[:32]
        return self.directory / f"send-{key}.json"

    def load(self, source: Path) -> SendState | None:
        document = read_json(self.path_for(source))
        if document is None:
            return None
        try:
            return SendState(**document)
        except TypeError:
            return None

    def save(self, source: Path, state: SendState) -> None:
        write_private_json(self.path_for(source), dataclasses.asdict(state))

    def delete(self, source: Path) -> None:
        self.path_for(source).unlink(missing_ok=True)


@dataclass(frozen=True)
class ReceiveState:
    transfer_id: str
    ciphertext_size: int
    header: str  # hex of the stream header
    records_done: int
    plaintext_bytes: int
    version: int = STATE_VERSION


def receive_state_path(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def load_receive_state(partial: Path) -> ReceiveState | None:
    document = read_json(receive_state_path(partial))
    if document is None:
        return None
    try:
        return ReceiveState(**document)
    except TypeError:
        return None


def save_receive_state(partial: Path, state: ReceiveState) -> None:
    write_private_json(receive_state_path(partial), dataclasses.asdict(state))
