"""The invocation loop: poll `/next`, run the handler, answer buffered or streamed, repeat.

Two error channels never mix: a handler's failure is reported for its invocation (`/error` before
the response is committed, error trailers after) and the loop goes on; a Runtime API failure,
including a `/next` answer the runtime cannot read, raises `RuntimeAPIError` out of the loop and
the process exits non-zero so the platform restarts it
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html).

Handlers may be synchronous or async: whatever a handler returns that is awaitable (a coroutine)
or async-iterable (an async generator) is run on the environment's single event loop
(`runtime.aio`), which is imported the first time such a value appears.
"""

from __future__ import annotations

import os
import sys

from runtime import json_codec
from runtime.api import ErrorPayload
from runtime.client import RuntimeAPIError, RuntimeAPIFailure
from runtime.context import Invocation, LambdaContext
from runtime.errors import payload_from_exception
from runtime.log import RuntimeLog, current_request_id
from runtime.response import ResponseStream, ResponseStreamClosed, State, streaming_options

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping
    from typing import Any

    from runtime.client import RuntimeClient, RuntimeResponse
    from runtime.context import FunctionEnvironment

TRACE_ENV = "_X_AMZN_TRACE_ID"


class InvocationLoop:
    """Serves invocations for one handler over one Runtime API connection."""

    def __init__(
        self,
        client: RuntimeClient,
        handler: Callable[..., Any],
        function: FunctionEnvironment,
        log: RuntimeLog,
        *,
        environ: MutableMapping[str, str] | None = os.environ,
        on_logging_imported: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.handler = handler
        self.function = function
        self.log = log
        self.environ = environ  # None when several loops share the process: the variable would race
        self.options = streaming_options(handler)
        self.on_logging_imported = on_logging_imported  # called once, when `logging` first appears

    def run(self, invocations: int | None = None) -> None:
        """Serve `invocations` invocations (forever when None). Raises RuntimeAPIError when fatal."""
        served = 0
        while invocations is None or served < invocations:
            answer = self.client.next_invocation()
            try:
                invocation = Invocation.from_next(answer.headers, answer.body)
            except ValueError as exc:
                raise RuntimeAPIFailure(f"unusable /next answer: {exc}") from None
            self.serve(invocation)
            served += 1

    def serve(self, invocation: Invocation) -> None:
        if self.on_logging_imported is not None and "logging" in sys.modules:
            self.on_logging_imported()  # an earlier invocation imported it: set it up as at init
            self.on_logging_imported = None
        token = current_request_id.set(invocation.request_id)
        try:
            self._set_trace(invocation.trace_id)
            context = LambdaContext(invocation, self.function)
            event = self._decode_event(invocation)
            if event is _UNDECODABLE:
                return
            if self.options is None:
                self._serve_buffered(invocation, event, context)
            else:
                self._serve_streaming(invocation, event, context)
        finally:
            current_request_id.reset(token)

    def _set_trace(self, trace_id: str | None) -> None:
        if self.environ is None:
            return
        if trace_id:
            self.environ[TRACE_ENV] = trace_id
        else:
            self.environ.pop(TRACE_ENV, None)

    def _decode_event(self, invocation: Invocation) -> Any:
        try:
            return json_codec.loads(invocation.event) if invocation.event else {}
        except ValueError as exc:
            error = ErrorPayload("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}")
            self._report(invocation.request_id, error)
            return _UNDECODABLE

    def _serve_buffered(self, invocation: Invocation, event: Any, context: LambdaContext) -> None:
        try:
            result = self.handler(event, context)
            if hasattr(result, "__await__"):
                result = _aio().run(result)
        except Exception as exc:
            self._report(invocation.request_id, payload_from_exception(exc))
            return
        try:
            body = json_codec.dumps(result, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            error = ErrorPayload("Runtime.MarshalError", f"Unable to marshal response: {exc}")
            self._report(invocation.request_id, error)
            return
        self.client.post_response(invocation.request_id, body, "application/json")

    def _serve_streaming(self, invocation: Invocation, event: Any, context: LambdaContext) -> None:
        request_id = invocation.request_id
        http_integration = bool(self.options and self.options.get("http_integration", True))
        response = ResponseStream(
            lambda content_type: self.client.open_stream(request_id, content_type),
            http_integration=http_integration,
        )
        try:
            result = self.handler(event, response, context)
            if hasattr(result, "__await__"):
                result = _aio().run(result)
            if result is not None:
                _write_result(response, result)
        except ResponseStreamClosed:
            return  # the Runtime API closed this invocation; already logged by the client
        except RuntimeAPIError:
            raise  # fatal, not the handler's failure: even if it surfaced through the handler
        except Exception as exc:
            error = payload_from_exception(exc)
            if response.state is State.NEW:
                self._report(request_id, error)
            elif response.state is State.COMMITTED:
                self._log_failure(error)
                response.fail(error)
            return
        response.close()

    def _report(self, request_id: str, error: ErrorPayload) -> None:
        """Answer the invocation with `error` (`/error`), and log it."""
        self._log_failure(error)
        self.client.post_error(request_id, error)

    def _log_failure(self, error: ErrorPayload) -> None:
        self.log.failure(error.error_type, error.message, error.stack_trace)


def _write_result(response: ResponseStream, result: Any) -> None:
    """A streaming handler may return its body instead of writing it: bytes, str, an iterable or an
    async iterable (an async generator). Each item is written as one chunk as it is produced."""
    if isinstance(result, (bytes, bytearray, memoryview, str)):
        response.write(result)
        return
    if hasattr(result, "__aiter__"):
        aio = _aio()
        aio.run(aio.write_all(response, result))
        return
    if isinstance(result, dict) or not hasattr(result, "__iter__"):
        raise TypeError(
            "a streaming handler must return None, bytes, str, an iterable or an async iterable, "
            f"not {type(result).__name__}"
        )
    try:
        for chunk in result:
            response.write(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # a generator's `finally` runs now, not whenever it is collected


def _aio() -> Any:
    """`runtime.aio`, imported on first use: it imports asyncio, which sync handlers never need."""
    import runtime.aio

    return runtime.aio


_UNDECODABLE = object()


def log_rejection(log: RuntimeLog) -> Callable[[str, RuntimeResponse], None]:
    def on_rejected(request_id: str, response: RuntimeResponse) -> None:
        log.warning(f"the Runtime API rejected the answer for {request_id}: {response.describe()}", request_id)

    return on_rejected
