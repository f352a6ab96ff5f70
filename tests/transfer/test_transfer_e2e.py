"""The transfer API end to end: emulator + real bootstrap + moto's server, real HTTP PUT/GET."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.transfer.conftest import MiB


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def create(api, **body):
    response = requests.post(f"{api.url}/transfers", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def put_presigned(url: str, headers: dict[str, str], data: bytes) -> requests.Response:
    headers = {k: v for k, v in headers.items() if k != "content-length"}  # requests sets it from data
    return requests.put(url, data=data, headers=headers, timeout=60)


def complete(api, transfer):
    response = requests.post(
        f"{api.url}/transfers/{transfer['id']}/complete", headers=bearer(transfer["owner_token"]), timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def download(api, transfer_id: str, token: str) -> bytes:
    answer = requests.get(f"{api.url}/transfers/{transfer_id}/download-url", headers=bearer(token), timeout=30)
    assert answer.status_code == 200, answer.text
    return requests.get(answer.json()["url"], timeout=60).content


def test_single_upload_complete_download_identical(api):
    ciphertext = os.urandom(300_000)
    transfer = create(api, size=len(ciphertext), sha256=sha256_b64(ciphertext), metadata="opaque")
    upload = transfer["upload"]
    assert upload["method"] == "single" and upload["headers"]["content-length"] == str(len(ciphertext))
    assert put_presigned(upload["url"], upload["headers"], ciphertext).status_code == 200
    ready = complete(api, transfer)
    assert ready == {"id": transfer["id"], "state": "ready", "size": len(ciphertext)}  # no token minted here
    assert sha256_b64(download(api, transfer["id"], transfer["download_token"])) == sha256_b64(ciphertext)
    view = requests.get(f"{api.url}/transfers/{transfer['id']}", headers=bearer(transfer["download_token"]), timeout=30)
    assert view.json()["download_count"] == 1 and view.json()["metadata"] == "opaque"
    assert "owner_token_hash" not in view.text


def test_a_single_upload_is_create_only(api):
    """Once stored, a transfer's ciphertext never changes, even through its still-valid URL."""
    original = os.urandom(1000)
    transfer = create(api, size=len(original))  # no sha256: nothing else would bind the bytes
    upload = transfer["upload"]
    assert upload["headers"]["if-none-match"] == "*"
    assert put_presigned(upload["url"], upload["headers"], original).status_code == 200
    complete(api, transfer)
    replaced = put_presigned(upload["url"], upload["headers"], b"B" * 1000)
    assert replaced.status_code == 412 and b"PreconditionFailed" in replaced.content
    without_condition = {k: v for k, v in upload["headers"].items() if k != "if-none-match"}
    assert put_presigned(upload["url"], without_condition, b"B" * 1000).status_code == 403  # signed header
    assert download(api, transfer["id"], transfer["download_token"]) == original


def sign(api, transfer, parts):
    response = requests.post(
        f"{api.url}/transfers/{transfer['id']}/parts",
        json={"parts": parts},
        headers=bearer(transfer["owner_token"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {part["number"]: part for part in response.json()["parts"]}


def test_multipart_upload_interrupted_and_resumed(api):
    ciphertext = os.urandom(12 * MiB + 123)
    transfer = create(api, size=len(ciphertext), sha256=sha256_b64(ciphertext))
    assert transfer["upload"] == {
        "method": "multipart",
        "part_size": 5 * MiB,
        "part_count": 3,
        "checksums_required": True,
    }
    pieces = [ciphertext[i : i + 5 * MiB] for i in range(0, len(ciphertext), 5 * MiB)]
    signed = sign(api, transfer, [{"number": n, "sha256": sha256_b64(pieces[n - 1])} for n in (1, 2, 3)])
    assert signed[3]["headers"]["content-length"] == str(2 * MiB + 123)
    assert put_presigned(signed[1]["url"], signed[1]["headers"], pieces[0]).status_code == 200
    # The client goes away here. Later it asks what S3 already holds and resumes.
    held = requests.get(
        f"{api.url}/transfers/{transfer['id']}/parts", headers=bearer(transfer["owner_token"]), timeout=30
    ).json()
    assert [part["number"] for part in held["parts"]] == [1] and held["missing"] == [2, 3]
    early = requests.post(
        f"{api.url}/transfers/{transfer['id']}/complete", headers=bearer(transfer["owner_token"]), timeout=30
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"
    resumed = sign(api, transfer, [{"number": n, "sha256": sha256_b64(pieces[n - 1])} for n in held["missing"]])
    for number in held["missing"]:
        assert put_presigned(resumed[number]["url"], resumed[number]["headers"], pieces[number - 1]).status_code == 200
    complete(api, transfer)
    assert sha256_b64(download(api, transfer["id"], transfer["download_token"])) == sha256_b64(ciphertext)


def test_fifty_parallel_download_urls_against_a_limit_of_ten(api):
    transfer = create(api, size=4, max_downloads=10)
    assert put_presigned(transfer["upload"]["url"], transfer["upload"]["headers"], b"abcd").status_code == 200
    complete(api, transfer)
    token = transfer["download_token"]

    def one(_: int) -> int:
        for _attempt in range(200):  # environments are limited: retry 429 as an SDK would
            response = requests.get(f"{api.url}/transfers/{transfer['id']}/download-url", headers=bearer(token))
            if response.status_code != 429:
                return response.status_code
            time.sleep(0.05)
        return 429

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses.count(200) == 10 and statuses.count(410) == 40
    manifest = json.loads(
        api.s3.get_object(Bucket=api.bucket, Key=f"transfers/{transfer['id']}/manifest.json")["Body"].read()
    )
    assert manifest["bytes_charged"] == 10 * 4


def test_delete_removes_everything(api):
    transfer = create(api, size=12 * MiB)
    response = requests.delete(f"{api.url}/transfers/{transfer['id']}", headers=bearer(transfer["owner_token"]))
    assert response.status_code == 204
    listing = api.s3.list_objects_v2(Bucket=api.bucket, Prefix=f"transfers/{transfer['id']}/")
    assert listing.get("KeyCount", 0) == 0
    uploads = api.s3.list_multipart_uploads(Bucket=api.bucket).get("Uploads", [])
    assert all(upload["Key"] != f"transfers/{transfer['id']}/ciphertext" for upload in uploads)
    again = requests.get(f"{api.url}/transfers/{transfer['id']}", headers=bearer(transfer["owner_token"]))
    assert again.status_code == 404


def test_health_and_cors_preflight(api):
    assert requests.get(f"{api.url}/health", timeout=30).json() == {"status": "ok"}
    preflight = requests.options(f"{api.url}/transfers", headers={"origin": "https://app.example"}, timeout=30)
    assert preflight.status_code == 204
    assert "authorization" in preflight.headers["access-control-allow-headers"]


# -- every rejected input class: status and error code ---------------------------------------------------


@pytest.fixture(scope="module")
def pending(api):
    return create(api, size=12 * MiB)


def error_of(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in response.text
    return response.status_code, body["error"]["code"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", (400, "invalid_json")),
        (b"[1, 2]", (400, "invalid_json")),
        (json.dumps({"size": "12"}).encode(), (400, "invalid_request")),
        (json.dumps({"size": True}).encode(), (400, "invalid_request")),
        (json.dumps({}).encode(), (400, "invalid_request")),
        (json.dumps({"size": 0}).encode(), (400, "invalid_request")),
        (json.dumps({"size": 10**15}).encode(), (413, "too_large")),
        (json.dumps({"size": 5, "metadata": "m" * 5000}).encode(), (413, "too_large")),
        (json.dumps({"size": 5, "sha256": "nope"}).encode(), (400, "invalid_request")),
        (json.dumps({"size": 5, "expires_in": 10}).encode(), (400, "invalid_request")),
        (json.dumps({"size": 5, "max_downloads": 0}).encode(), (400, "invalid_request")),
        (json.dumps({"size": 5, "surprise": 1}).encode(), (400, "invalid_request")),
    ],
)
def test_create_rejects_bad_input(api, body, expected):
    response = requests.post(f"{api.url}/transfers", data=body, headers={"content-type": "application/json"})
    assert error_of(response) == expected


def test_bad_ids_and_tokens(api, pending):
    owner = bearer(pending["owner_token"])
    assert error_of(requests.get(f"{api.url}/transfers/..%2F..%2Fetc", headers=owner)) == (404, "not_found")
    assert error_of(requests.get(f"{api.url}/transfers/short", headers=owner)) == (404, "not_found")
    assert error_of(requests.get(f"{api.url}/transfers/{'A' * 22}", headers=owner)) == (404, "not_found")
    wrong = bearer("x" * 43)
    assert error_of(requests.get(f"{api.url}/transfers/{pending['id']}", headers=wrong)) == (404, "not_found")
    assert error_of(requests.get(f"{api.url}/transfers/{pending['id']}")) == (401, "missing_token")
    basic = {"authorization": "Basic dTpw"}
    assert error_of(requests.get(f"{api.url}/transfers/{pending['id']}", headers=basic)) == (401, "missing_token")


@pytest.mark.parametrize(
    "parts",
    [[{"number": 0}], [{"number": 4}], [{"number": 1}, {"number": 1}], [{"number": "1"}], [], "1", [{"n": 1}]],
)
def test_wrong_part_numbers(api, pending, parts):
    response = requests.post(
        f"{api.url}/transfers/{pending['id']}/parts", json={"parts": parts}, headers=bearer(pending["owner_token"])
    )
    assert error_of(response) == (400, "invalid_request")


def test_wrong_state(api):
    transfer = create(api, size=3)
    put_presigned(transfer["upload"]["url"], transfer["upload"]["headers"], b"abc")
    complete(api, transfer)
    again = requests.post(f"{api.url}/transfers/{transfer['id']}/complete", headers=bearer(transfer["owner_token"]))
    assert error_of(again) == (409, "already_complete")
    multipart = create(api, size=12 * MiB)
    parts = requests.post(
        f"{api.url}/transfers/{transfer['id']}/parts",
        json={"parts": [{"number": 1}]},
        headers=bearer(transfer["owner_token"]),
    )
    assert error_of(parts) == (409, "wrong_state")
    not_uploaded = requests.get(
        f"{api.url}/transfers/{multipart['id']}/download-url", headers=bearer(multipart["owner_token"])
    )
    assert error_of(not_uploaded) == (404, "not_found")  # an owner token is not a download token


def test_complete_without_upload_is_409(api):
    transfer = create(api, size=3)
    response = requests.post(f"{api.url}/transfers/{transfer['id']}/complete", headers=bearer(transfer["owner_token"]))
    assert error_of(response) == (409, "upload_missing")


def test_unknown_route_and_method(api):
    assert error_of(requests.get(f"{api.url}/nope")) == (404, "route_not_found")
    response = requests.patch(f"{api.url}/transfers")
    assert error_of(response) == (405, "method_not_allowed") and "POST" in response.headers["allow"]
