"""Relay, one-link download, upload fast path and live events, end to end (emulator + bootstrap + moto)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from handlers.upload import FAST_PATH_MAX_BYTES
from tests.transfer.conftest import MiB
from tests.transfer.test_transfer_e2e import bearer, complete, create, put_presigned, sign


def ready_transfer(api, data: bytes, **fields) -> tuple[dict, str]:
    """A completed transfer holding `data`, uploaded the way its size requires."""
    transfer = create(api, size=len(data), **fields)
    upload = transfer["upload"]
    if upload["method"] == "single":
        assert put_presigned(upload["url"], upload["headers"], data).status_code == 200
    else:
        size = upload["part_size"]
        signed = sign(api, transfer, [{"number": n} for n in range(1, upload["part_count"] + 1)])
        for number, part in signed.items():
            piece = data[(number - 1) * size : number * size]
            assert put_presigned(part["url"], part["headers"], piece).status_code == 200
    complete(api, transfer)
    return transfer, transfer["download_token"]


def manifest_of(api, transfer_id: str) -> dict:
    key = f"transfers/{transfer_id}/manifest.json"
    return json.loads(api.s3.get_object(Bucket=api.bucket, Key=key)["Body"].read())


def relay(api, transfer_id: str, token: str, **headers) -> requests.Response:
    return requests.get(
        f"{api.url}/transfers/{transfer_id}/ciphertext", headers={**bearer(token), **headers}, timeout=120
    )


@pytest.mark.parametrize("size", [1, 64 * 1024, 5 * 1000 * 1000, 50 * 1000 * 1000])
def test_relay_is_byte_identical(api, size):
    data = os.urandom(size)
    transfer, token = ready_transfer(api, data)
    digest = hashlib.sha256()
    received = 0
    with requests.get(
        f"{api.url}/transfers/{transfer['id']}/ciphertext", headers=bearer(token), stream=True, timeout=120
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-ciphertext-size"] == str(size)
        assert response.headers["transfer-encoding"] == "chunked"
        for piece in response.iter_content(chunk_size=None):
            digest.update(piece)
            received += len(piece)
    assert received == size and digest.digest() == hashlib.sha256(data).digest()
    assert manifest_of(api, transfer["id"])["bytes_charged"] == size


@pytest.fixture(scope="module")
def ranged(api):
    data = os.urandom(1000)
    transfer, token = ready_transfer(api, data)
    return data, transfer, token


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=10-19", 10, 19),
        ("bytes=-5", 995, 999),
        ("bytes=990-", 990, 999),
        ("bytes=900-5000", 900, 999),
    ],
)
def test_range_requests(api, ranged, header, first, last):
    data, transfer, token = ranged
    charged = manifest_of(api, transfer["id"])["bytes_charged"]
    response = relay(api, transfer["id"], token, range=header)
    assert response.status_code == 206
    assert response.content == data[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/1000"
    assert manifest_of(api, transfer["id"])["bytes_charged"] == charged + last - first + 1  # its length, no more


def test_unsatisfiable_range_is_416(api, ranged):
    _, transfer, token = ranged
    response = relay(api, transfer["id"], token, range="bytes=1000-")
    assert response.status_code == 416 and response.json()["error"]["code"] == "range_not_satisfiable"
    assert response.headers["content-range"] == "bytes */1000"


def test_concurrent_full_reads_are_each_counted_exactly(api):
    transfer, token = ready_transfer(api, os.urandom(300_000), max_downloads=50)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: relay(api, transfer["id"], token).status_code, range(8)))
    assert statuses == [200] * 8
    assert manifest_of(api, transfer["id"])["bytes_charged"] == 8 * 300_000


def test_download_limit_applies_to_the_relay(api):
    transfer, token = ready_transfer(api, b"once", max_downloads=1)
    assert relay(api, transfer["id"], token).content == b"once"
    response = relay(api, transfer["id"], token)
    assert response.status_code == 410 and response.json()["error"]["code"] == "download_limit_reached"


def test_download_link_relays_small_and_redirects_large(api):
    small, small_token = ready_transfer(api, b"small ciphertext")
    response = requests.get(f"{api.url}/transfers/{small['id']}/download", headers=bearer(small_token), timeout=60)
    assert response.status_code == 200 and response.content == b"small ciphertext" and not response.history
    data = os.urandom(7 * MiB)
    large, large_token = ready_transfer(api, data)
    first = requests.get(
        f"{api.url}/transfers/{large['id']}/download", headers=bearer(large_token), allow_redirects=False, timeout=60
    )
    assert first.status_code == 303 and first.headers["location"].startswith(api.s3_endpoint)
    assert requests.get(first.headers["location"], timeout=60).content == data
    assert manifest_of(api, large["id"])["bytes_charged"] == len(data)


def fast_put(api, transfer, body: bytes) -> requests.Response:
    return requests.put(
        f"{api.url}/transfers/{transfer['id']}/ciphertext",
        data=body,
        headers={**bearer(transfer["owner_token"]), "content-type": "application/octet-stream"},
        timeout=60,
    )


def test_upload_fast_path_then_relay(api):
    data = os.urandom(10_000)
    transfer = create(api, size=len(data))
    answer = fast_put(api, transfer, data)
    assert answer.json() == {"id": transfer["id"], "state": "ready", "size": len(data)}
    assert relay(api, transfer["id"], transfer["download_token"]).content == data
    again = fast_put(api, transfer, data)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_complete"


def test_upload_fast_path_rejects_a_wrong_size(api):
    transfer = create(api, size=10)
    response = fast_put(api, transfer, b"123")
    assert response.status_code == 400 and "body" in response.json()["error"]["message"]


def test_upload_fast_path_413_boundary(api):
    at_limit = create(api, size=FAST_PATH_MAX_BYTES)
    assert fast_put(api, at_limit, os.urandom(FAST_PATH_MAX_BYTES)).status_code == 200
    over = create(api, size=FAST_PATH_MAX_BYTES + 1)
    response = fast_put(api, over, os.urandom(FAST_PATH_MAX_BYTES + 1))
    assert response.status_code == 413
    assert "presigned" in response.json()["error"]["message"]
    assert str(FAST_PATH_MAX_BYTES) in response.json()["error"]["message"]
    far_over = create(api, size=7 * MiB)
    assert fast_put(api, far_over, os.urandom(7 * MiB)).status_code == 413  # refused before the function


class EventReader:
    """Reads a text/event-stream incrementally, as a browser's EventSource does."""

    def __init__(self, response: requests.Response) -> None:
        self.lines = response.iter_lines(chunk_size=1, decode_unicode=True)

    def next_event(self) -> dict:
        event: dict = {}
        for line in self.lines:
            if line == "":
                if "event" in event or "data" in event:
                    return event
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            event[name] = json.loads(value) if name == "data" else value
        raise EOFError("stream ended")


def test_events_show_an_upload_becoming_ready_live_and_resume(api):
    data = os.urandom(12 * MiB)
    transfer = create(api, size=len(data))
    url = f"{api.url}/transfers/{transfer['id']}/events"
    with requests.get(url, headers=bearer(transfer["owner_token"]), stream=True, timeout=60) as response:
        assert response.headers["content-type"] == "text/event-stream"
        reader = EventReader(response)
        first = reader.next_event()
        assert first["event"] == "state" and first["data"]["state"] == "pending"
        assert first["data"]["parts_uploaded"] == 0
        uploader = threading.Thread(
            target=lambda: ready_transfer_from(api, transfer, data), name="separate-uploader", daemon=True
        )
        uploader.start()
        seen = [first]
        while seen[-1]["data"]["state"] != "ready":
            seen.append(reader.next_event())
        uploader.join(timeout=60)
    progress = [event["data"]["parts_uploaded"] for event in seen]
    assert progress == sorted(progress) and seen[-1]["data"]["bytes_uploaded"] == len(data)
    last_id = seen[-1]["id"]
    headers = {**bearer(transfer["owner_token"]), "last-event-id": last_id}
    with requests.get(url, headers=headers, stream=True, timeout=60) as resumed:
        reader = EventReader(resumed)
        token = transfer["download_token"]
        requests.get(f"{api.url}/transfers/{transfer['id']}/download-url", headers=bearer(token), timeout=30)
        event = reader.next_event()
        assert event["id"] != last_id and event["data"]["download_count"] == 1


def ready_transfer_from(api, transfer: dict, data: bytes) -> None:
    size = transfer["upload"]["part_size"]
    signed = sign(api, transfer, [{"number": n} for n in range(1, transfer["upload"]["part_count"] + 1)])
    for number, part in sorted(signed.items()):
        put_presigned(part["url"], part["headers"], data[(number - 1) * size : number * size])
    complete(api, transfer)
