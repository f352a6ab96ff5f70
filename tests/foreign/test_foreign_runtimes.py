"""Runtimes no one on this team wrote, served by our emulator: AWS's Python and Node.js clients."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent


def test_awslambdaric_buffered_handler(lambda_emulator):
    if importlib.util.find_spec("awslambdaric") is None:
        pytest.skip("awslambdaric is not installed (pip install -r requirements-dev.txt)")
    emulator = lambda_emulator(
        "tests.handlers.samples.echo", "--bootstrap", str(HERE / "awslambdaric_bootstrap"), "--mode", "buffered"
    )
    response = requests.get(f"{emulator.url}hello?x=1", timeout=60)
    assert response.status_code == 200
    body = response.json()
    assert body["event"]["rawPath"] == "/hello" and body["event"]["queryStringParameters"] == {"x": "1"}
    assert body["function_name"] == "local-function"


def test_awslambdaric_error_is_a_502(lambda_emulator):
    if importlib.util.find_spec("awslambdaric") is None:
        pytest.skip("awslambdaric is not installed (pip install -r requirements-dev.txt)")
    emulator = lambda_emulator("tests.handlers.samples.raises", "--bootstrap", str(HERE / "awslambdaric_bootstrap"))
    assert requests.get(emulator.url, timeout=60).status_code == 502
    assert "buffered failure" in emulator.wait_for_log("502")


@pytest.fixture(scope="module")
def node_ric() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        ["bash", str(HERE / "install_node_ric.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"aws-lambda-ric@3.3.0 did not install: {(result.stdout + result.stderr).strip()[-300:]}")


def test_node_streamify_response_through_the_front_door(node_ric, lambda_emulator):
    emulator = lambda_emulator(
        "index.handler", "--bootstrap", str(HERE / "node_bootstrap"), "--task-root", str(HERE / "node_task")
    )
    with requests.get(emulator.url, stream=True, timeout=60) as response:
        assert response.status_code == 202
        assert response.headers["x-runtime"] == "node"
        assert response.headers["set-cookie"] == "n=1"
        pieces = list(response.iter_lines())
    assert pieces == [b"node-0", b"node-1", b"node-2"]


def test_node_handler_that_throws_before_writing_is_a_502(node_ric, lambda_emulator):
    emulator = lambda_emulator(
        "throws.handler", "--bootstrap", str(HERE / "node_bootstrap"), "--task-root", str(HERE / "node_task")
    )
    response = requests.get(emulator.url, timeout=60)
    assert response.status_code == 502 and response.json() == {"Message": "Internal Server Error"}
    assert "thrown before the first write" in emulator.wait_for_log("GET / 502")
    assert requests.get(emulator.url, timeout=60).status_code == 502  # and again: the environment lives on
    assert not [line for line in emulator.logs if "exited" in line]
