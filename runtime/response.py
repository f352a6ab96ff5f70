"""The streaming handler contract: the `streaming` decorator and the `ResponseStream` it hands out.

A `ResponseStream` goes NEW -> COMMITTED -> CLOSED, or to FAILED. It commits lazily:
nothing reaches the Runtime API until the first non-empty write, an explicit `flush()`, or the
handler's return, so a handler that fails early can still be reported through `/error`. After
commit, `start()` raises (headers cannot change once bytes are out) and a failure is reported in
the trailers instead. Every write becomes one chunk on the wire immediately; there is no buffer.
"""

from __future__ import annotations

from runtime import wire

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
    from typing import Any, Protocol, TypeVar

    from runtime.api import ErrorPayload

    Handler = TypeVar("Handler", bound=Callable[..., Any])

    class StreamSink(Protocol):
        """Where committed bytes go: a chunked POST to `/response`, or a recorder in tests.

        `send` puts each of `chunks` on the wire as one chunk, in one system call, together with
        the request head if that has not gone out yet; it raises ResponseStreamClosed when the
        Runtime API stopped accepting the body. `finish` does the same and ends the body.
        """

        def send(self, chunks: list[bytes]) -> None: ...

        def finish(self, chunks: list[bytes], trailers: Mapping[str, str] | None) -> None: ...


MAX_TRAILER_ERROR_JSON = 2048  # base64 inflates 4/3: ~2.7 KiB, well under the 4 KiB trailer block
STREAMING_ATTRIBUTE = "__lambda_streaming__"


class ResponseStreamError(RuntimeError):
    """Misuse of a response stream: writing after close, starting after commit, bad data types."""


class ResponseStreamClosed(ResponseStreamError):
    """The Runtime API stopped accepting this response (for example the size cap was reached)."""


class State:
    """The writer's states, as strings (the `enum` module costs start-up time for no gain here)."""

    NEW = "new"
    COMMITTED = "committed"
    CLOSED = "closed"
    FAILED = "failed"


class ResponseStream:
    """What a streaming handler writes its response to."""

    def __init__(self, open_sink: Callable[[str], StreamSink], *, http_integration: bool = True) -> None:
        self._open_sink = open_sink
        self._http_integration = http_integration
        self._prelude = wire.build_prelude()
        self._sink: StreamSink | None = None
        self.state = State.NEW
        self.bytes_written = 0

    def start(
        self,
        status_code: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Sequence[str] | None = None,
    ) -> None:
        """Set the status, headers and cookies the Function URL client will see. Optional."""
        if self.state is not State.NEW:
            raise ResponseStreamError(f"cannot start a response that is already {self.state}")
        prelude = wire.build_prelude(status_code, headers, cookies)
        wire.encode_prelude(prelude)  # checks the size cap now, while the error can still go to /error
        self._prelude = prelude

    def write(self, data: bytes | bytearray | memoryview | str) -> Sent:
        """Send `data` as one chunk now. Blocks while the socket is full: that is the backpressure.

        The chunk is on the wire when `write` returns; what it returns is an already-completed
        awaitable, so async code may write `await response.write(data)` as well.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif isinstance(data, memoryview) and (data.format != "B" or data.ndim != 1):
            data = data.tobytes()  # a chunk's length is counted in bytes, not items
        elif not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() takes bytes or str, not {type(data).__name__}")
        self._require_open()
        if not data:
            return SENT  # a zero-length chunk would end the body
        sink, chunks = self._commit()
        chunks.append(data)  # not copied: it is on the wire before write() returns
        try:
            sink.send(chunks)
        except ResponseStreamClosed:
            self.state = State.FAILED
            raise
        self.bytes_written += len(data)
        return SENT

    def flush(self) -> Sent:
        """Commit now: send the prelude even before the first body byte (e.g. to show headers)."""
        self._require_open()
        sink, chunks = self._commit()
        try:
            sink.send(chunks)
        except ResponseStreamClosed:
            self.state = State.FAILED
            raise
        return SENT

    def close(self, last: bytes | bytearray | memoryview = b"") -> None:
        """End the body successfully (the runtime calls this when the handler returns).

        A non-empty `last` is sent as the final chunk, in the same system call as the terminator.
        """
        if self.state in (State.CLOSED, State.FAILED):
            return
        sink, chunks = self._commit()
        if last:
            chunks.append(bytes(last))
        self.state = State.CLOSED
        try:
            sink.finish(chunks, None)
        except ResponseStreamClosed:
            self.state = State.FAILED
            return
        self.bytes_written += len(last)

    def fail(self, error: ErrorPayload) -> None:
        """End a committed body with the `Lambda-Runtime-Function-Error-Type`/`-Body` trailers
        (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming)."""
        if self._sink is None or self.state is not State.COMMITTED:
            raise ResponseStreamError(f"cannot fail a response that is {self.state}")
        self.state = State.FAILED
        fitted = error.fitted(MAX_TRAILER_ERROR_JSON)
        self._sink.finish([], wire.encode_error_trailers(fitted.error_type, fitted.to_json()))

    def _require_open(self) -> None:
        if self.state in (State.CLOSED, State.FAILED):
            raise ResponseStreamClosed(f"the response stream is {self.state}")

    def _commit(self) -> tuple[StreamSink, list[bytes]]:
        """The sink, and the chunks that must precede the body if this is the commit.

        The prelude and the delimiter stay two chunks on the wire, as AWS's Rust and .NET runtimes
        send them, but leave in the same system call as the request head and the first body chunk.
        """
        if self._sink is not None:
            return self._sink, []
        if self._http_integration:
            self._sink = self._open_sink(wire.HTTP_INTEGRATION_CONTENT_TYPE)
            preamble = [wire.encode_prelude(self._prelude), wire.PRELUDE_DELIMITER]
        else:
            self._sink = self._open_sink(self._prelude.headers["content-type"])
            preamble = []
        self.state = State.COMMITTED
        return self._sink, preamble


class Sent:
    """What `write()` and `flush()` return: an awaitable that is already complete."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that finishes at once: awaiting it never suspends


SENT = Sent()


CO_VARARGS = 0x04  # a code flag: the function takes *args (inspect.CO_VARARGS, without importing inspect)


def streaming(handler: Any = None, /, *, http_integration: bool = True) -> Any:
    """Mark `handler(event, response, context)` as a streaming handler.

    With `http_integration=False` no prelude is sent: the body goes out raw with the content type
    set through `response.start(headers={"content-type": ...})`, for callers of
    InvokeWithResponseStream that are not a Function URL.
    """

    def mark(function: Handler) -> Handler:
        code = getattr(function, "__code__", None)
        if code is not None and code.co_argcount < 3 and not code.co_flags & CO_VARARGS:
            name = getattr(function, "__qualname__", "the handler")
            raise TypeError(
                f"@streaming {name}() must take (event, response, context); it takes {code.co_argcount} argument(s)"
            )
        setattr(function, STREAMING_ATTRIBUTE, {"http_integration": http_integration})
        return function

    return mark(handler) if handler is not None else mark


def streaming_options(handler: Callable[..., Any]) -> dict[str, bool] | None:
    """The options `streaming` recorded on `handler`, or None for a buffered handler."""
    return getattr(handler, STREAMING_ATTRIBUTE, None)
