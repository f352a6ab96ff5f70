"""Download accounting in-process: what each kind of read reserves, when, and what it gives back."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from botocore.exceptions import ClientError

from handlers import accounting, relay
from handlers.errors import ApiError
from handlers.http import Request
from handlers.manifest import Manifest
from tests.transfer.inprocess import HookedS3, MiB_BYTES


def manifest(**changes) -> Manifest:
    base = Manifest(
        id="i", state="ready", size=100, sha256=None, method="single", part_size=100, part_count=1,
        upload_id=None, metadata=None, created_at=0, expires_at=1000, max_downloads=2, bytes_charged=0,
        owner_token_hash="o", download_token_hash="d",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_charge_is_exact_to_the_byte_and_refuses_beyond_the_budget():
    assert accounting.charge(manifest(), 200, now=0).bytes_charged == 200
    assert accounting.charge(manifest(bytes_charged=150), 50, now=0).bytes_charged == 200
    with pytest.raises(ApiError) as caught:
        accounting.charge(manifest(bytes_charged=150), 51, now=0)
    assert (caught.value.status, caught.value.code) == (410, "download_limit_reached")
    assert "50 bytes" in caught.value.message and "2-download" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"state": "pending"}, 409, "not_ready"),
        ({"state": "deleted"}, 404, "not_found"),
        ({"expires_at": 0}, 410, "expired"),
        ({"bytes_charged": 200}, 410, "download_limit_reached"),
    ],
)
def test_charge_refuses_unreadable_transfers(changes, status, code):
    with pytest.raises(ApiError) as caught:
        accounting.charge(manifest(**changes), 1, now=10)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_give_back_never_goes_below_zero():
    assert accounting.give_back(manifest(bytes_charged=30), 10).bytes_charged == 20
    assert accounting.give_back(manifest(bytes_charged=5), 10).bytes_charged == 0


def test_views_count_whole_copies_and_bytes():
    view = manifest(bytes_charged=150).public_view(now=0)
    assert (view["download_count"], view["downloads_remaining"]) == (1, 0)
    assert (view["bytes_charged"], view["bytes_remaining"]) == (150, 50)


def test_format_1_manifests_are_read_as_bytes():
    document = manifest().to_document()
    del document["bytes_charged"]
    document.update(download_count=2, version=1)
    assert Manifest.from_document(document).bytes_charged == 200


def relay_request(inprocess, transfer: dict, **headers) -> Request:
    return Request(
        "GET",
        f"/transfers/{transfer['id']}/ciphertext",
        {},
        {"authorization": f"Bearer {transfer['download_token']}", **headers},
        (),
        b"",
        "r",
        path_params={"id": transfer["id"]},
    )


def test_a_relay_reserves_before_its_first_byte_and_gives_back_what_it_never_sent(inprocess):
    data = os.urandom(3 * MiB_BYTES + 7)
    transfer = inprocess.ready(data, max_downloads=1)
    answer = relay.ciphertext(relay_request(inprocess, transfer), inprocess.service)
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == len(data)  # nothing sent yet, all reserved
    chunks = iter(answer.chunks)
    first = next(chunks)
    chunks.close()  # the runtime stopped taking the response: the rest never left
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == len(first)
    rest = inprocess.request(
        "GET",
        f"/transfers/{transfer['id']}/ciphertext",
        token=transfer["download_token"],
        headers={"range": f"bytes={len(first)}-"},
    )
    assert rest.status == 206 and first + rest.body == data  # resumed within a limit of one download
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == len(data)


class FailingBody:
    """An S3 body that delivers one chunk, then fails."""

    def __init__(self, body) -> None:
        self.body = body

    def iter_chunks(self, size: int):
        yield self.body.read(size)
        raise ClientError({"Error": {"Code": "InternalError"}}, "GetObject")

    def close(self) -> None:
        self.body.close()


def test_a_storage_failure_mid_relay_gives_back_the_unsent_bytes(inprocess):
    data = os.urandom(2 * MiB_BYTES)
    transfer = inprocess.ready(data)
    original = inprocess.service.s3

    class BreakingS3(HookedS3):
        def get_object(self, **kwargs):
            answer = original.get_object(**kwargs)
            if kwargs["Key"].endswith("ciphertext"):
                answer["Body"] = FailingBody(answer["Body"])
            return answer

    inprocess.service.s3 = BreakingS3(original, {})
    answer = relay.ciphertext(relay_request(inprocess, transfer), inprocess.service)
    received = []
    with pytest.raises(ApiError) as caught:
        for chunk in answer.chunks:
            received.append(chunk)
    assert caught.value.code == "storage_error"
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == sum(map(len, received)) == MiB_BYTES


def test_ranged_reads_are_charged_their_length_and_refused_past_the_budget(inprocess):
    transfer = inprocess.ready(b"0123456789", max_downloads=1)
    path = f"/transfers/{transfer['id']}/ciphertext"
    token = transfer["download_token"]
    assert inprocess.request("GET", path, token=token, headers={"range": "bytes=0-3"}).body == b"0123"
    assert inprocess.request("GET", path, token=token, headers={"range": "bytes=-2"}).body == b"89"
    refused = inprocess.request("GET", path, token=token, headers={"range": "bytes=4-"})  # 6 bytes, 4 left
    assert refused.status == 410 and refused.json()["error"]["code"] == "download_limit_reached"
    assert "4 bytes" in refused.json()["error"]["message"]
    assert inprocess.request("GET", path, token=token, headers={"range": "bytes=4-7"}).body == b"4567"
    assert inprocess.request("GET", path, token=token).status == 410  # a full read needs 10
    assert inprocess.request("GET", path, token=token, headers={"range": "bytes=0-0"}).status == 410
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == 10


def test_relay_reports_what_is_left(inprocess):
    transfer = inprocess.ready(b"0123456789", max_downloads=3)
    response = inprocess.request(
        "GET",
        f"/transfers/{transfer['id']}/ciphertext",
        token=transfer["download_token"],
        headers={"range": "bytes=0-4"},
    )
    assert response.headers["x-download-bytes-remaining"] == "25"


def test_presigned_urls_are_charged_at_issue_with_their_own_short_lifetime(inprocess):
    transfer = inprocess.ready(b"0123456789", max_downloads=2)
    path = f"/transfers/{transfer['id']}/download-url"
    whole = inprocess.request("GET", path, token=transfer["download_token"]).json()
    assert whole["charged_bytes"] == 10 and whole["bytes_remaining"] == 10 and whole["expires_in"] == 60
    assert "X-Amz-Expires=60" in whole["url"] and whole["headers"] == {}
    ranged = inprocess.request("GET", path, token=transfer["download_token"], headers={"range": "bytes=2-"}).json()
    assert ranged["charged_bytes"] == 8 and ranged["headers"] == {"range": "bytes=2-"}
    assert ranged["content_range"] == "bytes 2-9/10"
    assert "range" in ranged["url"].split("X-Amz-SignedHeaders=")[1].split("&")[0]  # S3 serves only that range
    loose = inprocess.request("GET", path, token=transfer["download_token"], headers={"range": "bytes = 0-1"})
    assert loose.status == 410  # not in a form S3 reads as we do: charged as a whole copy, and 2 bytes are left
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == 18


def test_reads_before_ready_are_409_with_the_download_token_issued_at_creation(inprocess):
    transfer = inprocess.create(size=5)
    token = transfer["download_token"]
    assert token != transfer["owner_token"]
    for route in ("ciphertext", "download", "download-url"):
        response = inprocess.request("GET", f"/transfers/{transfer['id']}/{route}", token=token)
        assert (response.status, response.json()["error"]["code"]) == (409, "not_ready"), route
    view = inprocess.request("GET", f"/transfers/{transfer['id']}", token=token)
    assert view.status == 200 and view.json()["state"] == "pending"
    events = inprocess.request("GET", f"/transfers/{transfer['id']}/events", token=token)
    assert events.status == 200 and b'"state":"pending"' in events.body
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == 0


def test_a_transfer_created_before_the_upgrade_gets_its_download_token_at_completion(inprocess):
    transfer = inprocess.create(size=5)
    key = f"transfers/{transfer['id']}/manifest.json"
    document = inprocess.manifest(transfer["id"])
    document.update(version=1, download_token_hash=None, download_count=0)
    del document["bytes_charged"]
    inprocess.service.s3.put_object(Bucket="bucket", Key=key, Body=json.dumps(document).encode())
    inprocess.upload(transfer, b"12345")
    done = inprocess.request("POST", f"/transfers/{transfer['id']}/complete", token=transfer["owner_token"]).json()
    assert done["state"] == "ready" and done["download_token"] != transfer["download_token"]
    read = inprocess.request("GET", f"/transfers/{transfer['id']}/ciphertext", token=done["download_token"])
    assert read.body == b"12345"
    assert inprocess.manifest(transfer["id"])["version"] == 2


def test_a_connection_failure_opening_the_object_gives_everything_back(inprocess):
    from botocore.exceptions import EndpointConnectionError

    transfer = inprocess.ready(b"0123456789", max_downloads=1)
    original = inprocess.service.s3

    class UnreachableS3(HookedS3):
        def get_object(self, **kwargs):
            if kwargs["Key"].endswith("ciphertext"):
                raise EndpointConnectionError(endpoint_url="http://s3.invalid")
            return original.get_object(**kwargs)

    inprocess.service.s3 = UnreachableS3(original, {})
    path = f"/transfers/{transfer['id']}/ciphertext"
    answer = inprocess.request("GET", path, token=transfer["download_token"])
    assert answer.status == 502 and answer.json()["error"]["code"] == "storage_error"
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == 0  # the only download is still there
    inprocess.service.s3 = original
    assert inprocess.request("GET", path, token=transfer["download_token"]).body == b"0123456789"
