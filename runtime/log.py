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
    from collections.abc import Mapping, Sequence
    from typing import Any, TextIO

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _timestamp(seconds: float) -> str:
    whole = time.gmtime(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", whole) + f".{int(seconds % 1 * 1000):03d}Z"


# Lambda reads the `level` of a JSON line to filter logs, and knows TRACE, DEBUG, INFO, WARN, ERROR
# and FATAL only (anything else counts as INFO): Python's names are translated for JSON lines
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
JSON_LEVELS = {0: "TRACE", 10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "FATAL"}
LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50, "FATAL": 50}


def json_level(level: str | int) -> str:
    """Lambda's name for a Python level (a number, or a name such as WARNING)."""
    number = LEVEL_NUMBERS.get(level, 20) if isinstance(level, str) else level
    return JSON_LEVELS[min(50, max(0, number)) // 10 * 10]


def format_line(level: str, message: str, request_id: str | None, json_format: bool, now: float) -> str:
    if json_format:
        record = {"timestamp": _timestamp(now), "level": json_level(level), "message": message, "requestId": request_id}
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
        rid = request_id if request_id is not None else current_request_id.get()
        self._emit(format_line(level, message, rid, self.json_format, time.time()))

    def _emit(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def info(self, message: str, request_id: str | None = None) -> None:
        self.write("INFO", message, request_id)

    def warning(self, message: str, request_id: str | None = None) -> None:
        self.write("WARNING", message, request_id)

    def error(self, message: str, request_id: str | None = None) -> None:
        self.write("ERROR", message, request_id)

    def failure(self, error_type: str, message: str, stack_trace: Sequence[str], context: str = "") -> None:
        """A handler's failure (or, with `context`, an init error), with its trace, as AWS's Python
        runtime logs one.

        Lambda does not log what a runtime posts to `/error`, so without this line a failure
        would reach the caller and never the function's log. JSON: one line with AWS's fields
        (`errorType`, `errorMessage`, `stackTrace`, `requestId`). Text: the error line, then the
        trace's lines, as `logger.exception` writes them; CloudWatch stores each line as its own
        event (AWS's runtime joins them with CR through a descriptor of its own, which a terminal
        would not show), so JSON is the format for keeping a failure in one event.
        """
        if self.json_format:
            record = {
                "timestamp": _timestamp(time.time()),
                "level": "ERROR",
                "errorType": error_type,
                "errorMessage": message,
                "requestId": current_request_id.get(),
                "stackTrace": list(stack_trace),
            }
            self._emit(json_codec.dumps(record, ensure_ascii=False))
            return
        text = f"{context}{error_type}: {message}"
        if stack_trace:
            text += "\nTraceback (most recent call last):" + "".join(f"\n{frame}" for frame in stack_trace)
        self.write("ERROR", text)


def configure_stdlib_logging(log: RuntimeLog, environ: Mapping[str, str] = os.environ) -> None:
    """Give the root logger a handler that prints the request id, as AWS's runtime does.

    Called once `logging` has been imported (by the handler module, a library such as boto3, or
    code run by an earlier invocation): a function that never logs does not pay for the module
    at start-up. The level stays Python's default (WARNING) unless AWS_LAMBDA_LOG_LEVEL sets one,
    as on AWS. Records look like those of AWS's Python runtime (`awslambdaric`): in text, Python's
    level name (`[WARNING]`); in JSON, the level Lambda filters on (`WARN`), `logger`, the
    exception's `errorType`, `errorMessage`, `stackTrace` and `location`, and the record's `extra`
    fields. AWS's runtime sets its handler up before the handler module is imported, so there a
    `logging.basicConfig()` at import does nothing: its default handler is replaced here, while
    any other handler the code added (a log shipper, a file) is kept beside this one.
    """
    import json
    import logging

    reserved = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    class LambdaFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            if log.json_format:
                return self._json(record)
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{self.formatException(record.exc_info)}"
            return format_line(record.levelname, message, current_request_id.get(), False, record.created)

        def _json(self, record: logging.LogRecord) -> str:
            error = record.exc_info[1] if record.exc_info else None
            document = {
                "timestamp": _timestamp(record.created),
                "level": json_level(record.levelno),
                "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
                "logger": record.name,
                "requestId": current_request_id.get(),
            }
            if record.exc_info and error is not None:
                document["errorType"] = type(error).__name__
                document["errorMessage"] = str(error)
                document["stackTrace"] = self._trace(record.exc_info)
                document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
            for name, value in vars(record).items():
                if name not in reserved and name not in document:
                    document[name] = value  # `extra={...}`
            return json.dumps(document, ensure_ascii=False, default=str)

        @staticmethod
        def _trace(exc_info: Any) -> list[str]:
            import traceback

            return traceback.format_tb(exc_info[2])

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaFormatter())
    root = logging.getLogger()
    root.handlers[:] = [kept for kept in root.handlers if not _is_basic_config_default(kept)] + [handler]
    level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


def _is_basic_config_default(handler: logging.Handler) -> bool:
    """The handler `logging.basicConfig()` (or a first root-level `logging.warning()`) installs:
    to stderr, with the default format. On AWS that call finds a handler already and adds none."""
    import logging

    formatter = handler.formatter
    return (
        type(handler) is logging.StreamHandler
        and getattr(handler, "stream", None) is sys.stderr
        and (formatter is None or formatter._fmt == logging.BASIC_FORMAT)
    )
