"""The emulator's settings in one frozen value, with AWS's limits as defaults (Part A §11)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOOTSTRAP = str(PROJECT_ROOT / "bootstrap")


@dataclass(frozen=True)
class EmulatorConfig:
    task_root: str = str(PROJECT_ROOT)
    handler: str = "handlers.app.handler"
    mode: str = "stream"  # "stream" (RESPONSE_STREAM) or "buffered" (BUFFERED)
    host: str = "127.0.0.1"
    port: int = 9000
    timeout: float = 30.0
    concurrency: int = 10
    aws_throttle: bool = False
    bootstrap: str = DEFAULT_BOOTSTRAP
    function_name: str = "local-function"
    memory_mb: int = 1024
    region: str = "us-east-1"
    max_request_bytes: int = 6 * MB
    max_buffered_response_bytes: int = 6 * MB
    max_streamed_response_bytes: int = 200 * MB
    throttle_burst_bytes: int = 6 * MB
    throttle_rate_bytes: int = 2 * MB
    environment: dict[str, str] = field(default_factory=dict)  # extra variables for the function
    access_log: bool = True  # one line per request on stdout; benchmarks turn it off

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}"

    def function_environ(self, runtime_api: str, log_stream: str) -> dict[str, str]:
        """The environment Lambda gives a runtime process (Part B §6), plus our extras."""
        environ = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "_HANDLER": self.handler,
            "LAMBDA_TASK_ROOT": self.task_root,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "LAMBDA_RUNTIME_PYTHON": sys.executable,
        }
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HOME"):
            if name in os.environ:
                environ[name] = os.environ[name]  # Lambda hands the function its role's credentials
        environ.update(self.environment)
        return environ
