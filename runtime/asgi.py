"""Run any ASGI 3 application (FastAPI, Starlette, ...) as a streaming Lambda handler.

    from runtime import asgi_handler
    handler = asgi_handler(app)          # _HANDLER=module.handler

Each Function URL event (payload format 2.0) becomes one `http` scope; the app's messages go
straight to the response stream, following the ASGI HTTP spec
(https://asgi.readthedocs.io/en/latest/specs/www.html) with no server in between:

- `http.response.start` sets the prelude (status, headers, every `Set-Cookie` as a cookie). It
  reaches the client at the first body message, or as soon as the app yields to the event loop,
  whichever comes first; a start followed at once by the body leaves in one system call.
- every `http.response.body` is one chunk on the wire before `send` returns; `more_body=False`
  ends the stream (a response without a body still ends properly). Bodies of HEAD requests and
  of 1xx, 204 and 304 responses are dropped.
- an exception before `http.response.start` gives the client a 500 with a short plain body, and
  the trace goes to the log (as uvicorn does); after it, the log gets the trace and the stream ends
  with the error trailers (an incomplete transfer); after the final body it is only logged.
- `receive()` gives the request body once, then waits until the response is finished and
  reports `http.disconnect` (Lambda never learns that a client went away).
- `lifespan` startup runs once per process in the init phase, before the first request; a failed
  startup is an init error. Its `state` is shallow-copied into every request's scope. Shutdown
  runs when the process gets SIGTERM, or before it exits on a fatal Runtime API error.

Everything runs on the environment's one event loop (`runtime.aio`).
"""

from __future__ import annotations

import asyncio

from runtime import aio
from runtime.api import ErrorPayload
from runtime.client import RuntimeAPIError
from runtime.http_event import request_from_event
from runtime.lifespan import Lifespan
from runtime.loader import INIT_ATTRIBUTE, HandlerLoadError
from runtime.log import RuntimeLog
from runtime.response import ResponseStreamClosed, State, streaming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from typing import Any

    from runtime.context import LambdaContext
    from runtime.http_event import HttpRequest
    from runtime.response import ResponseStream

    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
LIFESPAN_MODES = ("auto", "on", "off")
ERROR_BODY = b"Internal Server Error"
ERROR_HEADERS = {"content-type": "text/plain; charset=utf-8"}


class ClientDisconnected(OSError):
    """`send()` after the Runtime API stopped taking this response (ASGI HTTP spec 2.4)."""


class ASGIProtocolError(RuntimeError):
    """The app broke the ASGI message order (a second start, a body before the start, ...)."""


def asgi_handler(app: ASGIApp, *, lifespan: str = "auto", root_path: str = "") -> Callable[..., Any]:
    """A streaming Lambda handler that serves `app`.

    `lifespan`: "auto" runs the lifespan protocol and carries on if the app does not support it
    (it raises on the `lifespan` scope); "on" makes that an init error; "off" never runs it.
    `root_path`: the prefix the app is mounted under (API Gateway stage paths, for example); it is
    the scope's `root_path`, and `path` keeps the full path, as the ASGI spec says.
    """
    if lifespan not in LIFESPAN_MODES:
        raise ValueError(f"lifespan must be one of {', '.join(LIFESPAN_MODES)}, not {lifespan!r}")
    server = ASGIServer(app, lifespan, root_path)

    @streaming
    async def handler(event: Any, response: ResponseStream, context: LambdaContext) -> None:
        await server.serve(event, response, context)

    setattr(handler, INIT_ATTRIBUTE, server.start)
    handler.app = app  # type: ignore[attr-defined]
    return handler


def _log() -> RuntimeLog:
    return RuntimeLog.from_environ()


def _log_exception(message: str, exc: BaseException) -> None:
    import traceback

    _log().error(f"{message}\n{''.join(traceback.format_exception(exc)).rstrip()}")


class ASGIServer:
    """One app, its lifespan, and the scope every request gets."""

    def __init__(self, app: ASGIApp, lifespan: str, root_path: str) -> None:
        self.app = app
        self.root_path = root_path
        self.lifespan = Lifespan(app, lifespan)
        self._started = lifespan == "off"
        self._startup_failure: HandlerLoadError | None = None

    def start(self) -> None:
        """The init hook: lifespan startup, before the first poll. Failure is an init error."""
        if not self._started:
            aio.run(self._startup())

    async def _startup(self) -> None:
        if not self._started:
            self._started = True
            message = await self.lifespan.startup()
            if message is not None:
                self._startup_failure = HandlerLoadError(startup_failure(message))
            elif self.lifespan.supported:
                aio.on_shutdown(self.lifespan.shutdown)
        if self._startup_failure is not None:
            raise self._startup_failure

    async def serve(self, event: Any, response: ResponseStream, context: LambdaContext) -> None:
        if not self._started or self._startup_failure is not None:
            await self._startup()  # the init hook did not run (a wrapped handler): start now
        request = request_from_event(event)
        exchange = Exchange(response, request.method == "HEAD", request.body)
        try:
            await self.app(self._scope(request, event, context), exchange.receive, exchange.send)
        except (Exception, asyncio.CancelledError) as exc:
            exchange.app_failed(exc)
        else:
            exchange.app_returned()
        finally:
            exchange.finished.set()

    def _scope(self, request: HttpRequest, event: Any, context: LambdaContext) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": dict(ASGI_VERSION),
            "http_version": request.http_version,
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.query_string,
            "root_path": self.root_path,
            "headers": request.headers,
            "client": request.client,
            "server": request.server,
            "state": dict(self.lifespan.state),
            "aws.event": event,  # the names Mangum uses, so apps that read them keep working
            "aws.context": context,
        }


# The response side of one request, as a table: (state, what the app sent) -> next state.
AWAITING_START, STARTED, STREAMING, COMPLETE, DISCONNECTED = (
    "awaiting start",
    "started",
    "streaming",
    "complete",
    "disconnected",
)
TRANSITIONS = {
    (AWAITING_START, "start"): STARTED,
    (STARTED, "body"): STREAMING,
    (STARTED, "last body"): COMPLETE,
    (STREAMING, "body"): STREAMING,
    (STREAMING, "last body"): COMPLETE,
}
NO_BODY_STATUSES = frozenset({204, 304})


class Exchange:
    """`receive` and `send` for one request, writing to its response stream."""

    def __init__(self, response: ResponseStream, head_request: bool, body: bytes) -> None:
        self.response = response
        self.state = AWAITING_START
        self.finished = asyncio.Event()
        self.fatal: BaseException | None = None  # a Runtime API failure: must end the process
        self._drop_body = head_request
        self._body: bytes | None = body

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.state == DISCONNECTED:
            raise ClientDisconnected("the response stream is closed")
        kind = _kind(message)
        following = TRANSITIONS.get((self.state, kind))
        if following is None:
            raise ASGIProtocolError(f"unexpected ASGI message {message.get('type')!r} in state {self.state!r}")
        if kind == "start":
            self._start(message)
        else:
            self._write(message, kind == "last body")
        self.state = following

    def _start(self, message: Message) -> None:
        status = message.get("status")
        headers = [(bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in _pairs(message)]
        self.response.start(status, headers)  # type: ignore[arg-type]  # validates them; raises before commit
        self._drop_body = self._drop_body or status < 200 or status in NO_BODY_STATUSES  # type: ignore[operator]
        asyncio.get_running_loop().call_soon(self._flush_if_waiting)

    def _write(self, message: Message, last: bool) -> None:
        body = message.get("body", b"")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"http.response.body 'body' must be bytes, not {type(body).__name__}")
        if self._drop_body:
            body = b""
        try:
            if last:
                self.response.close(body)
                self.finished.set()
            elif body:
                self.response.write(body)
        except ResponseStreamClosed as exc:
            self._disconnected()
            raise ClientDisconnected(str(exc)) from exc
        except RuntimeAPIError as exc:
            self.fatal = exc
            raise

    def _flush_if_waiting(self) -> None:
        """Put the prelude on the wire once the app yields after `http.response.start`."""
        if self.state != STARTED or self.response.state is not State.NEW:
            return
        try:
            self.response.flush()
        except ResponseStreamClosed:
            self._disconnected()
        except Exception as exc:  # a Runtime API failure: surfaces when the app returns
            self.fatal = exc

    def _disconnected(self) -> None:
        self.state = DISCONNECTED
        self.finished.set()

    def app_failed(self, exc: BaseException) -> None:
        """The app raised: 500 before the start, trailers after it, only a log line once complete."""
        if self.fatal is not None:
            raise self.fatal from exc
        if self.state == DISCONNECTED or isinstance(exc, ClientDisconnected):
            return  # the Runtime API closed the stream; it already logged why
        if self.state in (STARTED, STREAMING):
            self._commit()
            raise exc  # the loop logs it with its trace and ends the stream with the error trailers
        _log_exception("Exception in ASGI application", exc)
        if self.state == AWAITING_START:
            self._internal_server_error()
        # COMPLETE: the client already has the whole response

    def app_returned(self) -> None:
        if self.fatal is not None:
            raise self.fatal
        if self.state == AWAITING_START:
            _log().error("ASGI callable returned without starting a response")
            self._internal_server_error()
        elif self.state in (STARTED, STREAMING):
            self._commit()
            raise ASGIProtocolError("ASGI callable returned without completing the response")  # the loop logs it

    def _commit(self) -> None:
        if self.response.state is State.NEW:
            self.response.flush()

    def _internal_server_error(self) -> None:
        if self.response.state is not State.NEW:
            return
        self.response.start(500, ERROR_HEADERS)
        self.response.close(ERROR_BODY)
        self.state = COMPLETE


def _pairs(message: Message) -> list[tuple[Any, Any]]:
    pairs = []
    for pair in message.get("headers", ()):
        name, value = pair
        pairs.append((name, value))
    return pairs


def _kind(message: Message) -> str:
    kind = message.get("type")
    if kind == "http.response.start":
        return "start"
    if kind == "http.response.body":
        return "body" if message.get("more_body", False) else "last body"
    return str(kind)


def startup_failure(message: str) -> ErrorPayload:
    """The init error for a failed lifespan startup. Frameworks (Starlette, FastAPI) put the whole
    formatted traceback in the `lifespan.startup.failed` message: the exception's own lines become
    the error message and the frames of the last traceback (the one that was raised) the stack
    trace, as for any other error. Anything else stays the message as it came."""
    lines = message.rstrip().splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return ErrorPayload("Runtime.LifespanStartupFailed", message)
    block, frames, index = lines[starts[-1] + 1 :], [], 0
    while index < len(block) and block[index].startswith("  File "):
        frame = [block[index]]
        index += 1
        while index < len(block) and len(frame) < 3 and block[index].startswith("    "):
            frame.append(block[index])  # the source line and its carets
            index += 1
        frames.append("\n".join(frame))
    if not frames or index == len(block):
        return ErrorPayload("Runtime.LifespanStartupFailed", message)
    return ErrorPayload("Runtime.LifespanStartupFailed", "\n".join(block[index:]), tuple(frames))
