"""The runtime's own log lines, and the stdlib `logging` set-up handlers expect on Lambda.

With AWS_LAMBDA_LOG_FORMAT=JSON each line is one JSON object with `timestamp`, `level`, `message`
and `requestId`, as Lambda's advanced logging controls define; otherwise the tab-separated text
form of AWS's Python runtime. Lines go to stderr unbuffered, so nothing is lost if the process dies.
The request id lives in a context variable, so that tasks an async handler starts (which copy the
context) log with the id of the invocation that started them.
"""

from __future__ import annotations

import contextvars
import os
import sys
import time

from runtime import json_codec

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping
    from typing import TextIO

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _timestamp(seconds: float) -> str:
    whole = time.gmtime(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", whole) + f".{int(seconds % 1 * 1000):03d}Z"


def format_line(level: str, message: str, request_id: str | None, json_format: bool, now: float) -> str:
    if json_format:
        record = {"timestamp": _timestamp(now), "level": level, "message": message, "requestId": request_id}
        return json_codec.dumps(record, ensure_ascii=False)
    return f"[{level}]\t{_timestamp(now)}\t{request_id or ''}\t{message}"


class RuntimeLog:
    """Writes the runtime's own diagnostics (rejected responses, init errors, fatal exits)."""

    def __init__(self, json_format: bool, stream: TextIO | None = None) -> None:
        self.json_format = json_format
        self._stream = stream

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> RuntimeLog:
        return cls(environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON")

    def write(self, level: str, message: str, request_id: str | None = None) -> None:
        stream = self._stream or sys.stderr
        rid = request_id if request_id is not None else current_request_id.get()
        stream.write(format_line(level, message, rid, self.json_format, time.time()) + "\n")
        stream.flush()

    def info(self, message: str, request_id: str | None = None) -> None:
        self.write("INFO", message, request_id)

    def warning(self, message: str, request_id: str | None = None) -> None:
        self.write("WARN", message, request_id)

    def error(self, message: str, request_id: str | None = None) -> None:
        self.write("ERROR", message, request_id)


def configure_stdlib_logging(log: RuntimeLog, environ: Mapping[str, str] = os.environ) -> None:
    """Give the root logger a handler that prints the request id, as AWS's runtime does.

    Called after the handler module is imported, and only if `logging` was imported by then
    (boto3 does): a function that never logs does not pay for the module at start-up. The level
    stays Python's default (WARNING) unless AWS_LAMBDA_LOG_LEVEL sets one, as on AWS.
    """
    import logging

    class LambdaFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self.formatException(record.exc_info)}"
            level = "WARN" if record.levelname == "WARNING" else record.levelname
            return format_line(level, message, current_request_id.get(), log.json_format, record.created)

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
