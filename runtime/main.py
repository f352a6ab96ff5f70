"""Process entry point: read the environment, load the handler, run one or more invocation loops.

Exit status: 0 never happens in normal operation (the loop runs until the platform stops us);
1 after an init error (reported to `/runtime/init/error` first) or a fatal Runtime API error.
With AWS_LAMBDA_MAX_CONCURRENCY above 1 (Lambda Managed Instances) the loop runs in that many
threads, each on its own connection; handler module globals are then shared between concurrent
invocations and must be thread-safe, and `_X_AMZN_TRACE_ID` is not set (use `context.xray_trace_id`).
"""

from __future__ import annotations

import os
import sys

from runtime.api import ErrorPayload, RuntimeAddress
from runtime.client import Connection, RuntimeAPIError, RuntimeClient
from runtime.context import FunctionEnvironment
from runtime.loader import HandlerLoadError, load_handler
from runtime.log import RuntimeLog, configure_stdlib_logging
from runtime.loop import InvocationLoop, log_rejection

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def main(environ: Mapping[str, str] = os.environ) -> int:
    log = RuntimeLog.from_environ(environ)
    try:
        address = RuntimeAddress.parse(environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    except ValueError as exc:
        log.error(f"cannot start: {exc}")
        return 1
    client = RuntimeClient(Connection(address), log_rejection(log))
    try:
        handler = load_handler(environ.get("_HANDLER"), environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    except HandlerLoadError as exc:
        return _report_init_error(client, log, exc.payload)
    if "logging" in sys.modules:  # the handler (or a library it imports, e.g. boto3) uses logging
        configure_stdlib_logging(log, environ)
    concurrency = _concurrency(environ, log)
    function = FunctionEnvironment.from_environ(environ)
    if concurrency == 1:
        return _run(InvocationLoop(client, handler, function, log), log)
    return _run_threads(address, handler, function, log, concurrency)


def _report_init_error(client: RuntimeClient, log: RuntimeLog, error: ErrorPayload) -> int:
    log.error(f"init error {error.error_type}: {error.message}")
    try:
        client.post_init_error(error)
    except RuntimeAPIError as exc:
        log.error(f"could not report the init error: {exc}")
    return 1


def _concurrency(environ: Mapping[str, str], log: RuntimeLog) -> int:
    text = environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        log.warning(f"ignoring AWS_LAMBDA_MAX_CONCURRENCY={text!r}: not a positive integer")
        return 1
    return int(text)


def _run(loop: InvocationLoop, log: RuntimeLog) -> int:
    try:
        loop.run()
    except RuntimeAPIError as exc:
        log.error(f"exiting: {exc}")
    return 1


def _run_threads(
    address: RuntimeAddress, handler: Callable[..., Any], function: FunctionEnvironment, log: RuntimeLog, count: int
) -> int:
    """Run `count` loops; the first fatal error in any of them ends the process."""
    import threading

    fatal = threading.Event()

    def serve() -> None:
        client = RuntimeClient(Connection(address), log_rejection(log))
        _run(InvocationLoop(client, handler, function, log, environ=None), log)
        fatal.set()

    for index in range(count):
        threading.Thread(target=serve, name=f"invocation-loop-{index}", daemon=True).start()
    fatal.wait()
    return 1


if __name__ == "__main__":
    sys.exit(main())
