"""The embedded S3 enforces what S3 enforces: every refusal comes from the S3 itself, over real HTTP,
with S3's error code; ordinary clients store exact bytes whatever their Content-Type.

Most tests use the emulator's own embedded S3 (the one `./dev serve` runs). The pure SigV4
checks are also tested without a network, with an injected clock.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import replace
from unittest import mock

import boto3
import pytest
import requests
from botocore.config import Config

from runtime.emulator.s3_sigv4 import PresignedRequest, S3Error, parse_query, verify_presigned
from tests.clients import local_s3
from tests.transfer.conftest import MiB
from tests.transfer.test_transfer_e2e import bearer, complete, create, sign


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def s3_error(response: requests.Response) -> tuple[int, str]:
    """Status and <Code> of an S3 XML error."""
    return response.status_code, ET.fromstring(response.content).findtext("Code")


def complete_status(api, transfer: dict) -> tuple[int, str]:
    response = requests.post(
        f"{api.url}/transfers/{transfer['id']}/complete", headers=bearer(transfer["owner_token"]), timeout=30
    )
    return response.status_code, response.json().get("error", {}).get("code", response.json().get("state"))


def downloaded(api, transfer: dict) -> bytes:
    response = requests.get(
        f"{api.url}/transfers/{transfer['id']}/ciphertext", headers=bearer(transfer["download_token"]), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.content


# -- ordinary clients store exact bytes ----------------------------------------------------------------


FORM_LOOKING = b"a=1&b=%ff&c=+" + bytes(range(256))  # what form parsers would mangle


def put_with_urllib(url: str, headers: dict, data: bytes) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)  # labelled a form by urllib
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def put_with_requests(url: str, headers: dict, data: bytes) -> int:
    return requests.put(url, data=data, headers=headers, timeout=30).status_code


def put_with_curl(option: str):
    def put(url: str, headers: dict, data: bytes) -> int:
        path = f"/tmp/s3-contract-{os.getpid()}-{option.strip('-')}.bin"
        with open(path, "wb") as file:
            file.write(data)
        try:
            command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "-X", "PUT"]
            command += ["--data-binary", f"@{path}"] if option == "--data-binary" else ["-T", path]
            command += [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
            return int(subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout)
        finally:
            os.unlink(path)

    return put


CLIENTS = {
    "urllib": put_with_urllib,
    "requests": put_with_requests,
    "curl --data-binary": put_with_curl("--data-binary"),
    "curl -T": put_with_curl("-T"),
}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("declared", [False, True], ids=["plain", "with-sha256"])
def test_ordinary_clients_store_exact_bytes(api, client, declared):
    data = FORM_LOOKING + os.urandom(1000)
    fields = {"sha256": sha256_b64(data)} if declared else {}
    transfer = create(api, size=len(data), **fields)
    upload = transfer["upload"]
    headers = {k: v for k, v in upload["headers"].items() if k != "content-length"}  # each client sets its own
    assert CLIENTS[client](upload["url"], headers, data) == 200
    assert complete_status(api, transfer) == (200, "ready")
    assert downloaded(api, transfer) == data


# -- refusals, each from the S3 itself ----------------------------------------------------------------


@pytest.fixture
def declared(api):
    data = os.urandom(5000)
    transfer = create(api, size=len(data), sha256=sha256_b64(data))
    return transfer, data


def refused(api, transfer: dict, response: requests.Response) -> tuple[int, str]:
    """The S3 error, after checking that nothing was stored (the transfer cannot complete)."""
    assert complete_status(api, transfer) == (409, "upload_missing")
    return s3_error(response)


def test_wrong_length_is_refused(api, declared):
    transfer, data = declared
    url, headers = transfer["upload"]["url"], {"x-amz-checksum-sha256": sha256_b64(data), "if-none-match": "*"}
    assert refused(api, transfer, requests.put(url, data=data + b"!", headers=headers)) == (
        403,
        "SignatureDoesNotMatch",
    )
    assert refused(api, transfer, requests.put(url, data=data[:-1], headers=headers))[1] == "SignatureDoesNotMatch"


def test_wrong_digest_is_refused(api, declared):
    transfer, data = declared
    corrupted = bytes([data[0] ^ 1]) + data[1:]
    headers = {"x-amz-checksum-sha256": sha256_b64(data), "if-none-match": "*"}
    response = requests.put(transfer["upload"]["url"], data=corrupted, headers=headers)
    assert refused(api, transfer, response) == (400, "BadDigest")


def test_missing_signed_header_is_refused(api, declared):
    transfer, data = declared
    response = requests.put(transfer["upload"]["url"], data=data)  # without x-amz-checksum-sha256
    assert refused(api, transfer, response) == (403, "SignatureDoesNotMatch")


def test_unsigned_amz_header_is_refused(api):
    data = b"12345"
    transfer = create(api, size=len(data))
    headers = {"x-amz-checksum-sha256": sha256_b64(data), "if-none-match": "*"}  # the checksum is not signed
    response = requests.put(transfer["upload"]["url"], data=data, headers=headers)
    assert refused(api, transfer, response) == (403, "AccessDenied")
    assert "HeadersNotSigned" in response.text


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("X-Amz-Signature=", "X-Amz-Signature=0000"),
        lambda url: url.split("X-Amz-Signature=")[0] + "X-Amz-Signature=" + "0" * 64,
        lambda url: url.replace("X-Amz-Expires=900", "X-Amz-Expires=901"),
        lambda url: url.replace("/ciphertext?", "/manifest.json?"),
    ],
    ids=["prefixed", "zeroed", "longer-expiry", "other-key"],
)
def test_tampered_url_is_refused(api, declared, tamper):
    transfer, data = declared
    headers = {"x-amz-checksum-sha256": sha256_b64(data), "if-none-match": "*"}
    response = requests.put(tamper(transfer["upload"]["url"]), data=data, headers=headers)
    assert refused(api, transfer, response) == (403, "SignatureDoesNotMatch")


def presign_in_the_past(api, operation: str, params: dict, seconds_ago: int, expires_in: int) -> str:
    """A URL signed correctly, with the function's credentials, `seconds_ago` seconds ago."""
    then = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(seconds=seconds_ago)
    client = local_s3(api.s3_endpoint)
    with mock.patch("botocore.auth.get_current_datetime", return_value=then):
        return client.generate_presigned_url(operation, Params=params, ExpiresIn=expires_in)


def test_expired_url_is_refused(api, declared):
    transfer, data = declared
    key = f"transfers/{transfer['id']}/ciphertext"
    params = {"Bucket": api.bucket, "Key": key, "ContentLength": len(data), "ChecksumSHA256": sha256_b64(data)}
    headers = {"x-amz-checksum-sha256": sha256_b64(data)}
    expired = presign_in_the_past(api, "put_object", params, seconds_ago=120, expires_in=60)
    response = requests.put(expired, data=data, headers=headers)
    assert refused(api, transfer, response) == (403, "AccessDenied")
    assert "Request has expired" in response.text
    still_valid = presign_in_the_past(api, "put_object", params, seconds_ago=30, expires_in=60)
    assert requests.put(still_valid, data=data, headers=headers).status_code == 200  # the same URL, unexpired


def test_chunked_upload_is_refused_as_s3_does(api):
    transfer = create(api, size=5)
    response = requests.put(transfer["upload"]["url"], data=iter([b"12", b"345"]))  # Transfer-Encoding: chunked
    assert refused(api, transfer, response) == (501, "NotImplemented")


def test_anonymous_requests_are_refused(api):
    response = requests.get(f"{api.s3_endpoint}/{api.bucket}/transfers/", timeout=30)
    assert s3_error(response) == (403, "AccessDenied")


def test_download_urls_are_short_lived_and_bound_to_their_range(api):
    data = os.urandom(2000)
    transfer = create(api, size=len(data))
    assert requests.put(transfer["upload"]["url"], data=data, headers={"if-none-match": "*"}).status_code == 200
    complete(api, transfer)
    answer = requests.get(
        f"{api.url}/transfers/{transfer['id']}/download-url",
        headers={**bearer(transfer["download_token"]), "range": "bytes=100-199"},
        timeout=30,
    ).json()
    assert "X-Amz-Expires=60&" in answer["url"] and answer["charged_bytes"] == 100
    assert requests.get(answer["url"], headers=answer["headers"]).content == data[100:200]
    assert s3_error(requests.get(answer["url"])) == (403, "SignatureDoesNotMatch")  # not the whole object
    other = requests.get(answer["url"], headers={"range": "bytes=0-1999"})
    assert s3_error(other) == (403, "SignatureDoesNotMatch")


# -- multipart: a corrupted part never makes a ready transfer -------------------------------------------


def test_a_corrupted_part_is_refused_and_complete_fails(api):
    data = os.urandom(12 * MiB + 5)
    pieces = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    transfer = create(api, size=len(data), sha256=sha256_b64(data))
    signed = sign(api, transfer, [{"number": n, "sha256": sha256_b64(pieces[n - 1])} for n in (1, 2, 3)])
    for number in (1, 3):
        part = signed[number]
        assert requests.put(part["url"], data=pieces[number - 1], headers=headers_of(part)).status_code == 200
    corrupted = pieces[1][:1000] + bytes([pieces[1][1000] ^ 0xFF]) + pieces[1][1001:]
    response = requests.put(signed[2]["url"], data=corrupted, headers=headers_of(signed[2]))
    assert s3_error(response) == (400, "BadDigest")
    truncated = requests.put(signed[2]["url"], data=pieces[1][:-1], headers=headers_of(signed[2]))
    assert s3_error(truncated) == (403, "SignatureDoesNotMatch")
    assert complete_status(api, transfer) == (409, "upload_incomplete")
    view = requests.get(f"{api.url}/transfers/{transfer['id']}", headers=bearer(transfer["owner_token"]), timeout=30)
    assert view.json()["state"] == "pending"
    reads = requests.get(
        f"{api.url}/transfers/{transfer['id']}/ciphertext", headers=bearer(transfer["download_token"]), timeout=30
    )
    assert reads.status_code == 409 and reads.json()["error"]["code"] == "not_ready"


def headers_of(part: dict) -> dict:
    return {k: v for k, v in part["headers"].items() if k != "content-length"}


# -- the SigV4 checks as a pure function ----------------------------------------------------------------


def presigned_request(method="PUT", **params) -> tuple[PresignedRequest, float]:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4"),
    )
    operation = "put_object" if method == "PUT" else "get_object"
    url = client.generate_presigned_url(operation, Params={"Bucket": "b", "Key": "a b/c", **params}, ExpiresIn=100)
    path, _, query = url.split("127.0.0.1:9", 1)[1].partition("?")
    headers = {"host": "127.0.0.1:9"}
    if "ContentLength" in params:
        headers["content-length"] = str(params["ContentLength"])
    date = dict(parse_query(query))["X-Amz-Date"]
    signed_at = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC).timestamp()
    return PresignedRequest(method, path, parse_query(query), headers), signed_at


SECRETS = {"AKID": "secret"}


def test_a_botocore_presigned_url_verifies_until_it_expires():
    request, signed_at = presigned_request(ContentLength=5)
    verify_presigned(request, SECRETS, now=signed_at)
    verify_presigned(request, SECRETS, now=signed_at + 100)
    with pytest.raises(S3Error) as caught:
        verify_presigned(request, SECRETS, now=signed_at + 101)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        403,
        "AccessDenied",
        "Request has expired",
    )
    with pytest.raises(S3Error) as caught:
        verify_presigned(request, SECRETS, now=signed_at - 3600)
    assert caught.value.message == "Request is not valid yet"


def with_credential(query, access_key: str):
    return [(k, f"{access_key}/{v.split('/', 1)[1]}" if k == "X-Amz-Credential" else v) for k, v in query]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda r: replace(r, headers={**r.headers, "content-length": "6"}), "SignatureDoesNotMatch"),
        (lambda r: replace(r, method="GET"), "SignatureDoesNotMatch"),
        (lambda r: replace(r, raw_path=r.raw_path + "x"), "SignatureDoesNotMatch"),
        (lambda r: replace(r, query=[*r.query, ("x-id", "1")]), "SignatureDoesNotMatch"),
        (lambda r: replace(r, headers={**r.headers, "host": "evil:9"}), "SignatureDoesNotMatch"),
        (lambda r: replace(r, headers={**r.headers, "x-amz-acl": "public-read"}), "AccessDenied"),
        (lambda r: replace(r, query=[q for q in r.query if q[0] != "X-Amz-Date"]), "AuthorizationQueryParametersError"),
        (lambda r: replace(r, query=with_credential(r.query, "AKIX")), "InvalidAccessKeyId"),
    ],
    ids=["length", "method", "path", "extra-query", "host", "unsigned-amz-header", "no-date", "unknown-key"],
)
def test_any_change_to_a_signed_part_is_refused(change, code):
    request, signed_at = presigned_request(ContentLength=5)
    with pytest.raises(S3Error) as caught:
        verify_presigned(change(request), SECRETS, now=signed_at)
    assert caught.value.code == code
