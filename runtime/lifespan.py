"""The ASGI lifespan protocol for `asgi_handler`: startup once per process, shutdown on SIGTERM.

Startup runs in the init phase, on the environment's event loop, before the first request
(https://asgi.readthedocs.io/en/latest/specs/lifespan.html). The app may keep objects in the
lifespan `state` (a connection pool, a client); every request gets a shallow copy of it, and since
requests run on the same loop, loop-bound objects work there. An app that raises on the lifespan
scope does not support the protocol: in "auto" mode it is served without it. Shutdown runs when
the environment's loop is shut down (`runtime.aio.shutdown`: on SIGTERM, which Lambda sends in
its shutdown phase when extensions are registered, and before the process exits on a fatal error).
"""

from __future__ import annotations

import asyncio
import traceback

from runtime.log import RuntimeLog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from typing import Any

    Message = MutableMapping[str, Any]
    ASGIApp = Callable[..., Awaitable[None]]

LIFESPAN_VERSION = {"version": "3.0", "spec_version": "2.0"}
SHUTDOWN_TIMEOUT = 1.5  # Lambda allows a runtime 500 ms to 2 s after SIGTERM
_LIFESPAN_TASKS: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


class LifespanProtocolError(RuntimeError):
    """The app sent a message the lifespan protocol does not have."""


def _log() -> RuntimeLog:
    return RuntimeLog.from_environ()


class Lifespan:
    """The ASGI lifespan protocol (https://asgi.readthedocs.io/en/latest/specs/lifespan.html)."""

    def __init__(self, app: ASGIApp, mode: str) -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.supported = False
        self._messages: asyncio.Queue[Message] | None = None
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._error: BaseException | None = None

    async def startup(self) -> str | None:
        """Run startup; None when the app is ready (or does not do lifespan), else why it failed."""
        self._messages = asyncio.Queue()
        self._messages.put_nowait({"type": "lifespan.startup"})
        _LIFESPAN_TASKS.add(asyncio.get_running_loop().create_task(self._run()))
        await self._started.wait()
        if self._failure is not None:
            return self._failure or "lifespan startup failed"
        if not self.supported:
            if self.mode == "on" and self._error is not None:
                return f"{type(self._error).__name__}: {self._error}"
            if self._error is not None:
                _log().info(f"ASGI lifespan not supported by the app ({type(self._error).__name__}: {self._error})")
        return None

    async def shutdown(self) -> None:
        if not self.supported or self._messages is None or self._stopped.is_set():
            return
        self._messages.put_nowait({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._stopped.wait(), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            _log().warning("ASGI lifespan shutdown did not finish in time")

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": dict(LIFESPAN_VERSION), "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except (Exception, asyncio.CancelledError) as exc:
            self._error = exc
            if self.supported:
                trace = "".join(traceback.format_exception(exc)).rstrip()
                _log().error(f"Exception in ASGI lifespan\n{trace}")
        finally:
            self._started.set()
            self._stopped.set()

    async def _receive(self) -> Message:
        assert self._messages is not None
        return await self._messages.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            self.supported = True
            self._started.set()
        elif kind == "lifespan.startup.failed":
            self._failure = str(message.get("message") or "")
            self._started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind.endswith("failed"):
                _log().error(f"ASGI lifespan shutdown failed: {message.get('message') or ''}")
            self._stopped.set()
        else:
            raise LifespanProtocolError(f"unexpected lifespan message {kind!r}")
