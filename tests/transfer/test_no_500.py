"""Generated malformed requests at every route: never a 500, never a trace, always the JSON error.

In-process against moto through the real dispatcher (fast, so hypothesis can try many shapes),
plus a fixed set of the nastiest through the running emulator.
"""

from __future__ import annotations

import json
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import jsonbody
from handlers.app import ROUTES
from handlers.errors import ApiError
from handlers.ranges import Unsatisfiable, exact_s3_form, parse_range
from tests.transfer.inprocess import function_url_event

PATHS = sorted({route.pattern for route in ROUTES} | {"/", "/transfers/{id}/nope", "/transfers/{id}/parts/1"})
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

digits = st.text(alphabet=string.digits, min_size=0, max_size=40) | st.integers(0, 5000).map(lambda n: "9" * n)
range_headers = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 12), st.integers(0, 12) | st.just("")),
    st.builds(lambda n: f"bytes=-{n}", st.integers(0, 12)),
    st.builds(lambda a, b: f"bytes={a}-{b}", digits, digits),
    st.builds(lambda a, b: f"bytes={a}-{b},{b}-", digits, digits),
    st.text(max_size=60),
    st.sampled_from(["bytes=-0", "bytes=--1", "bytes=0-0-0", "items=0-1", "bytes=\u0663-"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
field_values = st.one_of(
    json_values,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 59, 60, 2**63, -1, 5 * 1024**3, 10**19]),
)
create_documents = st.dictionaries(
    st.sampled_from(["size", "sha256", "metadata", "expires_in", "max_downloads", "parts", "x"]), field_values
)
parts_documents = st.fixed_dictionaries(
    {"parts": st.lists(st.dictionaries(st.sampled_from(["number", "sha256", "n"]), field_values), max_size=3)}
) | st.dictionaries(st.text(max_size=5), field_values)
raw_bodies = st.one_of(
    st.builds(
        lambda size, downloads, parts: json.dumps({"size": size, "max_downloads": downloads, **parts}).encode(),
        st.integers(-5, 10**6),
        st.integers(-1, 20),
        st.sampled_from([{}, {"parts": [{"number": 1}]}, {"expires_in": 10**40}]),
    ),
    st.builds(
        lambda numbers: json.dumps({"parts": [{"number": n} for n in numbers]}).encode(), st.lists(st.integers(-2, 6))
    ),
    st.binary(max_size=300),
    st.builds(lambda d: json.dumps(d).encode(), create_documents),
    st.builds(lambda d: json.dumps(d).encode(), parts_documents),
    st.integers(1, 3000).map(lambda n: b'{"size": ' + b"1" * n + b"}"),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.just(b'{"size": NaN}'),
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(body=raw_bodies, limit=st.integers(0, 5000))
def test_json_bodies_are_parsed_or_refused_cleanly(body, limit):
    try:
        document = jsonbody.parse_object(body, limit)
    except ApiError as exc:
        assert exc.status in (400, 413) and exc.code in ("invalid_json", "too_large")
    else:
        assert isinstance(document, dict)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(header=range_headers, total=st.integers(1, 10**12))
def test_ranges_are_parsed_or_ignored_cleanly(header, total):
    try:
        chosen = parse_range(header, total)
    except Unsatisfiable:
        return
    if chosen is not None:
        assert 0 <= chosen.first <= chosen.last < total
    exact_s3_form(header)


@st.composite
def requests_at_routes(draw, transfers: dict) -> dict:
    """Mostly well-aimed (a real route, a real transfer, its own token) with malformed parts."""
    if draw(st.integers(0, 9)) == 0:
        method, pattern = draw(st.sampled_from(METHODS)), draw(st.sampled_from(PATHS))
    else:
        route = draw(st.sampled_from(ROUTES))
        method, pattern = route.method, route.pattern
    which = draw(st.sampled_from([*transfers, *transfers, "unknown", "garbage"]))
    if which == "unknown":
        transfer_id = "A" * 22
    elif which == "garbage":
        alphabet = string.printable.replace("/", "").replace("?", "")
        transfer_id = draw(st.text(alphabet=alphabet, min_size=1, max_size=40))
    else:
        transfer_id = transfers[which]["id"]
    headers = {}
    token = draw(st.sampled_from(["owner", "download", "owner", "download", "none", "junk", "basic"]))
    if token in ("owner", "download"):
        headers["authorization"] = (
            f"Bearer {transfers[which][f'{token}_token']}" if which in transfers else "Bearer " + "x" * 43
        )
    elif token == "junk":
        headers["authorization"] = "Bearer " + draw(st.text(max_size=60))
    elif token == "basic":
        headers["authorization"] = "Basic dTpw"
    if draw(st.booleans()):
        headers["range"] = draw(range_headers)
    if draw(st.booleans()):
        headers["last-event-id"] = draw(st.text(max_size=40))
    if draw(st.booleans()):
        headers["origin"] = draw(st.sampled_from(["https://a.example", "null", "x" * 300]))
    return {
        "method": method,
        "path": pattern.replace("{id}", transfer_id),
        "headers": headers,
        "body": draw(raw_bodies),
    }


def fresh_transfers(inprocess) -> dict:
    return {
        "ready": inprocess.ready(b"0123456789", max_downloads=3),
        "pending": inprocess.create(size=5),
        "multipart": inprocess.create(size=70 * 1024 * 1024),
    }


def assert_clean(status: int, body: bytes) -> None:
    assert status != 500 and status < 600, body
    assert b"Traceback" not in body and b'File "' not in body
    if status >= 400:
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"} and error["code"] not in ("internal", "misconfigured")


def test_every_route_answers_generated_requests_without_500(inprocess):
    transfers = fresh_transfers(inprocess)

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests_at_routes(transfers))
    def one(request: dict) -> None:
        from handlers import app
        from tests.transfer.inprocess import Context, RecordedResponse

        response = RecordedResponse()
        event = function_url_event(request["method"], request["path"], request["headers"], request["body"])
        app.handler(event, response, Context())
        assert_clean(response.status, response.body)
        if request["method"] == "DELETE" and response.status == 204:  # keep something to hit
            transfers.update(fresh_transfers(inprocess))

    one()


NASTY = [  # method, path, headers, body, the transfer it is aimed at, the status users must see
    ("POST", "/transfers", {}, b'{"size": ' + b"9" * 5000 + b"}", None, 400),
    ("POST", "/transfers", {}, b"[" * 50_000 + b"]" * 50_000, None, 413),
    ("POST", "/transfers", {}, b'{"a":' * 2000 + b"1" + b"}" * 2000, None, 400),
    ("POST", "/transfers", {}, b'{"size": NaN}', None, 400),
    ("POST", "/transfers", {"content-type": "application/json"}, b"\xff\xfe\x00", None, 400),
    ("POST", "/transfers", {}, b'{"size": 5, "metadata": "' + b"m" * 5000 + b'"}', None, 413),
    ("GET", "/transfers/{id}/ciphertext", {"range": "bytes=" + "9" * 5000 + "-"}, b"", "ready", 416),
    ("GET", "/transfers/{id}/ciphertext", {"range": "bytes=0-" + "9" * 5000}, b"", "ready", 206),
    ("GET", "/transfers/{id}/download", {"range": "bytes=-" + "9" * 5000}, b"", "ready", 206),
    ("GET", "/transfers/{id}/download-url", {"range": "bytes=" + "0" * 5000 + "1-2"}, b"", "ready", 200),
    ("POST", "/transfers/{id}/parts", {}, b'{"parts": [{"number": ' + b"1" * 400 + b"}]}", "multipart", 400),
    ("GET", "/transfers/{id}", {"authorization": "Bearer " + "\u00e9" * 43}, b"", "ready", 404),
]


@pytest.fixture(scope="module")
def targets(api) -> dict:
    from tests.transfer.test_transfer_e2e import bearer, create

    ready = create(api, size=5, max_downloads=10)
    put = requests.put(
        f"{api.url}/transfers/{ready['id']}/ciphertext", data=b"abcde", headers=bearer(ready["owner_token"]), timeout=30
    )
    assert put.status_code == 200
    return {"ready": ready, "multipart": create(api, size=12 * 1024 * 1024)}


@pytest.mark.parametrize(("method", "path", "headers", "body", "target", "expected"), NASTY, ids=range(len(NASTY)))
def test_the_nastiest_requests_through_the_emulator(api, targets, method, path, headers, body, target, expected):
    all_headers = dict(headers)
    if target is not None:
        transfer = targets[target]
        token = transfer["owner_token"] if target == "multipart" else transfer["download_token"]
        all_headers = {"authorization": f"Bearer {token}", **headers}
        path = path.replace("{id}", transfer["id"])
    response = requests.request(method, api.url + path, data=body, headers=all_headers, timeout=30)
    assert_clean(response.status_code, response.content)
    assert response.status_code == expected, response.text
    assert response.headers["cache-control"] == "no-store"
