"""A download may start from the manifest this environment remembers (one S3 round trip less), but
a stale memory never grants a read: other environments' deletions, reads and refunds all hold."""

from __future__ import annotations

from typing import Any

from handlers import accounting
from handlers.store import REMEMBERED_MANIFESTS, ManifestStore
from tests.transfer.inprocess import BUCKET

DATA = b"0123456789"


class CountingS3:
    """Counts GETs of manifests, passing every call through."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.manifest_reads = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._s3, name)
        if name != "get_object":
            return target

        def get_object(**kwargs: Any) -> Any:
            self.manifest_reads += kwargs["Key"].endswith("manifest.json")
            return target(**kwargs)

        return get_object


def other_environment(inprocess) -> ManifestStore:
    """The same API's store in another environment: its own memory, the same S3."""
    return ManifestStore(inprocess.service.s3, BUCKET, "transfers/", sleep=lambda _: None)


def read(inprocess, transfer: dict, path: str = "ciphertext"):
    response = inprocess.request("GET", f"/transfers/{transfer['id']}/{path}", token=transfer["download_token"])
    return response.status, response


def test_a_repeated_read_skips_the_manifest_read(inprocess):
    transfer = inprocess.ready(DATA, max_downloads=3)
    assert read(inprocess, transfer)[0] == 200
    counting = CountingS3(inprocess.service.store.s3)
    inprocess.service.store.s3 = counting
    assert read(inprocess, transfer)[0] == 200
    assert read(inprocess, transfer, "download-url")[0] == 200
    assert counting.manifest_reads == 0


def test_a_deletion_elsewhere_is_seen_by_a_remembered_read(inprocess):
    transfer = inprocess.ready(DATA, max_downloads=3)
    assert read(inprocess, transfer)[0] == 200
    other_environment(inprocess).update(transfer["id"], lambda m: m.replace(state="deleted"))
    assert read(inprocess, transfer)[0] == 404
    assert read(inprocess, transfer, "download-url")[0] == 404


def test_reads_elsewhere_count_against_a_remembered_limit(inprocess):
    transfer = inprocess.ready(DATA, max_downloads=2)
    assert read(inprocess, transfer)[0] == 200
    clock = inprocess.service.clock
    other_environment(inprocess).update(transfer["id"], lambda m: accounting.charge(m, len(DATA), clock()))
    status, response = read(inprocess, transfer)
    assert status == 410 and response.json()["error"]["code"] == "download_limit_reached"
    assert inprocess.manifest(transfer["id"])["bytes_charged"] == 2 * len(DATA)


def test_a_refund_elsewhere_is_not_refused_by_a_stale_memory(inprocess):
    transfer = inprocess.ready(DATA, max_downloads=1)
    assert read(inprocess, transfer)[0] == 200  # remembered as exhausted
    other_environment(inprocess).update(transfer["id"], lambda m: accounting.give_back(m, len(DATA)))
    assert read(inprocess, transfer)[0] == 200  # a relay elsewhere stopped early and gave its bytes back


def test_a_wrong_token_is_refused_from_memory_too(inprocess):
    transfer = inprocess.ready(DATA, max_downloads=3)
    assert read(inprocess, transfer)[0] == 200
    assert read(inprocess, {**transfer, "download_token": transfer["owner_token"]})[0] == 404


def test_memory_is_bounded(inprocess):
    store = inprocess.service.store
    transfers = [inprocess.ready(DATA) for _ in range(3)]
    for transfer in transfers:
        read(inprocess, transfer)
    assert all(store.recent(t["id"]) is not None for t in transfers)
    for index in range(REMEMBERED_MANIFESTS):  # what the memory holds is bounded, oldest out first
        store._remember(store.recent(transfers[-1]["id"])[0].replace(id=f"filler{index}"), "etag")
    assert store.recent(transfers[0]["id"]) is None
