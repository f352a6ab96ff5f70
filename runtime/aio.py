"""The environment's event loop: one per process, created once, reused by every invocation.

Async handlers (coroutines, async generators, async iterables, ASGI apps) all run on this loop
with `run_until_complete`, so objects bound to it (async HTTP clients, connection pools, queues,
locks created at import time or in a first invocation) keep working in every later invocation.
`asyncio.run()` per invocation, the usual shortcut, closes the loop each time and breaks them.

Between invocations the loop does not run. Tasks a handler leaves behind are neither awaited nor
cancelled: the response never waits for them, they are paused with the environment (as Lambda
freezes it) and carry on while the next invocation runs. Work that must finish before the response
ends must be awaited by the handler.

When the process ends (SIGTERM, which Lambda sends in its shutdown phase when extensions are
registered, or a fatal Runtime API error), `shutdown` runs the hooks registered with `on_shutdown`
(an ASGI app's lifespan shutdown), then cancels what is left and closes the loop quietly.

This module is imported only when a handler turns out to be async, so synchronous functions never
pay for `asyncio` at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from runtime.log import RuntimeLog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable
    from typing import Any, TypeVar

    from runtime.response import ResponseStream

    Result = TypeVar("Result")

SHUTDOWN_GRACE_SECONDS = 1.5  # Lambda gives a runtime 500 ms to 2 s after SIGTERM

_loop: asyncio.AbstractEventLoop | None = None
_shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
_closing = False


class HandlerCancelled(Exception):
    """The handler's task was cancelled (by the handler itself or a library it uses)."""


def environment_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop, made on first use and set as the thread's current loop.

    If the handler's module already made a current loop at import time (`asyncio.get_event_loop()`
    at module level, as some libraries still do), that loop is adopted, so what was bound to it
    then keeps working in every invocation.
    """
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = _current_loop() or asyncio.new_event_loop()
        _loop.set_exception_handler(_log_loop_error)
        asyncio.set_event_loop(_loop)
    return _loop


def _current_loop() -> asyncio.AbstractEventLoop | None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warn when they must make one
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:  # 3.14+: no current loop
            return None
    return None if loop.is_closed() or loop.is_running() else loop


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


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    """Run `hook()` on the loop when the process ends; the first hook also takes over SIGTERM."""
    if not _shutdown_hooks:
        with contextlib.suppress(ValueError):  # not the main thread (a test calling a handler)
            signal.signal(signal.SIGTERM, _on_sigterm)
    _shutdown_hooks.append(hook)


def shutdown() -> None:
    """Run the shutdown hooks, cancel the tasks left behind, close the loop. Safe to call twice;
    does nothing while the loop is running (an invocation is in progress)."""
    global _closing
    loop = _loop
    if loop is None or loop.is_closed() or loop.is_running():
        return
    hooks = list(_shutdown_hooks)
    _shutdown_hooks.clear()
    for hook in hooks:
        try:
            loop.run_until_complete(asyncio.wait_for(hook(), SHUTDOWN_GRACE_SECONDS))
        except Exception as exc:
            RuntimeLog.from_environ().error(f"shutdown hook failed: {type(exc).__name__}: {exc}")
    _closing = True  # what the cancelled tasks report now is expected: keep it out of the log
    leftover = asyncio.all_tasks(loop)
    for task in leftover:
        task.cancel()
    if leftover:
        loop.run_until_complete(asyncio.wait(leftover, timeout=SHUTDOWN_GRACE_SECONDS))
    loop.close()


def _on_sigterm(signum: int, frame: object) -> None:
    shutdown()
    raise SystemExit(0)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors the loop cannot hand to anyone (a background task that failed and was never
    awaited): one log line in the runtime's format, with the trace, instead of asyncio's logger."""
    if _closing:
        return
    message = context.get("message") or "unhandled error in the event loop"
    exception = context.get("exception")
    if exception is not None:
        import traceback

        trace = "".join(traceback.format_exception(exception)).rstrip()
        message = f"{message}\n{trace}"
    RuntimeLog.from_environ().error(message)
