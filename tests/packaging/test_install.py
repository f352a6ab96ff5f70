"""The runtime as other people get it: `pip install` of this repository into a fresh virtual
environment, then their own project tests their own streaming handler with the pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from runtime.emulator.config import PROJECT_ROOT

USER_HANDLER = """
from runtime import streaming


@streaming
async def handler(event, response, context):
    response.start(200, {"content-type": "text/plain"})
    for word in ("installed", "and", "streaming"):
        await response.write(word + "\\n")
"""

USER_TEST = """
import requests

pytest_plugins = ["runtime.emulator.pytest_plugin"]


def test_my_handler_streams(lambda_emulator):
    emulator = lambda_emulator("app.handler", task_root="src")
    with requests.get(emulator.url, stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert list(response.iter_lines()) == [b"installed", b"and", b"streaming"]
"""


def clean_environment() -> dict[str, str]:
    """The user's shell: no PYTHONPATH, no virtual environment of ours."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=clean_environment(), capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh environment with the repository installed (and the user's own test tools)."""
    home = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        run([*pip, str(PROJECT_ROOT)])
        pins = [line for line in (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines() if "==" in line]
        wanted = [pin.split()[0] for pin in pins if pin.startswith(("pytest==", "requests==", "pytest-timeout=="))]
        run([*pip, *wanted])
    except AssertionError as exc:
        if "No matching distribution" in str(exc) or "Could not find" in str(exc):
            pytest.skip(f"the package index is not reachable: {str(exc)[-300:]}")
        raise
    return python


def test_the_install_holds_the_runtime_and_the_emulator_only(installed):
    probe = run(
        [
            str(installed),
            "-c",
            "import importlib.util as u, runtime, runtime.emulator; "
            "print(runtime.__file__); print(u.find_spec('handlers'), u.find_spec('bench'), u.find_spec('client'))",
        ],
        cwd=installed.parent,
    )
    location, missing = probe.stdout.splitlines()
    assert "site-packages" in location and missing == "None None None"
    help_text = run([str(installed.parent / "lambda-emulator"), "--help"]).stdout
    assert "--template" in help_text and "--handler" in help_text


def test_a_users_project_tests_its_streaming_handler_with_the_plugin(installed, tmp_path):
    project = tmp_path / "someone-elses-project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(textwrap.dedent(USER_HANDLER))
    (project / "test_app.py").write_text(textwrap.dedent(USER_TEST))
    result = run([str(installed), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"], cwd=project)
    assert "1 passed" in result.stdout


def test_the_source_tree_is_not_what_the_user_imports(installed, tmp_path):
    # Guards the test above: it must not pass by reaching into this checkout.
    result = run([str(installed), "-c", "import sys; print(sys.path)"], cwd=tmp_path)
    assert str(PROJECT_ROOT) not in result.stdout
    assert sys.prefix not in result.stdout
