"""Mistakes on the emulator's command line end in one line on stderr, never a traceback or a
server that starts and then fails every request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.emulator.pytest_plugin import PACKAGE_ROOT

TEMPLATE_WITH_A_BUCKET = """Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python3.13
"""


def run_emulator(*args: str, cwd: Path, pythonpath: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (*pythonpath, PACKAGE_ROOT)))}
    command = [sys.executable, "-m", "runtime.emulator", "--port", "0", *args]
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--handler", "app.handler", "--task-root", "nowhere"), "--task-root 'nowhere' is not a directory"),
        (
            ("--template", "template.yaml", "--handler", "app.handler"),
            "--template and --handler are alternatives: serve a template, or one handler",
        ),
    ],
)
def test_contradictory_or_missing_sources_are_refused_at_start(tmp_path, args, message):
    (tmp_path / "template.yaml").write_text(TEMPLATE_WITH_A_BUCKET)
    finished = run_emulator(*args, cwd=tmp_path)
    assert finished.returncode == 2
    assert finished.stderr == f"emulator: {message}\n"


def test_a_template_with_a_bucket_names_the_missing_embedded_s3_and_the_way_out(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE_WITH_A_BUCKET)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    shadow = tmp_path / "shadow" / "moto"  # moto as if it were not installed
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'moto'\")\n")
    finished = run_emulator(cwd=tmp_path, pythonpath=(shadow.parent,))
    assert finished.returncode == 1 and "Traceback" not in finished.stderr
    assert "needs moto[server]" in finished.stderr and "--no-s3" in finished.stderr
