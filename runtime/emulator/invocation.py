"""One emulated invocation: its state machine and the bounded event channel to the front door.

States: QUEUED -> DISPATCHED (the runtime took it from /next) -> RESPONDED (a /response began) or
ERRORED (/error) -> DONE; FAILED on a crash, timeout or cap from any state. The Runtime API side
`emit()`s events; the front door `next_event()`s them. The channel holds a few events only, so a
slow client slows the runtime down through TCP instead of growing the emulator's memory.

A streaming Function URL request goes one step further: it attaches a `ClientStream`, and the
thread that decodes the runtime's body writes the head and every chunk straight to the client
(`deliver_head`, `deliver_body`). Only the final event crosses the channel. That keeps a thread
hand-off and a queue round trip off every chunk of a stream.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime import wire

if TYPE_CHECKING:
    from runtime.emulator.front_door import ClientStream

CHANNEL_DEPTH = 16


class State(enum.Enum):
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RESPONDED = "responded"
    ERRORED = "errored"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ResponseStarted:
    """A `/response` began. `streaming` is False for a buffered (Content-Length) response."""

    streaming: bool
    content_type: str


@dataclass(frozen=True)
class PreludeReceived:
    prelude: wire.Prelude


@dataclass(frozen=True)
class BodyData:
    data: bytes


@dataclass(frozen=True)
class ResponseEnded:
    """The body ended; `error_type`/`error_body` come from the trailers after a mid-stream failure."""

    error_type: str | None = None
    error_body: bytes | None = None


@dataclass(frozen=True)
class FunctionErrored:
    """The runtime posted to `/error` (or init failed): nothing of the response was sent."""

    error_type: str
    error_body: bytes


@dataclass(frozen=True)
class InvocationFailed:
    """The platform ended the invocation: `Sandbox.Timeout`, `Sandbox.Failure`, a size cap..."""

    error_type: str
    message: str


Event = ResponseStarted | PreludeReceived | BodyData | ResponseEnded | FunctionErrored | InvocationFailed
FINAL_EVENTS = (ResponseEnded, FunctionErrored, InvocationFailed)


@dataclass
class Invocation:
    event: bytes
    deadline: float  # time.time() seconds
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str | None = None
    client_context: str | None = None
    state: State = State.QUEUED
    abandoned: threading.Event = field(default_factory=threading.Event)
    _channel: queue.Queue[Event] = field(default_factory=lambda: queue.Queue(CHANNEL_DEPTH))
    on_final: Callable[[Invocation], None] | None = None  # the environment frees itself here
    client: ClientStream | None = None  # set by a streaming Function URL request
    _final_sent: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def deadline_ms(self) -> int:
        return int(self.deadline * 1000)

    def transition(self, allowed: tuple[State, ...], target: State) -> bool:
        """Move to `target` if the current state is one of `allowed`; False (no change) otherwise."""
        with self._lock:
            if self.state not in allowed:
                return False
            self.state = target
            return True

    def emit(self, event: Event) -> None:
        """Hand `event` to the front door, waiting while its channel is full.

        Once the front door has gone (client disconnected, deadline passed) events are dropped,
        so the Runtime API side can keep draining the runtime's body without blocking forever.
        """
        final = isinstance(event, FINAL_EVENTS)
        with self._lock:
            if self._final_sent:
                return
            if final:
                self._final_sent = True
                self.state = State.FAILED if isinstance(event, InvocationFailed) else State.DONE
        if final and self.on_final is not None:
            self.on_final(self)  # before the client hears of it, so its next request finds the environment free
        while not self.abandoned.is_set():
            try:
                self._channel.put(event, timeout=0.25)
                return
            except queue.Full:
                continue

    def deliver_head(self, content_type: str, streaming: bool, prelude: wire.Prelude | None) -> None:
        """The response began: its prelude if it has one, else its content type."""
        if self.client is not None:
            self.client.start(prelude or wire.Prelude(200, {"content-type": content_type}, ()))
            return
        self.emit(ResponseStarted(streaming, content_type))
        if prelude is not None:
            self.emit(PreludeReceived(prelude))

    def deliver_body(self, pieces: list[bytes | memoryview]) -> None:
        """Body bytes (as several buffers, to avoid copying them): to the client, or as one event."""
        if self.client is not None:
            self.client.body(pieces)
        else:
            self.emit(BodyData(b"".join(pieces)))

    def next_event(self, timeout: float) -> Event | None:
        """The next event, or None if none arrived within `timeout` seconds."""
        try:
            return self._channel.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def remaining(self) -> float:
        return self.deadline - time.time()

    @property
    def finished(self) -> bool:
        return self._final_sent
