"""Cold start as Lambda pays it: no bytecode cache to lean on, a clean interpreter, a read-only task.

Both runtimes start with the same interpreter binary, from a virtual environment without
site-packages (so no `.pth` file or user site costs either of them anything), with
PYTHONDONTWRITEBYTECODE=1 and read-only code directories, as on Lambda where /var/task and /opt
cannot be written. AWS's `awslambdaric` is installed by pip, which precompiles it, as AWS ships
it; ours runs from the artifacts `build.sh` writes, built for this interpreter, once with the
bytecode build.sh ships and once with sources only (what Lambda compiles at every cold start).
Each round spawns the runtime against a scripted Runtime API and times process start -> first
`/next` and -> first answered invocation; rounds alternate, and the table shows medians.

The same for the transfer API's first request (boto3 imported and its S3 client built, a manifest
written to S3) against a minimal boto3 handler on awslambdaric writing one object, and the floor:
the interpreter starting and exiting with nothing to do.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

from bench.common import median, print_table, project_path
from runtime import wire

ROUNDS = 11
# Both runtimes start through a /bin/sh bootstrap that execs the interpreter, as on Lambda (AWS's
# managed runtime runs /var/runtime/bootstrap; a function with our layer runs /opt/bootstrap).
RIC_BOOTSTRAP = str(project_path("tests", "foreign", "awslambdaric_bootstrap"))
RIC_PIN = "awslambdaric==4.2.2"
BOTO3_HANDLER = """import boto3

s3 = boto3.client("s3")


def handler(event, context):
    s3.put_object(Bucket="bench-cold", Key="cold-start", Body=b"x")
    return {"ok": True}
"""
NOOP_HANDLER = "def handler(event, context):\n    return None\n"


def read_only(root: Path) -> Path:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return root


def unpack(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            extracted = Path(zipped.extract(member, target))
            extracted.chmod((member.external_attr >> 16) & 0o777 or 0o644)
    return target


class Workbench:
    """Everything the rounds start from, built once in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = self._clean_interpreter()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        self.ours_compiled = self._build("compiled", version, bytecode="1")
        self.ours_sources = self._build("sources", version, bytecode="0")
        self.ric = self._pip_target("ric", [RIC_PIN, *self._sdk_pins()])
        self.noop_task = self._task("noop", NOOP_HANDLER)
        self.boto3_task = self._task("boto3", BOTO3_HANDLER)

    def _clean_interpreter(self) -> str:
        home = self.root / "clean-venv"
        venv.create(home, with_pip=False, system_site_packages=False)
        return str(home / "bin" / "python")

    def _build(self, name: str, version: str, bytecode: str) -> dict[str, Path]:
        out = self.root / name
        out.mkdir()
        environ = {
            **os.environ,
            "LAMBDA_PYTHON": version,
            "LAMBDA_PYTHON_BIN": sys._base_executable,  # this interpreter: the one the rounds run
            "ARCH": "arm64" if os.uname().machine == "aarch64" else "x86_64",
            "BYTECODE": bytecode,
            "OUT": str(out / "function.zip"),
            "LAYER_OUT": str(out / "layer.zip"),
            "PYTHON": sys.executable,
        }
        subprocess.run([str(project_path("build.sh"))], env=environ, check=True, capture_output=True)
        return {
            "function": read_only(unpack(out / "function.zip", out / "task")),
            "layer": read_only(unpack(out / "layer.zip", out / "opt")),
        }

    def _sdk_pins(self) -> list[str]:
        return [line.split()[0] for line in project_path("requirements.txt").read_text().splitlines() if "==" in line]

    def _pip_target(self, name: str, requirements: list[str]) -> Path:
        target = self.root / name
        pip = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
        ]
        subprocess.run([*pip, *requirements], check=True, capture_output=True)  # pip compiles the .pyc, as AWS ships
        return read_only(target)

    def _task(self, name: str, source: str) -> Path:
        task = self.root / f"task-{name}"
        task.mkdir()
        (task / "app.py").write_text(source)
        return read_only(task)


def base_environment(api: str, handler: str, task: Path, python: str) -> dict[str, str]:
    return {
        "LAMBDA_RUNTIME_PYTHON": python,
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "cold",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def answered(listener: socket.socket, start: float, event: bytes) -> tuple[float, float]:
    """Serve one invocation on `listener`; (ms to the first /next, ms to its answer)."""
    connection, _ = listener.accept()
    parser = wire.RequestParser()
    times: list[float] = []
    body = b""
    with connection:
        while len(times) < 2:
            events = parser.feed(connection.recv(65536))
            while True:
                for item in events:
                    if isinstance(item, wire.RequestStarted):
                        target, body = item.head.target, b""
                    elif isinstance(item, wire.Data):
                        body += bytes(item.data)
                    elif isinstance(item, wire.EndOfBody):
                        times.append((time.perf_counter() - start) * 1000)
                        if target.endswith("/next"):
                            connection.sendall(next_answer(event))
                        else:
                            if "/error" in target:
                                raise RuntimeError(f"the handler failed: {body[:1000]!r}")
                            connection.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                if not parser.done:
                    break
                events = parser.start_next()
    return times[0], times[1]


def next_answer(event: bytes) -> bytes:
    fields = [
        ("Lambda-Runtime-Aws-Request-Id", "cold-start"),
        ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
        ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:cold"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(event))),
    ]
    return wire.encode_response_head(200, "OK", fields) + event


def one_round(command: list[str], environ: dict[str, str], event: bytes) -> tuple[float, float]:
    listener = socket.create_server(("127.0.0.1", 0))
    environ = {**environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}"}
    cwd = environ["LAMBDA_TASK_ROOT"]  # as on Lambda, where the working directory is /var/task
    start = time.perf_counter()
    process = subprocess.Popen(command, env=environ, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return answered(listener, start, event)
    except Exception as exc:
        process.kill()
        raise RuntimeError(f"{command[0]} failed ({exc!r}): {process.communicate()[1][-2000:]!r}") from None
    finally:
        process.kill()
        process.wait()
        listener.close()


def interpreter_floor(python: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True, env={"PYTHONDONTWRITEBYTECODE": "1"}, cwd="/")
    return (time.perf_counter() - start) * 1000


def transfer_event() -> bytes:
    request = {"size": 10}
    return json.dumps(
        {
            "version": "2.0",
            "rawPath": "/transfers",
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/transfers"}, "requestId": "cold"},
            "body": json.dumps(request),
            "isBase64Encoded": False,
        }
    ).encode()


def main() -> None:
    from runtime.emulator.embedded_s3 import embedded_s3

    root = Path(tempfile.mkdtemp(prefix="cold-start-"))
    try:
        bench = Workbench(root)
        with embedded_s3(["bench-cold"], "us-east-1") as s3:
            measure(bench, s3)
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(root)


def measure(bench: Workbench, s3: dict[str, str]) -> None:
    noop = {
        "awslambdaric": (
            [RIC_BOOTSTRAP],
            {
                **base_environment("", "app.handler", bench.noop_task, bench.python),
                "PYTHONPATH": f"{bench.ric}:{bench.noop_task}",
            },
        ),
        "ours, sources only": (
            [str(bench.ours_sources["layer"] / "bootstrap"), bench.python],
            base_environment("", "app.handler", bench.noop_task, bench.python),
        ),
        "ours, shipped bytecode": (
            [str(bench.ours_compiled["layer"] / "bootstrap"), bench.python],
            base_environment("", "app.handler", bench.noop_task, bench.python),
        ),
    }
    transfer_env = {**s3, "TRANSFER_BUCKET": "bench-cold"}
    first_request = {
        "awslambdaric + a minimal boto3 handler": (
            [RIC_BOOTSTRAP],
            {
                **base_environment("", "app.handler", bench.boto3_task, bench.python),
                "PYTHONPATH": f"{bench.ric}:{bench.boto3_task}",  # as AWS's bootstrap puts /var/task on the path
                **transfer_env,
            },
        ),
        "ours + the transfer API, shipped bytecode": (
            [str(bench.ours_compiled["function"] / "bootstrap"), bench.python],
            {
                **base_environment("", "handlers.app.handler", bench.ours_compiled["function"], bench.python),
                **transfer_env,
            },
        ),
        "ours + the transfer API, sources only": (
            [str(bench.ours_sources["function"] / "bootstrap"), bench.python],
            {
                **base_environment("", "handlers.app.handler", bench.ours_sources["function"], bench.python),
                **transfer_env,
            },
        ),
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in [*noop, *first_request]}
    floors = []
    for _ in range(ROUNDS):  # alternating, so drift in machine load hits every variant alike
        floors.append(interpreter_floor(bench.python))
        for name, (command, environ) in noop.items():
            samples[name].append(one_round(command, environ, b"{}"))
        for name, (command, environ) in first_request.items():
            samples[name].append(one_round(command, environ, transfer_event()))
    floor = median(floors)
    print_table(
        f"Lambda-faithful cold start, no-op handler (median of {ROUNDS} alternating rounds, ms)",
        ["runtime", "start -> first /next", "start -> answered", "answered vs awslambdaric"],
        rows(samples, list(noop), floor),
    )
    print_table(
        f"Cold start to the first answered request with boto3 (median of {ROUNDS}, ms)",
        ["function", "start -> first /next", "start -> answered", "answered vs awslambdaric"],
        rows(samples, list(first_request), None),
    )


def rows(samples: dict[str, list[tuple[float, float]]], names: list[str], floor: float | None) -> list[list[str]]:
    baseline = median([answered for _, answered in samples[names[0]]])
    table = []
    for name in names:
        first_next = median([first for first, _ in samples[name]])
        done = median([answered for _, answered in samples[name]])
        table.append([name, f"{first_next:.1f}", f"{done:.1f}", f"{done / baseline:.2f}"])
    if floor is not None:
        table.append(
            ["the interpreter alone (floor: start, `pass`, exit)", "-", f"{floor:.1f}", f"{floor / baseline:.2f}"]
        )
    return table
