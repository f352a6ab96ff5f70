"""The transfer API in-process against moto: the real dispatcher (`handlers.app.handler`) fed
Function URL events, writing to a recording response stream. Fast enough for generated inputs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from handlers import app
from handlers.config import Settings
from handlers.service import Service
from handlers.store import ManifestStore

BUCKET = "bucket"
MiB_BYTES = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class RecordedResponse:
    """Stands in for the runtime's response stream: keeps status, headers and every chunk."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []

    def start(self, status_code: int = 200, headers: Mapping[str, str] | None = None, cookies: Any = None) -> None:
        self.status = status_code
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}

    def write(self, data: bytes | str) -> None:
        self.chunks.append(data.encode() if isinstance(data, str) else bytes(data))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)


class Context:
    aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 1000  # an event stream ends at once ("timeout, reconnect") instead of polling


def function_url_event(method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> dict:
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": dict(headers or {}),
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "request-1"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


@dataclass
class InProcessAPI:
    service: Service
    transfers: dict[str, dict] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: Mapping[str, str] = ()
    ) -> RecordedResponse:
        all_headers = dict(headers)
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        response = RecordedResponse()
        app.handler(function_url_event(method, path, all_headers, raw), response, Context())
        return response

    def create(self, **fields: Any) -> dict:
        response = self.request("POST", "/transfers", {"size": 5, **fields})
        assert response.status == 201, response.body
        return response.json()

    def upload(self, transfer: dict, data: bytes) -> None:
        key = f"transfers/{transfer['id']}/ciphertext"
        self.service.s3.put_object(Bucket=BUCKET, Key=key, Body=data)

    def ready(self, data: bytes = b"12345", **fields: Any) -> dict:
        transfer = self.create(size=len(data), **fields)
        self.upload(transfer, data)
        done = self.request("POST", f"/transfers/{transfer['id']}/complete", token=transfer["owner_token"])
        assert done.status == 200, done.body
        return transfer

    def manifest(self, transfer_id: str) -> dict:
        key = f"transfers/{transfer_id}/manifest.json"
        return json.loads(self.service.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, transfer_id: str) -> list[str]:
        listing = self.service.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"transfers/{transfer_id}/")
        return [item["Key"] for item in listing.get("Contents", [])]


class HookedS3:
    """An S3 client whose named calls first run a hook, once: a way to stage races deterministically."""

    def __init__(self, s3: Any, hooks: dict[str, Callable[[dict], None]]) -> None:
        self._s3 = s3
        self._hooks = dict(hooks)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._s3, name)
        hook = self._hooks.get(name)
        if hook is None:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in self._hooks and hook_applies(kwargs):
                self._hooks.pop(name)(kwargs)
            return target(*args, **kwargs)

        return call


def hook_applies(kwargs: dict) -> bool:
    return not str(kwargs.get("Key", "")).endswith("manifest.json")  # hooks are about ciphertext and uploads


def make_service(settings: Settings | None = None) -> Service:
    s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket=BUCKET)
    store = ManifestStore(s3, BUCKET, "transfers/", sleep=lambda _: None)
    return Service(settings or Settings(bucket=BUCKET), store, s3, s3, Clock())
