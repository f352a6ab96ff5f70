"""One emulated invocation: its state machine, its outcome, and the sink its response goes to.

States (the table below is the whole lifecycle):

    QUEUED --dispatch--> DISPATCHED --respond--> RESPONDING --complete--> COMPLETED
       |  \\--requeue--> QUEUED   |  \\--report--> REPORTING  \\--report_error--> ERRORED
       |                          |                |--report_error--> ERRORED
       \\--fail / report_error-->  \\--fail-->  FAILED   (and every non-final state --fail--> FAILED)

The Runtime API side drives it (`dispatch`, `respond`, `begin`, `body`, `complete`,
`report_error`); the platform side (`fail`, `requeue`) reacts to crashes, timeouts and caps. The
response goes to a `ResponseSink`, chosen by whoever started the invocation: a Function URL
client's stream, a collected buffer, an event stream. That is the one path a response takes; the
sinks differ only in how they render it. `fail` is idempotent because several parties can see
the same fault (the process exiting, the connection dropping, the deadline passing): the first
one decides the outcome, and a late arrival (the body ending just after the deadline) is a
no-op. Every other move not in the table raises `IllegalTransition`.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runtime import wire
from runtime.emulator.transitions import TransitionTable


class InvocationState(enum.Enum):
    QUEUED = "queued"  # waiting for its environment's runtime to ask /next
    DISPATCHED = "dispatched"  # handed to the runtime; no answer yet
    RESPONDING = "responding"  # a /response body is arriving
    REPORTING = "reporting"  # an /error body is arriving
    COMPLETED = "completed"  # the response ended without an error
    ERRORED = "errored"  # the function reported an error (/error, init error, or error trailers)
    FAILED = "failed"  # the platform ended it: crash, timeout, size cap, malformed response

    def __str__(self) -> str:
        return self.value


S = InvocationState
TABLE = TransitionTable(
    "invocation",
    {
        (S.QUEUED, "dispatch"): S.DISPATCHED,
        (S.QUEUED, "requeue"): S.QUEUED,  # its environment died before taking it: not its fault
        (S.QUEUED, "report_error"): S.ERRORED,  # the environment's init failed
        (S.QUEUED, "fail"): S.FAILED,
        (S.DISPATCHED, "respond"): S.RESPONDING,
        (S.DISPATCHED, "report"): S.REPORTING,
        (S.DISPATCHED, "fail"): S.FAILED,
        (S.RESPONDING, "complete"): S.COMPLETED,
        (S.RESPONDING, "report_error"): S.ERRORED,  # the body ended with error trailers
        (S.RESPONDING, "fail"): S.FAILED,
        (S.REPORTING, "report_error"): S.ERRORED,
        (S.REPORTING, "fail"): S.FAILED,
    },
    final=frozenset({S.COMPLETED, S.ERRORED, S.FAILED}),
)


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended. `error_body` is the error document (JSON bytes) when it failed."""

    state: InvocationState
    error_type: str | None = None
    error_body: bytes | None = None

    @property
    def succeeded(self) -> bool:
        return self.state is S.COMPLETED

    def describe(self) -> str:
        """`ErrorType: message` for logs; the client never sees this."""
        if self.succeeded:
            return ""
        return f"{self.error_type or 'Unknown'}: {error_message(self.error_body or b'')}".strip()


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_message(body: bytes) -> str:
    """An error document's `errorMessage` (the whole body when it is not such a document)."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict) and "errorMessage" in document:
        return str(document["errorMessage"])
    return text


def platform_error(error_type: str, message: str) -> bytes:
    """The error document Lambda's platform writes for failures it detects itself."""
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode("utf-8")


class ResponseSink(Protocol):
    """Where an invocation's response goes. Called by whichever thread moves the invocation.

    `begin` announces the response head (the prelude when the body has one); `body` passes body
    bytes as several buffers (never copied) and returns False when the sink takes no more (its
    size limit); `settle` ends it with the outcome, exactly once.
    """

    def begin(self, prelude: wire.Prelude | None, content_type: str) -> None: ...

    def body(self, pieces: list[bytes | memoryview]) -> bool: ...

    def settle(self, outcome: Outcome) -> None: ...


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda passes it in Lambda-Runtime-Trace-Id."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


INIT_ALLOWANCE_SECONDS = 10.0  # Lambda's init phase limit, on top of the function timeout


class Invocation:
    """One request to a function, from queueing to its outcome."""

    def __init__(
        self,
        event: bytes,
        sink: ResponseSink,
        timeout: float,
        *,
        trace_id: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.event = event
        self.sink = sink
        self.timeout = timeout
        self.trace_id = trace_id
        self.client_context = client_context
        self.request_id = request_id or new_request_id()
        self.requeues = 0
        self._clock = clock
        self._created = clock()
        self._dispatched: float | None = None
        self._state = S.QUEUED
        self._lock = threading.Lock()
        self._changed = threading.Condition(threading.Lock())  # notified on dispatch and settle
        self._settled = threading.Event()
        self.outcome: Outcome | None = None
        self.on_settled: Callable[[Invocation, Outcome], None] | None = None  # set by its environment

    # -- reading state -------------------------------------------------------------------------

    @property
    def state(self) -> InvocationState:
        return self._state

    @property
    def settled(self) -> bool:
        return self._settled.is_set()

    @property
    def deadline(self) -> float:
        """When the platform gives up: the function timeout after dispatch (plus init before)."""
        if self._dispatched is not None:
            return self._dispatched + self.timeout
        return self._created + INIT_ALLOWANCE_SECONDS + self.timeout

    @property
    def deadline_ms(self) -> int:
        return int(self.deadline * 1000)

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def wait(self, timeout: float) -> bool:
        """Block until the invocation has an outcome (True), its deadline moved (it was dispatched),
        or `timeout` seconds passed; True only once it has an outcome."""
        with self._changed:
            if not self._settled.is_set():
                self._changed.wait(max(0.0, timeout))
        return self._settled.is_set()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- moves -------------------------------------------------------------------------------------

    def _move(self, event: str) -> InvocationState:
        """Advance under the lock; raises IllegalTransition. Returns the new state."""
        with self._lock:
            self._state = TABLE.advance(self._state, event)
            return self._state

    def _try_move(self, event: str) -> bool:
        with self._lock:
            if not TABLE.allows(self._state, event):
                return False
            self._state = TABLE.advance(self._state, event)
            return True

    def dispatch(self) -> None:
        """The runtime took the invocation from /next: its deadline starts now."""
        self._move("dispatch")
        self._dispatched = self._clock()
        self._notify()  # a waiter computed its wait from the queued deadline

    def requeue(self) -> None:
        """Its environment died before the runtime took it: it waits for another one."""
        self._move("requeue")
        self.requeues += 1

    def claim_response(self) -> bool:
        """A /response for this invocation began; False if it is not waiting for one."""
        return self._try_move("respond")

    def claim_error_report(self) -> bool:
        """An /error for this invocation began; False if it is not waiting for one."""
        return self._try_move("report")

    # -- the response ---------------------------------------------------------------------------------

    def begin(self, prelude: wire.Prelude | None, content_type: str) -> None:
        """The response head is known (the prelude, or just the content type)."""
        if self._state is S.RESPONDING:
            self.sink.begin(prelude, content_type)

    def body(self, pieces: list[bytes | memoryview]) -> bool:
        """Pass body bytes on; False once the invocation takes no more (ended, or the sink is full)."""
        if self._state is not S.RESPONDING:
            return False
        if self.sink.body(pieces):
            return True
        self.fail("Function.ResponseSizeTooLarge", "the response exceeded the size limit for this invocation")
        return False

    def complete(self, error_type: str | None = None, error_body: bytes | None = None) -> bool:
        """The body ended; with an error type (from the trailers) the function failed mid-stream."""
        if error_type:
            return self.report_error(error_type, error_body or b"")
        return self._settle("complete", Outcome(S.COMPLETED))

    def report_error(self, error_type: str, error_body: bytes) -> bool:
        """The function failed: an /error document, error trailers, or an init error."""
        return self._settle("report_error", Outcome(S.ERRORED, error_type, error_body))

    def fail(self, error_type: str, message: str) -> bool:
        """The platform ends the invocation. False when it already had an outcome."""
        return self._settle("fail", Outcome(S.FAILED, error_type, platform_error(error_type, message)))

    def _settle(self, event: str, outcome: Outcome) -> bool:
        with self._lock:
            if TABLE.is_final(self._state):
                return False  # a race, not a bug: e.g. the deadline passed as the body ended
            self._state = TABLE.advance(self._state, event)
            self.outcome = outcome
        if self.on_settled is not None:
            self.on_settled(self, outcome)  # frees the environment before the client hears the end
        try:
            self.sink.settle(outcome)
        finally:
            self._settled.set()
            self._notify()
        return True
