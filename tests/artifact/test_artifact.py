"""The deployable artifacts and the template, checked without AWS: lint, contents, bytecode,
reproducibility, the unpacked function zip serving requests under the emulator with nothing else
on its path, and the layer serving someone else's handler as Lambda runs an exec wrapper."""

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


LAMBDA_PYTHON_TAG = "cpython-313"


def build(directory: Path) -> tuple[Path, Path]:
    """(function zip, layer zip) built into `directory`."""
    function, layer = directory / "function.zip", directory / "runtime-layer.zip"
    subprocess.run(
        [str(PROJECT_ROOT / "build.sh")],
        env={**os.environ, "OUT": str(function), "LAYER_OUT": str(layer), "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return function, layer


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def artifact(built) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def layer(built) -> Path:
    return built[1]


def is_shipped_bytecode(name: str) -> bool:
    """Bytecode for Lambda's Python, next to its source, as the interpreter looks for it."""
    folder, _, file = name.rpartition("/")
    return folder.endswith("__pycache__") and file.endswith(f".{LAMBDA_PYTHON_TAG}.pyc")


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
        assert allowed or is_shipped_bytecode(name), f"unexpected entry {name}"
        assert not name.endswith(".pyc") or is_shipped_bytecode(name), name
    assert not any(name.startswith(("runtime/emulator", "tests/", "bench/")) for name in names)


@pytest.mark.parametrize("which", ["artifact", "layer"])
def test_shipped_bytecode_is_unchecked_hash_based_for_lambdas_python(request, which):
    archive = zipfile.ZipFile(request.getfixturevalue(which))
    compiled = [name for name in archive.namelist() if name.endswith(".pyc")]
    if not compiled:
        pytest.skip("this machine has no python3.13, so build.sh shipped sources only (it says so)")
    sources = {name for name in archive.namelist() if name.endswith(".py")}
    for name in compiled:
        header = archive.read(name)[:16]
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{name} is not an unchecked hash-based .pyc"
        folder, _, file = name.rpartition("/")
        source = folder.removesuffix("__pycache__") + file.split(".")[0] + ".py"
        assert source in sources, f"{name} has no source beside it"
    assert any(name.startswith("runtime/__pycache__/") for name in compiled)


def test_layer_holds_the_bootstrap_and_the_runtime_only(layer):
    names = zipfile.ZipFile(layer).namelist()
    assert "bootstrap" in names and "runtime/__init__.py" in names and "runtime/asgi.py" in names
    for name in names:
        assert (
            name == "bootstrap" or (name.startswith("runtime/") and name.endswith(".py")) or (is_shipped_bytecode(name))
        ), name
        assert not name.startswith("runtime/emulator"), name
    assert (zipfile.ZipFile(layer).getinfo("bootstrap").external_attr >> 16) & 0o111


def test_bootstrap_keeps_its_run_bit(artifact):
    info = zipfile.ZipFile(artifact).getinfo("bootstrap")
    assert (info.external_attr >> 16) & 0o111


def test_two_builds_are_byte_identical(built, tmp_path):
    for first, again in zip(built, build(tmp_path), strict=True):
        assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(first.read_bytes()).digest()


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


SOMEONE_ELSES_APP = """
import runtime
from runtime import streaming

import greeting  # from a dependency layer's python/ directory, as AWS's layers lay packages out


@streaming
def handler(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    response.write(greeting.WORDS + "\\n")
    response.write(runtime.__file__ + "\\n")
"""

LAYER_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  StreamingRuntime:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: {layer}
      CompatibleRuntimes: [python3.12, python3.13]
  Dependencies:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: deps/
  App:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: main.handler
      Runtime: python3.13
      Layers: [!Ref Dependencies, !Ref StreamingRuntime]
      Environment:
        Variables:
          AWS_LAMBDA_EXEC_WRAPPER: /opt/bootstrap
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: RESPONSE_STREAM
"""


def test_the_layer_makes_someone_elses_managed_python_function_stream(layer, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(SOMEONE_ELSES_APP)
    (tmp_path / "deps" / "python").mkdir(parents=True)
    (tmp_path / "deps" / "python" / "greeting.py").write_text('WORDS = "streamed by the layer"\n')
    (tmp_path / "template.yaml").write_text(LAYER_TEMPLATE.format(layer=layer))
    emulator = start_emulator(template=tmp_path / "template.yaml")
    try:
        with requests.get(emulator.url, stream=True, timeout=60) as response:
            assert response.status_code == 200
            lines = list(response.iter_lines())
    finally:
        emulator.stop()
    assert lines[0] == b"streamed by the layer"
    runtime_file = Path(lines[1].decode())
    assert runtime_file.parts[-2:] == ("runtime", "__init__.py")
    assert runtime_file.parent.parent.name.startswith("opt-")  # from the merged layers, standing for /opt
    assert PROJECT_ROOT not in runtime_file.parents
