"""The CLI end to end against the emulator, the real bootstrap and the embedded S3 (which checks
presigned signatures, lengths and checksums as S3 does)."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from pathlib import Path

import pytest
import requests

from client import ece
from client.errors import IntegrityError, Interrupted, UnavailableError
from client.link import ShareLink, parse_link
from client.metadata import unb64url
from client.receive import ReceiveOptions, receive_link
from client.send import SendOptions, send_file
from tests.client.conftest import MiB, run_cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(random.randbytes(size))
    return path


def plaintext_samples(data: bytes, count: int = 64, width: int = 24) -> list[bytes]:
    step = max(1, (len(data) - width) // count)
    return [data[i : i + width] for i in range(0, len(data) - width, step)][:count]


@pytest.mark.slow
def test_fifty_megabytes_sent_and_received_byte_identical(api, tmp_path):
    source = random_file(tmp_path / "holiday video.mp4", 50 * 1000 * 1000)
    env = {"TRANSFER_CLIENT_STATE_DIR": str(tmp_path / "state")}
    sent = run_cli("send", str(source), "--api", api.url, "--progress", env=env)
    assert sent.returncode == 0, sent.stderr
    link = sent.stdout.strip().splitlines()[-1]  # the share link is the last line of stdout
    assert link.startswith(f"{api.url}/t/") and "#" in link
    assert "B/s" in sent.stderr and "Uploading" in sent.stderr  # the progress bar, with its rate
    out = tmp_path / "received"
    out.mkdir()
    received = run_cli("receive", link, "-o", str(out), "--progress", env=env)
    assert received.returncode == 0, received.stderr
    assert "B/s" in received.stderr and "Downloading" in received.stderr
    assert digest(out / "holiday video.mp4") == digest(source)
    assert sorted(p.name for p in out.iterdir()) == ["holiday video.mp4"]  # no .part left behind
    assert not any((tmp_path / "state").glob("*.json"))  # the sender's resume state is gone
    # S3 holds ciphertext and a manifest only: no plaintext, no name, no key.
    stored = b"".join(api.objects().values())
    plaintext = source.read_bytes()
    assert not any(sample in stored for sample in plaintext_samples(plaintext))
    secret_text = link.rsplit(".", 1)[1]
    for forbidden in (b"holiday video", secret_text.encode(), parse_link(link).secret):
        assert forbidden not in stored
    assert secret_text not in "\n".join(api.emulator.logs)  # the fragment never reached the server


class InterruptingSession(requests.Session):
    """Raises KeyboardInterrupt (as Ctrl-C or a kill would end the process) at the Nth part PUT."""

    def __init__(self, interrupt_at_part: int) -> None:
        super().__init__()
        self.interrupt_at_part = interrupt_at_part
        self.part_puts: list[int] = []

    def send(self, request, **kwargs):
        if request.method == "PUT" and "partNumber=" in request.url:
            number = int(request.url.split("partNumber=")[1].split("&")[0])
            self.part_puts.append(number)
            if len(self.part_puts) == self.interrupt_at_part:
                raise KeyboardInterrupt
        return super().send(request, **kwargs)


def test_upload_interrupted_half_way_then_resumed(api, tmp_path):
    source = random_file(tmp_path / "archive.tar", 18 * MiB)  # 4 parts of 5 MiB
    options = SendOptions(api.url, parallel=1, show_progress=False, state_dir=tmp_path / "state")
    first = InterruptingSession(interrupt_at_part=3)
    with pytest.raises(Interrupted) as stopped:
        send_file(source, options, first)
    assert "--resume" in stopped.value.message and first.part_puts == [1, 2, 3]
    assert len(list((tmp_path / "state").glob("send-*.json"))) == 1
    again = InterruptingSession(interrupt_at_part=0)
    link = send_file(source, SendOptions(api.url, resume=True, parallel=2, state_dir=tmp_path / "state"), again)
    assert sorted(again.part_puts) == [3, 4]  # only what S3 did not already hold
    assert not list((tmp_path / "state").glob("send-*.json"))
    saved = receive_link(str(link), ReceiveOptions(output=tmp_path / "copy.tar", show_progress=False))
    assert digest(saved) == digest(source)


def test_resume_refuses_a_file_that_changed(api, tmp_path):
    source = random_file(tmp_path / "data.bin", 12 * MiB)
    options = SendOptions(api.url, parallel=1, show_progress=False, state_dir=tmp_path / "state")
    with pytest.raises(Interrupted):
        send_file(source, options, InterruptingSession(interrupt_at_part=2))
    data = bytearray(source.read_bytes())
    data[-1] ^= 1  # same size, different content: re-sealing it would reuse nonces on other plaintext
    source.write_bytes(bytes(data))
    result = run_cli(
        "send", str(source), "--api", api.url, "--resume", env={"TRANSFER_CLIENT_STATE_DIR": str(tmp_path / "state")}
    )
    assert result.returncode == 2 and "changed since its upload started" in result.stderr


class CuttingSession(requests.Session):
    """Ends ciphertext downloads after `budget` bytes, with `failure` (a network error or a kill)."""

    def __init__(self, budget: int, failure: BaseException) -> None:
        super().__init__()
        self.budget = budget
        self.failure = failure
        self.ranges: list[str | None] = []

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        is_download = (
            request.method == "GET"
            and response.status_code in (200, 206)
            and ("/ciphertext" in request.url or "/download" in request.url)
        )
        if is_download:
            self.ranges.append(request.headers.get("range"))
            original = response.iter_content

            def cut(chunk_size=1, decode_unicode=False):
                for block in original(chunk_size):
                    if self.budget is not None and len(block) >= self.budget:
                        yield block[: self.budget]
                        self.budget = None
                        raise self.failure
                    if self.budget is not None:
                        self.budget -= len(block)
                    yield block

            response.iter_content = cut
        return response


def test_download_cut_half_way_resumes_in_a_later_run(api, tmp_path):
    source = random_file(tmp_path / "big.iso", 13 * MiB)  # above the relay threshold: 303 to S3
    link = send_file(source, SendOptions(api.url, show_progress=False, state_dir=tmp_path / "state"))
    target = tmp_path / "out.iso"
    first = CuttingSession(budget=7 * MiB + 12345, failure=KeyboardInterrupt())
    with pytest.raises(Interrupted):
        receive_link(str(link), ReceiveOptions(output=target, show_progress=False), first)
    assert not target.exists() and (tmp_path / "out.iso.part").exists()  # plaintext only under .part
    second = CuttingSession(budget=None, failure=KeyboardInterrupt())
    receive_link(str(link), ReceiveOptions(output=target, show_progress=False), second)
    assert digest(target) == digest(source)
    resumed_at = int(second.ranges[0].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 7 * MiB + 12345  # from the last verified record, not from zero
    assert (resumed_at - ece.HEADER_BYTES) % ece.RECORD_SIZE == 0
    assert not (tmp_path / "out.iso.part").exists() and not (tmp_path / "out.iso.part.json").exists()


def test_connection_cut_mid_stream_is_retried_with_range_in_the_same_run(api, tmp_path):
    source = random_file(tmp_path / "notes.txt", 3 * MiB + 17)  # relayed through the function
    link = send_file(source, SendOptions(api.url, show_progress=False, state_dir=tmp_path / "state"))
    session = CuttingSession(budget=MiB + 99, failure=requests.ConnectionError("connection reset"))
    (tmp_path / "in").mkdir()
    saved = receive_link(str(link), ReceiveOptions(output=tmp_path / "in", show_progress=False), session)
    assert saved == tmp_path / "in" / "notes.txt" and digest(saved) == digest(source)
    assert session.ranges == [None, f"bytes={MiB + 99}-"]  # continued where the bytes stopped


def test_tampered_ciphertext_is_refused_and_nothing_is_saved(api, tmp_path):
    source = random_file(tmp_path / "contract.pdf", 200_000)
    link = send_file(source, SendOptions(api.url, show_progress=False, state_dir=tmp_path / "state"))
    key = api.ciphertext_key(parse_link(str(link)).transfer_id)
    stored = bytearray(api.s3.get_object(Bucket="client-tests", Key=key)["Body"].read())
    stored[100_000] ^= 0x01
    api.s3.put_object(Bucket="client-tests", Key=key, Body=bytes(stored))
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("receive", str(link), "-o", str(out))
    assert result.returncode == IntegrityError.exit_status, result.stderr
    assert "altered or damaged" in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []


def test_links_that_are_wrong_say_so(api, tmp_path):
    source = random_file(tmp_path / "a.txt", 1000)
    link = parse_link(str(send_file(source, SendOptions(api.url, show_progress=False, state_dir=tmp_path / "s"))))
    other_secret = str(link).rsplit(".", 1)[0] + "." + "A" * 22
    cases = [
        (other_secret, 4, "wrong or damaged link"),
        (str(link).split("#")[0], 2, "not a share link"),
        (str(link).replace(link.download_token, "x" * 43), 3, "token is wrong"),
        (str(link).replace(api.url, "http://127.0.0.1:9"), 1, "failed after"),
    ]
    for text, status, message in cases:
        result = run_cli("receive", text, "-o", str(tmp_path / "never"))
        assert (result.returncode, message in result.stderr) == (status, True), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "never").exists()


def test_download_limit_and_existing_file(api, tmp_path):
    source = random_file(tmp_path / "once.bin", 5000)
    link = str(send_file(source, SendOptions(api.url, max_downloads=1, show_progress=False, state_dir=tmp_path / "s")))
    first = run_cli("receive", link, "-o", str(tmp_path / "one.bin"))
    assert first.returncode == 0 and digest(tmp_path / "one.bin") == digest(source)
    exists = run_cli("receive", link, "-o", str(tmp_path / "one.bin"))
    assert exists.returncode == 2 and "already exists" in exists.stderr
    nowhere = run_cli("receive", link, "-o", str(tmp_path / "missing-dir" / "x.bin"))
    assert nowhere.returncode == 2 and "Traceback" not in nowhere.stderr
    assert (
        nowhere.stderr.strip()
        == f"error: cannot save to {tmp_path}/missing-dir/x.bin: {tmp_path}/missing-dir is not a directory"
    )
    second = run_cli("receive", link, "-o", str(tmp_path / "two.bin"))
    assert second.returncode == UnavailableError.exit_status and "download limit" in second.stderr


class AnswerLostOnce(requests.Session):
    """The first PUT reaches storage, then its answer is lost, as on a connection cut after the body."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, url, **kwargs):
        self.puts += 1
        response = super().put(url, **kwargs)
        if self.puts == 1:
            response.close()
            raise requests.ConnectionError("connection reset before the answer")
        return response


def test_a_single_upload_whose_answer_was_lost_is_not_failed_by_its_retry(api):
    from client.api import RetryPolicy, TransferApi
    from client.progress import Progress
    from client.send import put_presigned

    data = random.randbytes(5000)
    created = requests.post(f"{api.url}/transfers", json={"size": len(data)}, timeout=30).json()
    upload, session = created["upload"], AnswerLostOnce()
    client = TransferApi(api.url, retry=RetryPolicy(sleep=lambda seconds: None))
    with Progress(len(data), "Uploading", show=False) as progress:
        put_presigned(session, client, upload["url"], upload["headers"], data, progress)  # 412 on the retry
    assert session.puts == 2
    owner = {"authorization": f"Bearer {created['owner_token']}"}
    done = requests.post(f"{api.url}/transfers/{created['id']}/complete", headers=owner, timeout=30)
    assert done.status_code == 200 and done.json()["state"] == "ready"


class WatchingSession(requests.Session):
    """Sets `following` once the client has opened the transfer's event stream."""

    def __init__(self) -> None:
        super().__init__()
        self.following = threading.Event()

    def send(self, request, **kwargs):
        if request.url.endswith("/events"):
            self.following.set()
        return super().send(request, **kwargs)


def test_receiver_waits_for_a_running_upload(api, tmp_path):
    """The link works from creation: a receiver who starts early follows the live events until ready."""
    source = random_file(tmp_path / "early.bin", 12 * MiB)
    options = SendOptions(api.url, parallel=1, show_progress=False, state_dir=tmp_path / "state")
    with pytest.raises(Interrupted):
        send_file(source, options, InterruptingSession(interrupt_at_part=2))  # the upload is pending
    state = json.loads(next((tmp_path / "state").glob("send-*.json")).read_text())
    link = ShareLink(api.url, state["transfer_id"], state["download_token"], unb64url(state["secret"]))
    pending = run_cli("receive", str(link), "--no-wait", "-o", str(tmp_path / "x"))
    assert pending.returncode == 3 and "not finished uploading" in pending.stderr
    watching, result = WatchingSession(), {}

    def receive() -> None:
        try:
            result["path"] = receive_link(
                str(link), ReceiveOptions(tmp_path / "early.out", show_progress=False), watching
            )
        except BaseException as exc:
            result["error"] = exc

    receiver = threading.Thread(target=receive)
    receiver.start()
    assert watching.following.wait(60)  # the receiver is waiting on the live stream now
    send_file(source, SendOptions(api.url, resume=True, show_progress=False, state_dir=tmp_path / "state"))
    receiver.join(120)
    assert "error" not in result, result
    assert digest(tmp_path / "early.out") == digest(source)
