"""The emulator's settings as frozen values: one `FunctionConfig` per function, one `EmulatorConfig`.

Defaults are AWS's (limits, 3 s timeout and 128 MB for functions read from a template); the
command line's single-function mode keeps friendlier local defaults (30 s, 1024 MB).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parents[2]
STREAM = "RESPONSE_STREAM"
BUFFERED = "BUFFERED"
INVOKE_MODES = (STREAM, BUFFERED)
ACCOUNT_ID = "000000000000"
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


RUNTIME_BOOTSTRAP = Path(__file__).resolve().parents[1] / "bootstrap"  # runtime/bootstrap, in the package


def default_bootstrap() -> tuple[str, ...]:
    """The runtime's own `bootstrap` script, from the `runtime` package (a checkout or an install).

    Run through /bin/sh when an installer dropped its executable bit.
    """
    if os.access(RUNTIME_BOOTSTRAP, os.X_OK):
        return (str(RUNTIME_BOOTSTRAP),)
    return ("/bin/sh", str(RUNTIME_BOOTSTRAP))


@dataclass(frozen=True)
class FunctionConfig:
    """One function as Lambda would run it."""

    name: str  # 1-64 letters, digits, hyphens and underscores, as Lambda's FunctionName
    handler: str
    code_dir: str
    invoke_mode: str = STREAM  # its Function URL's InvokeMode
    runtime: str = "python3.13"
    architecture: str = "x86_64"
    memory_mb: int = 1024
    timeout: float = 30.0
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own variables
    bootstrap: str | None = None  # None: chosen from the runtime (see environment.py)
    bootstrap_args: tuple[str, ...] = ()
    concurrency: int = 10  # environments at most; beyond that, 429
    per_environment_concurrency: int = 1  # Lambda Managed Instances: invocations per environment
    logical_id: str | None = None  # its resource id in a SAM template
    layers_dir: str | None = None  # its layers merged, standing for /opt

    def __post_init__(self) -> None:
        if not FUNCTION_NAME.fullmatch(self.name):
            raise ValueError(f"function name {self.name[:80]!r} is not 1-64 letters, digits, hyphens or underscores")
        if self.invoke_mode not in INVOKE_MODES:
            raise ValueError(f"{self.name}: InvokeMode must be one of {', '.join(INVOKE_MODES)}")
        if self.timeout <= 0 or self.concurrency < 1 or self.per_environment_concurrency < 1:
            raise ValueError(f"{self.name}: timeout must be positive and concurrencies at least 1")

    @property
    def label(self) -> str:
        return self.logical_id or self.name

    def arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"


@dataclass(frozen=True)
class EmulatorConfig:
    functions: tuple[FunctionConfig, ...]
    host: str = "127.0.0.1"
    port: int = 9000  # the first port; 0 picks free ports for every server
    region: str = "us-east-1"
    buckets: tuple[str, ...] = ()  # created in the embedded S3
    embedded_s3: bool = False  # start an embedded S3 even without buckets
    aws_throttle: bool = False
    watch: bool = False  # replace environments when a function's code changes
    max_request_bytes: int = 6 * MB
    max_buffered_response_bytes: int = 6 * MB
    max_streamed_response_bytes: int = 200 * MB
    throttle_burst_bytes: int = 6 * MB
    throttle_rate_bytes: int = 2 * MB
    idle_timeout: float = 60.0
    head_timeout: float = 10.0
    access_log: bool = True  # one line per request on stdout; benchmarks turn it off

    def __post_init__(self) -> None:
        if not self.functions:
            raise ValueError("no function to serve")
        seen: dict[str, str] = {}
        for function in self.functions:
            for key in {function.name, function.label}:
                if seen.setdefault(key, function.label) != function.label:
                    raise ValueError(f"two functions answer to the name {key!r}")

    @property
    def serves_s3(self) -> bool:
        return self.embedded_s3 or bool(self.buckets)


def function_environ(
    function: FunctionConfig, region: str, runtime_api: str, log_stream: str, extra: Mapping[str, str]
) -> dict[str, str]:
    """The environment Lambda gives a runtime process, then `extra` (S3 endpoint, credentials),
    then the function's own variables.

    See "Defined runtime environment variables":
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    """
    environ = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "_HANDLER": function.handler,
        "LAMBDA_TASK_ROOT": function.code_dir,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_RUNTIME_PYTHON": sys.executable,
    }
    if function.per_environment_concurrency > 1:
        environ["AWS_LAMBDA_MAX_CONCURRENCY"] = str(function.per_environment_concurrency)
    if function.layers_dir:  # where Python finds a layer's packages (/opt/python...), as on AWS
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        layer_paths = [f"{function.layers_dir}/python/lib/{version}/site-packages", f"{function.layers_dir}/python"]
        environ["PYTHONPATH"] = os.pathsep.join(path for path in layer_paths if os.path.isdir(path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HOME"):
        if name in os.environ:
            environ[name] = os.environ[name]  # Lambda hands the function its role's credentials
    environ.update(extra)
    environ.update(function.environment)
    return environ


class UnsupportedFunction(ValueError):
    """A function the emulator cannot run locally; the message names it and says why."""


def bootstrap_command(function: FunctionConfig) -> tuple[str, ...]:
    """What an environment of `function` runs, as Lambda would for its runtime.

    - an explicit bootstrap (`--bootstrap`): that;
    - `provided.*`: the `bootstrap` executable at the root of the function's code, else of its layers;
    - `python3.*`: the function's own `AWS_LAMBDA_EXEC_WRAPPER` when it points into its code
      (`/var/task/...`) or its layers (`/opt/...`, with the layers in the template), called with
      the interpreter as Lambda calls a wrapper; otherwise this project's runtime.
    """
    if function.bootstrap:
        return (function.bootstrap, *function.bootstrap_args)
    if function.runtime.startswith("provided"):
        for path in (_local_path(function, "/var/task/bootstrap"), _local_path(function, "/opt/bootstrap")):
            if path is not None and os.access(path, os.X_OK):
                return (str(path),)
        raise UnsupportedFunction(f"{function.label}: runtime {function.runtime} needs an executable bootstrap")
    if not function.runtime.startswith("python3"):
        raise UnsupportedFunction(
            f"{function.label}: runtime {function.runtime!r} is not supported locally (python3.x and provided.*)"
        )
    wrapper = _local_path(function, function.environment.get("AWS_LAMBDA_EXEC_WRAPPER", ""))
    if wrapper is not None and os.access(wrapper, os.X_OK):
        return (str(wrapper), sys.executable)
    return default_bootstrap()


def _local_path(function: FunctionConfig, lambda_path: str) -> Path | None:
    """Where a path inside Lambda's sandbox (/var/task/..., /opt/...) is on this machine."""
    if lambda_path.startswith("/var/task/"):
        return Path(function.code_dir) / lambda_path.removeprefix("/var/task/")
    if lambda_path.startswith("/opt/") and function.layers_dir:
        return Path(function.layers_dir) / lambda_path.removeprefix("/opt/")
    return None
