"""Process entry point: read the environment, load the handler, run the invocation loop.

Exit status: 0 never happens in normal operation (the loop runs until the platform stops us);
1 after an init error (reported once to `/runtime/init/error` first), a fatal Runtime API error
(one log line, no traceback) or a bug in the runtime itself (one log line with its traceback).

With AWS_LAMBDA_MAX_CONCURRENCY above 1 (Lambda Managed Instances) this process becomes the
supervisor of that many slot processes (`runtime.supervisor`), as AWS's Python runtime does. The
supervisor never imports the handler: each slot loads it, so every slot initialises on its own,
in parallel, and module globals, the event loop and `_X_AMZN_TRACE_ID` are per process. A slot
that fails to load the handler hands the error to the supervisor, which reports it once.
"""

from __future__ import annotations

import os
import sys

from runtime.api import ErrorPayload, RuntimeAddress
from runtime.client import Connection, RuntimeAPIError, RuntimeClient
from runtime.context import FunctionEnvironment
from runtime.loader import HandlerLoadError, initialize_handler, load_handler
from runtime.log import RuntimeLog, configure_stdlib_logging
from runtime.loop import InvocationLoop, log_rejection

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.supervisor import SlotChannel


def main(environ: Mapping[str, str] = os.environ) -> int:
    log = RuntimeLog.from_environ(environ)
    try:
        address = RuntimeAddress.parse(environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    except ValueError as exc:
        log.error(f"cannot start: {exc}")
        return 1
    concurrency = _concurrency(environ, log)
    if concurrency == 1:
        return serve(address, environ, log)
    from runtime.supervisor import supervise

    outcome = supervise(concurrency, log, lambda error: _report_init_error(_client(address, log), log, error))
    if isinstance(outcome, int):
        return outcome  # the supervisor is done
    return serve(address, environ, log, outcome)  # a slot process


def serve(address: RuntimeAddress, environ: Mapping[str, str], log: RuntimeLog, slot: SlotChannel | None = None) -> int:
    """Load the handler and serve invocations until something fatal happens; always returns 1."""
    client = _client(address, log)
    try:
        handler = load_handler(environ.get("_HANDLER"), environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
        logging_imported = "logging" in sys.modules  # by the handler, or a library it uses (boto3)
        if logging_imported:
            configure_stdlib_logging(log, environ)
        initialize_handler(handler)
    except HandlerLoadError as exc:
        if slot is not None:
            slot.init_error(exc.payload)  # the supervisor logs and reports it, once for all slots
            return 1
        return _report_init_error(client, log, exc.payload)
    if slot is not None:
        slot.ready()
    function = FunctionEnvironment.from_environ(environ)
    configure_later = None if logging_imported else (lambda: configure_stdlib_logging(log, environ))
    message = _run(InvocationLoop(client, handler, function, log, on_logging_imported=configure_later), log)
    if slot is not None:
        slot.fatal(message)
    aio = sys.modules.get("runtime.aio")
    if aio is not None:  # an async handler: let it shut down (lifespan) and close its loop quietly
        aio.shutdown()
    return 1


def _client(address: RuntimeAddress, log: RuntimeLog) -> RuntimeClient:
    return RuntimeClient(Connection(address), log_rejection(log))


def _report_init_error(client: RuntimeClient, log: RuntimeLog, error: ErrorPayload) -> int:
    log.failure(error.error_type, error.message, error.stack_trace, context="init error ")
    try:
        client.post_init_error(error)
    except RuntimeAPIError as exc:
        log.error(f"could not report the init error: {exc}")
    return 1


def _concurrency(environ: Mapping[str, str], log: RuntimeLog) -> int:
    text = environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1").strip() or "1"
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        log.warning(f"ignoring AWS_LAMBDA_MAX_CONCURRENCY={text!r}: not a positive integer")
        return 1
    return int(text)


def _run(loop: InvocationLoop, log: RuntimeLog) -> str:
    """Serve until something fatal happens; returns what, after logging it in one line."""
    try:
        loop.run()
    except RuntimeAPIError as exc:
        message = f"exiting: {exc}"
        log.error(message)
        return message
    except Exception as exc:  # a bug in the runtime itself: say where, then let Lambda restart us
        import traceback

        message = f"exiting on an unexpected error in the runtime: {type(exc).__name__}: {exc}"
        trace = "".join(traceback.format_exception(exc)).rstrip()
        log.error(f"{message}\n{trace}")
        return message
    return "exiting: the invocation loop ended"


if __name__ == "__main__":
    sys.exit(main())
