"""The environment's event loop: one per process, created once, reused by every invocation.

Async handlers (coroutines, async generators, async iterables, ASGI apps) all run on this loop
with `run_until_complete`, so objects bound to it (async HTTP clients, connection pools, queues,
locks created at import time or in a first invocation) keep working in every later invocation.
`asyncio.run()` per invocation, the usual shortcut, closes the loop each time and breaks them.

Between invocations the loop does not run. Tasks a handler leaves behind are neither awaited nor
cancelled: the response never waits for them, they are paused with the environment (as Lambda
freezes it) and carry on while the next invocation runs. Work that must finish before the response
ends must be awaited by the handler.

This module is imported only when a handler turns out to be async, so synchronous functions never
pay for `asyncio` at start-up.
"""

from __future__ import annotations

import asyncio

from runtime.log import RuntimeLog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable
    from typing import Any, TypeVar

    from runtime.response import ResponseStream

    Result = TypeVar("Result")

_loop: asyncio.AbstractEventLoop | None = None


class HandlerCancelled(Exception):
    """The handler's task was cancelled (by the handler itself or a library it uses)."""


def environment_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop, created on first use and set as the thread's current loop."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        _loop.set_exception_handler(_log_loop_error)
        asyncio.set_event_loop(_loop)
    return _loop


def run(awaitable: Awaitable[Result]) -> Result:
    """Run `awaitable` to completion on the environment's loop and return its result."""
    loop = environment_loop()
    try:
        return loop.run_until_complete(awaitable)
    except asyncio.CancelledError as exc:
        raise HandlerCancelled("the handler's task was cancelled") from exc


async def write_all(response: ResponseStream, chunks: AsyncIterable[Any]) -> None:
    """Write each item of an async iterable as one chunk as it is produced; always close it."""
    try:
        async for chunk in chunks:
            response.write(chunk)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors the loop cannot hand to anyone (a background task that failed and was never
    awaited): one log line in the runtime's format, with the trace, instead of asyncio's logger."""
    message = context.get("message") or "unhandled error in the event loop"
    exception = context.get("exception")
    if exception is not None:
        import traceback

        trace = "".join(traceback.format_exception(exception)).rstrip()
        message = f"{message}\n{trace}"
    RuntimeLog.from_environ().error(message)
