"""Route handlers against moto in-process, with an injected clock for expiry."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from handlers.app import ROUTES
from handlers.config import Settings
from handlers.errors import ApiError
from handlers.http import Request
from handlers.router import match
from handlers.service import Service
from handlers.store import MAX_ATTEMPTS, ManifestStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="bucket")
        settings = Settings(bucket="bucket")
        yield Service(settings, ManifestStore(s3, "bucket", "transfers/", sleep=lambda _: None), s3, s3, Clock())


def call(service, method, path, body=None, token=None):
    route, params = match(ROUTES, method, path)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = Request(method, path, {}, headers, (), json.dumps(body).encode() if body is not None else b"", "rid")
    try:
        answer = route.endpoint(dataclasses.replace(request, path_params=params), service)
    except ApiError as exc:
        return exc.status, exc.body()
    return answer.status, answer.body


def ready_transfer(service, **fields):
    status, created = call(service, "POST", "/transfers", {"size": 5, **fields})
    assert status == 201
    service.s3.put_object(Bucket="bucket", Key=f"transfers/{created['id']}/ciphertext", Body=b"12345")
    status, done = call(service, "POST", f"/transfers/{created['id']}/complete", token=created["owner_token"])
    assert status == 200 and done == {"id": created["id"], "state": "ready", "size": 5}
    return created, {"download_token": created["download_token"]}


def test_expired_transfer_is_410(service):
    created, done = ready_transfer(service, expires_in=60)
    service.clock.now += 61
    status, body = call(service, "GET", f"/transfers/{created['id']}/download-url", token=done["download_token"])
    assert status == 410 and body["error"]["code"] == "expired"
    status, body = call(service, "GET", f"/transfers/{created['id']}", token=done["download_token"])
    assert status == 200 and body["state"] == "expired"


def test_expired_pending_transfer_cannot_complete(service):
    status, created = call(service, "POST", "/transfers", {"size": 5, "expires_in": 60})
    assert status == 201
    service.clock.now += 61
    status, body = call(service, "POST", f"/transfers/{created['id']}/complete", token=created["owner_token"])
    assert status == 410 and body["error"]["code"] == "expired"


def test_every_owner_route_of_an_expired_pending_multipart_transfer_says_expired(service):
    size = service.settings.multipart_threshold_bytes + 1
    status, created = call(service, "POST", "/transfers", {"size": size, "expires_in": 60})
    assert status == 201 and created["upload"]["method"] == "multipart"
    service.clock.now += 61
    parts = f"/transfers/{created['id']}/parts"
    for method, path, body in (("GET", parts, None), ("POST", parts, {"parts": [{"number": 1}]})):
        status, answer = call(service, method, path, body, token=created["owner_token"])
        assert (status, answer["error"]["code"]) == (410, "expired"), (method, path)


def test_download_limit(service):
    created, done = ready_transfer(service, max_downloads=2)
    path = f"/transfers/{created['id']}/download-url"
    assert [call(service, "GET", path, token=done["download_token"])[0] for _ in range(3)] == [200, 200, 410]
    status, body = call(service, "GET", path, token=done["download_token"])
    assert status == 410 and body["error"]["code"] == "download_limit_reached"


def test_owner_token_cannot_download_and_download_token_cannot_manage(service):
    created, done = ready_transfer(service)
    assert call(service, "GET", f"/transfers/{created['id']}/download-url", token=created["owner_token"])[0] == 404
    assert call(service, "DELETE", f"/transfers/{created['id']}", token=done["download_token"])[0] == 404


def test_checksum_mismatch_is_refused(service):
    import base64
    import hashlib

    declared = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, created = call(service, "POST", "/transfers", {"size": 5, "sha256": declared})
    service.s3.put_object(Bucket="bucket", Key=f"transfers/{created['id']}/ciphertext", Body=b"12345")
    status, body = call(service, "POST", f"/transfers/{created['id']}/complete", token=created["owner_token"])
    assert status == 409 and body["error"]["code"] == "checksum_mismatch"


def test_presigned_urls_bind_length_and_checksum(service):
    import base64

    digest = base64.b64encode(b"d" * 32).decode()
    status, created = call(service, "POST", "/transfers", {"size": 5, "sha256": digest})
    assert status == 201
    url = created["upload"]["url"]
    assert "X-Amz-SignedHeaders=content-length%3Bhost%3Bif-none-match%3Bx-amz-checksum-sha256" in url
    assert "X-Amz-Expires=900" in url
    assert created["upload"]["headers"] == {
        "content-length": "5",
        "if-none-match": "*",
        "x-amz-checksum-sha256": digest,
    }


class RacingS3:
    """Wraps an S3 client and makes the next N conditional writes lose a race."""

    def __init__(self, s3, losses):
        self.s3, self.losses = s3, losses

    def __getattr__(self, name):
        return getattr(self.s3, name)

    def put_object(self, **kwargs):
        if "IfMatch" in kwargs and self.losses > 0:
            self.losses -= 1
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
        return self.s3.put_object(**kwargs)


def test_store_retries_lost_races_then_gives_up(service):
    created, _ = ready_transfer(service)
    store = ManifestStore(RacingS3(service.s3, 3), "bucket", "transfers/", sleep=lambda _: None)
    updated = store.update(created["id"], lambda m: m.replace(bytes_charged=m.bytes_charged + 1))
    assert updated.bytes_charged == 1
    assert store.load(created["id"])[0].bytes_charged == 1
    hopeless = ManifestStore(RacingS3(service.s3, MAX_ATTEMPTS), "bucket", "transfers/", sleep=lambda _: None)
    with pytest.raises(ApiError) as caught:
        hopeless.update(created["id"], lambda m: m.replace(bytes_charged=m.bytes_charged + 1))
    assert caught.value.status == 503
    assert store.load(created["id"])[0].bytes_charged == 1


def test_create_never_overwrites(service):
    created, _ = ready_transfer(service)
    manifest, _ = service.store.load(created["id"])
    assert service.store.create(manifest.replace(bytes_charged=99)) is False
    assert service.store.load(created["id"])[0].bytes_charged == 0


def test_health_route_is_registered():
    route, _ = match(ROUTES, "GET", "/health")
    assert route.endpoint(None, None).body == {"status": "ok"}
