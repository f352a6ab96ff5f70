"""The deployable artifact and template, checked without AWS: lint, contents, reproducibility,
and the unpacked zip serving requests under the emulator with nothing else on its path."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from runtime.emulator.config import PROJECT_ROOT
from runtime.emulator.pytest_plugin import start_emulator

THIRD_PARTY = ("boto3/", "botocore/", "s3transfer/", "jmespath/", "dateutil/", "urllib3/", "six.py")


def build(out: Path) -> Path:
    subprocess.run(
        [str(PROJECT_ROOT / "build.sh")],
        env={**os.environ, "OUT": str(out), "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("build") / "function.zip")


def test_template_passes_cfn_lint():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(PROJECT_ROOT / "template.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip_holds_only_the_allowed_set(artifact):
    names = zipfile.ZipFile(artifact).namelist()
    assert "bootstrap" in names and "handlers/app.py" in names and "runtime/main.py" in names
    assert "client/web/send.html" in names and "client/web/format.js" in names
    for name in names:
        allowed = (
            name == "bootstrap"
            or (name.startswith(("runtime/", "handlers/")) and name.endswith(".py"))
            or (name.startswith("client/web/") and name.endswith((".html", ".css", ".js")))
            or name.startswith(THIRD_PARTY)
            or (name.split("/")[0].endswith(".dist-info") and name.count("/") >= 1)
        )
        assert allowed, f"unexpected entry {name}"
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pyo")), name
    assert not any(name.startswith(("runtime/emulator", "tests/", "bench/")) for name in names)


def test_bootstrap_keeps_its_run_bit(artifact):
    info = zipfile.ZipFile(artifact).getinfo("bootstrap")
    assert (info.external_attr >> 16) & 0o111


def test_two_builds_are_byte_identical(artifact, tmp_path):
    again = build(tmp_path / "again.zip")
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(artifact.read_bytes()).digest()


def test_unpacked_artifact_serves_under_the_emulator(artifact, tmp_path):
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact) as archive:
        archive.extractall(task)
    (task / "bootstrap").chmod(0o755)
    isolated = tmp_path / "python-without-site"  # the standard library and the zip, nothing else
    isolated.write_text(f'#!/bin/sh\nexec "{sys._base_executable}" -S "$@"\n')
    isolated.chmod(0o755)
    emulator = start_emulator(
        "handlers.app.handler",
        "--bucket",
        "local-transfers",
        "--env",
        "TRANSFER_BUCKET=local-transfers",
        "--bootstrap",
        str(task / "bootstrap"),
        "--env",
        f"LAMBDA_RUNTIME_PYTHON={isolated}",
        task_root=task,
    )
    try:
        assert requests.get(emulator.url + "health", timeout=60).json() == {"status": "ok"}
        created = requests.post(emulator.url + "transfers", json={"size": 10}, timeout=60)
        assert created.status_code == 201 and created.headers["transfer-encoding"] == "chunked"
        page = requests.get(emulator.url, timeout=60)  # the web client's files, found inside the zip
        assert page.status_code == 200 and "TransferFormat" in page.text
    finally:
        emulator.stop()
