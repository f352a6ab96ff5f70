"""`max_downloads` holds end to end (emulator + real bootstrap + embedded S3): no mix of parallel
full, ranged, `/download` and `download-url` requests gets more than K copies' worth of
ciphertext, and interrupted downloads resume with `Range` within the limit."""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.transfer.conftest import MiB
from tests.transfer.test_relay_e2e import manifest_of, ready_transfer
from tests.transfer.test_transfer_e2e import bearer


def get(url: str, token: str | None = None, **kwargs) -> requests.Response:
    """GET, retrying the emulator's 429 (all environments busy) as an SDK would."""
    headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
    for _ in range(400):
        response = requests.get(url, headers=headers, timeout=60, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(0.02)
    raise AssertionError("the emulator stayed busy")


def one_read(api, transfer: dict, kind: str, rng: random.Random) -> tuple[str, int, int]:
    """(kind, status, bytes of ciphertext obtained through the function or charged for a URL)."""
    base = f"{api.url}/transfers/{transfer['id']}"
    token = transfer["download_token"]
    size = transfer["size"]
    first = rng.randrange(size)
    ranges = {
        "ranged-open": f"bytes={first}-",
        "ranged-zero": "bytes=0-",
        "ranged-part": f"bytes={first}-{min(size - 1, first + rng.randrange(1, size // 3))}",
        "ranged-suffix": f"bytes=-{rng.randrange(1, size)}",
    }
    if kind == "url":
        answer = get(f"{base}/download-url", token)
        if answer.status_code != 200:
            return kind, answer.status_code, 0
        fetched = requests.get(answer.json()["url"], timeout=60).content  # from S3, not through the function
        assert len(fetched) == answer.json()["charged_bytes"] == size
        return kind, 200, answer.json()["charged_bytes"]
    route = "download" if kind.startswith("download") else "ciphertext"
    header = ranges.get(kind.removeprefix("download-"))
    response = get(f"{base}/{route}", token, headers={"range": header} if header else {})
    if response.status_code in (200, 206):
        return kind, response.status_code, len(response.content)
    assert response.json()["error"]["code"] == "download_limit_reached", response.text
    return kind, response.status_code, 0


def test_no_mix_of_parallel_reads_gets_more_than_k_copies(api):
    size, limit = 200_000, 3
    data = os.urandom(size)
    transfer, _ = ready_transfer(api, data, max_downloads=limit)
    transfer["size"] = size
    kinds = ["full", "ranged-open", "ranged-zero", "ranged-part", "ranged-suffix", "download", "download-ranged-zero"]
    kinds += ["download-ranged-part", "url"]
    rng = random.Random(11)
    plan = [rng.choice(kinds) for _ in range(30)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda job: one_read(api, transfer, job[1], random.Random(job[0])), enumerate(plan)))
    obtained = sum(count for _, _, count in results)
    statuses = {status for _, status, _ in results}
    assert statuses <= {200, 206, 410} and 410 in statuses
    assert obtained <= limit * size  # never more than K copies' worth, whatever the mix
    assert manifest_of(api, transfer["id"])["bytes_charged"] == obtained  # and every byte handed out is counted
    complete_copies = sum(1 for kind, status, count in results if status == 200 and count == size)
    assert complete_copies <= limit


def test_n_parallel_full_reads_against_k_give_exactly_k_copies(api):
    transfer, token = ready_transfer(api, os.urandom(100_000), max_downloads=4)
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: get(f"{api.url}/transfers/{transfer['id']}/ciphertext", token), range(12)))
    assert sorted(r.status_code for r in responses) == [200] * 4 + [410] * 8
    assert all(len(r.content) == 100_000 for r in responses if r.status_code == 200)


def read_part_then_hang_up(url: str, headers: dict, wanted: int) -> bytes:
    """Read about `wanted` bytes of a streamed body, then close the connection mid-transfer."""
    received = b""
    with requests.get(url, headers=headers, stream=True, timeout=60) as response:
        assert response.status_code == 200
        for piece in response.iter_content(chunk_size=64 * 1024):
            received += piece
            if len(received) >= wanted:
                break
    return received


def test_a_relayed_download_cut_half_way_resumes_with_range(api):
    data = os.urandom(3 * 1000 * 1000)
    transfer, token = ready_transfer(api, data, max_downloads=2)
    url = f"{api.url}/transfers/{transfer['id']}/download"
    first = read_part_then_hang_up(url, bearer(token), len(data) // 2)
    assert 0 < len(first) < len(data)
    rest = get(url, token, headers={"range": f"bytes={len(first)}-"})
    assert rest.status_code == 206 and first + rest.content == data
    charged = manifest_of(api, transfer["id"])["bytes_charged"]
    # Lambda does not tell the function that its client left: the cut read counts whole, the resume its range.
    assert charged == len(data) + (len(data) - len(first)) <= 2 * len(data)
    assert get(url, token).status_code == 410


def test_a_ranged_client_asking_only_for_what_it_lacks_is_charged_each_byte_once(api):
    data = os.urandom(1000 * 1000)
    transfer, token = ready_transfer(api, data, max_downloads=1)
    url = f"{api.url}/transfers/{transfer['id']}/download"
    quarter = len(data) // 4
    pieces = {}
    for index in (0, 1):  # then the client is interrupted, and later asks only for what it lacks
        pieces[index] = get(url, token, headers={"range": f"bytes={index * quarter}-{(index + 1) * quarter - 1}"})
    for index in (2, 3):
        last = "" if index == 3 else (index + 1) * quarter - 1
        pieces[index] = get(url, token, headers={"range": f"bytes={index * quarter}-{last}"})
    assert all(piece.status_code == 206 for piece in pieces.values())
    assert b"".join(pieces[i].content for i in range(4)) == data
    assert manifest_of(api, transfer["id"])["bytes_charged"] == len(data)  # exactly one copy
    refused = get(url, token, headers={"range": "bytes=0-0"})
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "download_limit_reached"


def test_a_presigned_download_cut_half_way_resumes_within_a_limit_of_one(api):
    data = os.urandom(7 * MiB)  # above the relay threshold: /download answers 303 to S3
    transfer, token = ready_transfer(api, data, max_downloads=1)
    redirect = get(f"{api.url}/transfers/{transfer['id']}/download", token, allow_redirects=False)
    assert redirect.status_code == 303
    location = redirect.headers["location"]
    first = read_part_then_hang_up(location, {}, len(data) // 2)
    rest = requests.get(location, headers={"range": f"bytes={len(first)}-"}, timeout=60)  # same URL, still valid
    assert rest.status_code == 206 and first + rest.content == data
    assert manifest_of(api, transfer["id"])["bytes_charged"] == len(data)
    again = get(f"{api.url}/transfers/{transfer['id']}/download", token, allow_redirects=False)
    assert again.status_code == 410


def test_a_ranged_download_link_is_charged_its_range(api):
    data = os.urandom(7 * MiB)
    transfer, token = ready_transfer(api, data, max_downloads=1)
    url = f"{api.url}/transfers/{transfer['id']}/download"
    head = get(url, token, headers={"range": f"bytes=0-{MiB - 1}"})  # 303 followed with the same Range
    assert head.status_code == 206 and head.content == data[:MiB] and head.history[0].status_code == 303
    tail = get(url, token, headers={"range": f"bytes={MiB}-"})
    assert tail.status_code == 206 and head.content + tail.content == data
    assert manifest_of(api, transfer["id"])["bytes_charged"] == len(data)
    assert get(url, token, headers={"range": "bytes=0-0"}, allow_redirects=False).status_code == 410
