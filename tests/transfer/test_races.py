"""Requests racing a DELETE (staged deterministically in-process): 404 or 409, never a 500, and no
ciphertext left behind."""

from __future__ import annotations

import pytest

from handlers import upload
from tests.transfer.inprocess import HookedS3, MiB_BYTES


def delete(inprocess, transfer: dict) -> None:
    response = inprocess.request("DELETE", f"/transfers/{transfer['id']}", token=transfer["owner_token"])
    assert response.status == 204, response.body


def race(inprocess, call: str, transfer: dict) -> None:
    """The next `call` to S3 (about the ciphertext or the upload) first sees the transfer deleted."""
    hooked = HookedS3(inprocess.service.s3, {call: lambda _: delete(inprocess, transfer)})
    inprocess.service.s3 = inprocess.service.presigner = inprocess.service.store.s3 = hooked


def error_of(response) -> tuple[int, str]:
    return response.status, response.json()["error"]["code"]


def test_complete_racing_delete(inprocess):
    transfer = inprocess.create(size=5)
    inprocess.upload(transfer, b"12345")
    race(inprocess, "head_object", transfer)
    response = inprocess.request("POST", f"/transfers/{transfer['id']}/complete", token=transfer["owner_token"])
    assert error_of(response) in ((404, "not_found"), (409, "upload_missing"))
    assert inprocess.keys(transfer["id"]) == []


def test_multipart_complete_racing_delete(inprocess):
    transfer = inprocess.create(size=5)
    multipart = inprocess.create(size=70 * MiB_BYTES)
    assert multipart["upload"]["method"] == "multipart"
    race(inprocess, "list_parts", multipart)
    response = inprocess.request("POST", f"/transfers/{multipart['id']}/complete", token=multipart["owner_token"])
    assert error_of(response) == (404, "not_found")
    assert inprocess.keys(multipart["id"]) == [] and inprocess.keys(transfer["id"])  # the other one is untouched


def test_fast_upload_racing_delete_leaves_no_orphan(inprocess, monkeypatch):
    transfer = inprocess.create(size=5)
    original = upload._store_ciphertext

    def deleted_first(service, manifest, body):
        delete(inprocess, transfer)
        original(service, manifest, body)  # the write lands after the DELETE removed everything

    monkeypatch.setattr(upload, "_store_ciphertext", deleted_first)
    response = inprocess.request(
        "PUT", f"/transfers/{transfer['id']}/ciphertext", b"12345", token=transfer["owner_token"]
    )
    assert error_of(response) == (404, "not_found")
    assert inprocess.keys(transfer["id"]) == []


@pytest.mark.parametrize("route", ["ciphertext", "download", "download-url"])
def test_reads_racing_delete(inprocess, route):
    transfer = inprocess.ready()
    race(inprocess, "get_object" if route != "download-url" else "generate_presigned_url", transfer)
    response = inprocess.request("GET", f"/transfers/{transfer['id']}/{route}", token=transfer["download_token"])
    assert response.status in (200, 404), response.body  # a URL signed for a deleted object leads nowhere
    if response.status == 404:
        assert response.json()["error"]["code"] == "not_found"
    assert inprocess.keys(transfer["id"]) == []


def test_part_signing_and_listing_racing_delete(inprocess):
    transfer = inprocess.create(size=70 * MiB_BYTES)
    race(inprocess, "list_parts", transfer)
    listing = inprocess.request("GET", f"/transfers/{transfer['id']}/parts", token=transfer["owner_token"])
    assert error_of(listing) == (404, "not_found")
    signing = inprocess.request(
        "POST", f"/transfers/{transfer['id']}/parts", {"parts": [{"number": 1}]}, token=transfer["owner_token"]
    )
    assert error_of(signing) == (404, "not_found")


def test_update_meeting_a_deleted_manifest_is_404(inprocess):
    transfer = inprocess.ready()
    original = inprocess.service.s3

    class ManifestVanishes(HookedS3):
        def put_object(self, **kwargs):
            if "IfMatch" in kwargs:  # deleted between the read and the conditional write
                original.delete_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"])
            return original.put_object(**kwargs)

    inprocess.service.s3 = inprocess.service.store.s3 = ManifestVanishes(original, {})
    response = inprocess.request("GET", f"/transfers/{transfer['id']}/download-url", token=transfer["download_token"])
    assert error_of(response) == (404, "not_found")


def test_a_deletion_cut_short_can_be_finished(inprocess):
    transfer = inprocess.ready()
    original = inprocess.service.s3

    class FailingDelete(HookedS3):
        def delete_object(self, **kwargs):
            raise OSError("S3 went away")

    inprocess.service.s3 = FailingDelete(original, {})
    first = inprocess.request("DELETE", f"/transfers/{transfer['id']}", token=transfer["owner_token"])
    assert first.status == 500 and b"Traceback" not in first.body
    inprocess.service.s3 = original
    reads = inprocess.request("GET", f"/transfers/{transfer['id']}/ciphertext", token=transfer["download_token"])
    assert error_of(reads) == (404, "not_found")  # marked deleted: nobody reads it any more
    assert inprocess.request("DELETE", f"/transfers/{transfer['id']}", token=transfer["owner_token"]).status == 204
    assert inprocess.keys(transfer["id"]) == []
