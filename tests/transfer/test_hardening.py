"""Hardening, in-process: headers on every response, the creation key, bounded JSON, paginated
ListParts, limits named in messages."""

from __future__ import annotations

import hashlib
import json

import pytest

from handlers import jsonbody, parts
from handlers.config import ConfigError, Settings, load_settings
from handlers.errors import ApiError
from handlers.events import EventStream
from handlers.service import Service
from tests.transfer.inprocess import BUCKET, HookedS3, MiB_BYTES, function_url_event


def answers_of_every_kind(inprocess) -> dict:
    ready = inprocess.ready(max_downloads=1)
    pending = inprocess.create(size=5)
    token = {"token": ready["download_token"]}
    relay = f"/transfers/{ready['id']}/ciphertext"
    return {
        "201": inprocess.request("POST", "/transfers", {"size": 1}),
        "200 json": inprocess.request("GET", f"/transfers/{ready['id']}", **token),
        "206 relay": inprocess.request("GET", relay, headers={"range": "bytes=0-0"}, **token),
        "200 events": inprocess.request("GET", f"/transfers/{pending['id']}/events", token=pending["owner_token"]),
        "204 preflight": inprocess.request("OPTIONS", "/transfers", headers={"origin": "https://a.example"}),
        "204 delete": inprocess.request("DELETE", f"/transfers/{pending['id']}", token=pending["owner_token"]),
        "400": inprocess.request("POST", "/transfers", b"{"),
        "401": inprocess.request("GET", f"/transfers/{ready['id']}"),
        "404": inprocess.request("GET", "/nowhere"),
        "405": inprocess.request("PATCH", "/transfers"),
        "410": inprocess.request("GET", relay, **token),  # 5 bytes needed, 4 left
        "416": inprocess.request("GET", relay, headers={"range": "bytes=9-"}, **token),
    }


def test_every_response_is_no_store_and_nosniff(inprocess):
    for kind, response in answers_of_every_kind(inprocess).items():
        assert str(response.status) == kind.split()[0], (kind, response.body)
        assert response.headers["cache-control"] == "no-store", kind
        assert response.headers["x-content-type-options"] == "nosniff", kind


def test_a_malformed_event_is_400_with_the_headers(inprocess):
    from handlers import app
    from tests.transfer.inprocess import Context, RecordedResponse

    response = RecordedResponse()
    app.handler({"headers": ["not", "a", "map"], "body": 5}, response, Context())
    assert response.status == 400 and response.headers["cache-control"] == "no-store"


def with_creation_keys(inprocess, *keys: str) -> None:
    hashes = tuple(hashlib.sha256(key.encode()).hexdigest() for key in keys)
    service = inprocess.service
    inprocess.service = Service(
        Settings(bucket=BUCKET, create_key_hashes=hashes), service.store, service.s3, service.presigner, service.clock
    )


def test_creation_key_when_configured(inprocess):
    with_creation_keys(inprocess, "first-key-" + "a" * 30, "second-key-" + "b" * 30)
    body = {"size": 5}
    assert inprocess.request("POST", "/transfers", body).status == 401
    wrong = inprocess.request("POST", "/transfers", body, token="nope")
    assert (wrong.status, wrong.json()["error"]["code"]) == (403, "forbidden")
    assert inprocess.request("POST", "/transfers", body, token="x" * 10_000).status == 403
    assert inprocess.request("POST", "/transfers", body, token="second-key-" + "b" * 30).status == 201
    created = inprocess.request("POST", "/transfers", body, token="first-key-" + "a" * 30)
    assert created.status == 201  # and its own tokens work as before:
    view = inprocess.request("GET", f"/transfers/{created.json()['id']}", token=created.json()["owner_token"])
    assert view.status == 200


def test_creation_key_is_off_by_default(inprocess):
    assert inprocess.request("POST", "/transfers", {"size": 5}).status == 201


def test_creation_key_hashes_are_validated():
    good = hashlib.sha256(b"k").hexdigest()
    assert load_settings(
        {"TRANSFER_BUCKET": "b", "TRANSFER_CREATE_KEY_HASHES": f" {good.upper()} ,"}
    ).create_key_hashes == (good,)
    with pytest.raises(ConfigError):
        load_settings({"TRANSFER_BUCKET": "b", "TRANSFER_CREATE_KEY_HASHES": "secret-in-clear"})
    with pytest.raises(ConfigError):
        load_settings({"TRANSFER_BUCKET": "b", "TRANSFER_DOWNLOAD_URL_TTL_SECONDS": "9" * 400})


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"size": ' + b"9" * 5000 + b"}", 400, "20 digits"),
        (b'{"size": -' + b"9" * 21 + b"}", 400, "20 digits"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "bytes"),
        (b'{"a":' * 9 + b"1" + b"}" * 9, 400, "8 levels"),
        (b'{"size": NaN}', 400, "NaN"),
        (b'{"size": Infinity}', 400, "Infinity"),
        (b"\xff\xfe", 400, "UTF-8"),
        (b'{"size": 5, "' + b"k" * 5000 + b'": 1}', 400, "unknown field"),
    ],
)
def test_hostile_json_is_a_4xx_naming_the_limit(inprocess, body, status, fragment):
    response = inprocess.request("POST", "/transfers", body)
    assert response.status == status and fragment in response.json()["error"]["message"]
    assert len(response.body) < 500  # nothing of the input is echoed back at length


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert jsonbody.nesting_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[["}') == 1
    assert jsonbody.nesting_depth('{"a": "\\"[[[[[[[[[[[[[[["}') == 1
    assert jsonbody.parse_object(b'{"metadata": "[[[[[[[[[[[[[[[[[["}', 100)["metadata"].startswith("[")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"size": 0}, "between 1 and 1000"),
        ({"size": 1001}, "limit of 1000 bytes"),
        ({"size": 5, "max_downloads": 0}, "between 1 and 7"),
        ({"size": 5, "expires_in": 59}, "between 60 and 3600"),
        ({"size": 5, "metadata": "m" * 11}, "limit of 10 bytes"),
    ],
)
def test_messages_name_the_configured_limits(inprocess, document, message):
    service = inprocess.service
    settings = Settings(bucket=BUCKET, max_transfer_bytes=1000, max_max_downloads=7, max_expires_in=3600)
    settings = Settings(**{**settings.__dict__, "max_metadata_bytes": 10})
    inprocess.service = Service(settings, service.store, service.s3, service.presigner, service.clock)
    response = inprocess.request("POST", "/transfers", document)
    assert response.status in (400, 413) and message in response.json()["error"]["message"]


class PagedParts(HookedS3):
    """ListParts two parts a page, as S3 does a thousand a page."""

    def list_parts(self, **kwargs):
        page = self._s3.list_parts(**{k: v for k, v in kwargs.items() if k != "PartNumberMarker"})
        marker = kwargs.get("PartNumberMarker", 0)
        later = [p for p in page.get("Parts", []) if p["PartNumber"] > marker]
        return {"Parts": later[:2], "IsTruncated": len(later) > 2, "NextPartNumberMarker": later[:2][-1]["PartNumber"]}


def test_list_parts_and_events_read_every_page(inprocess):
    transfer = inprocess.create(size=70 * MiB_BYTES)
    manifest, _ = inprocess.service.store.load(transfer["id"])
    s3 = inprocess.service.s3
    for number in range(1, 6):
        body = b"x" * manifest.part_length(number)
        s3.upload_part(Bucket=BUCKET, Key=f"transfers/{transfer['id']}/ciphertext", UploadId=manifest.upload_id,
                       PartNumber=number, Body=body)  # fmt: skip
    inprocess.service.s3 = PagedParts(s3, {})
    assert [p["PartNumber"] for p in parts.uploaded_parts(inprocess.service, manifest)] == [1, 2, 3, 4, 5]
    listing = inprocess.request("GET", f"/transfers/{transfer['id']}/parts", token=transfer["owner_token"]).json()
    assert [p["number"] for p in listing["parts"]] == [1, 2, 3, 4, 5]
    stream = EventStream(inprocess.service, manifest, lambda: 0, None, sleep=lambda _: None)
    state = json.loads(next(line for line in b"".join(stream.run()).split(b"\n") if line.startswith(b"data:"))[5:])
    assert state["parts_uploaded"] == 5


def test_json_parser_rejects_everything_but_objects():
    for body in (b"[]", b"1", b'"s"', b"null"):
        with pytest.raises(ApiError):
            jsonbody.parse_object(body, 100)
    assert jsonbody.parse_object(b"  ", 100) == {}


def test_event_of_unexpected_shape_is_a_400_not_a_crash():
    from handlers.http import request_from_event

    shapes = (
        {},  # what `aws lambda invoke` sends by default: not a request for the send page
        {"rawPath": "/health"},
        {"requestContext": {"http": {"method": 5}}},
        {"body": 5},
        {"headers": 3},
        {"requestContext": "x"},
        {"body": "\ud800"},
    )
    for event in shapes:
        with pytest.raises(ApiError) as caught:
            request_from_event(event)
        assert caught.value.status == 400
    assert request_from_event(function_url_event("GET", "/health")).path == "/health"


def test_an_event_stream_ends_asking_to_reconnect_after_its_maximum_life(inprocess):
    """Lambda never says the client left: a stream must end by itself long before a 15-minute timeout."""
    transfer = inprocess.create(size=5)
    manifest, _ = inprocess.service.store.load(transfer["id"])
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    plenty_of_time = lambda: 900_000  # noqa: E731 - the function's own timeout is far away
    stream = EventStream(inprocess.service, manifest, plenty_of_time, None, sleep=sleep, monotonic=lambda: clock[0])
    events = [part for part in b"".join(stream.run()).split(b"\n\n") if part]
    assert events[-1] == b'event: end\ndata: {"reason":"timeout","reconnect":true}'
    limit = inprocess.service.settings.events_max_seconds
    assert limit <= clock[0] < limit + inprocess.service.settings.events_poll_seconds + 1
