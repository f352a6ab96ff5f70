"""An execution environment: a real runtime process plus its own Runtime API, and its lifecycle.

An environment's lifecycle is one table:

    STARTING --initialise--> ACTIVE --retire--> RETIRING --die--> DEAD
        \\--retire--> RETIRING       \\--die--> DEAD
        \\--die--> DEAD

It is STARTING until its runtime first asks for an invocation, RETIRING when its code changed
(it finishes what it holds, takes nothing new, then stops), DEAD once its process exited or was
killed. A DEAD environment is out of the pool and never handed another invocation. It holds at
most `per_environment_concurrency` invocations (1, as on Lambda, unless the function emulates
Lambda Managed Instances).

When a process dies, what it wrote before dying is relayed first: the environment waits until
its Runtime API has read everything the runtime sent, then fails what the runtime still held
(`Runtime.ExitError`). Invocations it had not yet taken were not its fault: they go back to the
pool for another environment (once), unless the runtime never finished init.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import itertools
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from runtime.emulator.config import FunctionConfig, function_environ
from runtime.emulator.http_connection import ConnectionLimits
from runtime.emulator.invocation import Invocation, InvocationState, Outcome, error_message
from runtime.emulator.runtime_api import ResponseLimits, RuntimeAPIServer
from runtime.emulator.transitions import TransitionTable

Logger = Callable[[str], None]
SETTLE_SECONDS = 2.0  # how long a dead runtime's connections may take to be read to their end
MAX_REQUEUES = 1
BROKEN_GRACE_SECONDS = 1.0  # a runtime whose response broke off is usually exiting: let it say how


class EnvironmentState(enum.Enum):
    STARTING = "starting"
    ACTIVE = "active"
    RETIRING = "retiring"
    DEAD = "dead"

    def __str__(self) -> str:
        return self.value


E = EnvironmentState
TABLE = TransitionTable(
    "environment",
    {
        (E.STARTING, "initialise"): E.ACTIVE,
        (E.STARTING, "retire"): E.RETIRING,
        (E.ACTIVE, "retire"): E.RETIRING,
        (E.RETIRING, "initialise"): E.RETIRING,
        (E.STARTING, "die"): E.DEAD,
        (E.ACTIVE, "die"): E.DEAD,
        (E.RETIRING, "die"): E.DEAD,
    },
    final=frozenset({E.DEAD}),
)


class EnvironmentUnavailable(Exception):
    """The environment takes no more invocations (full, retiring or dead)."""


class Pool(Protocol):
    """What an environment needs from the pool that owns it."""

    generation: int

    def discard(self, environment: Environment) -> None:
        """It died: take it out of the pool."""

    def release(self, environment: Environment) -> None:
        """It finished an invocation."""

    def redispatch(self, invocation: Invocation) -> None:
        """Serve an invocation it had not taken yet on another environment."""

    def environment_for_generation(self) -> dict[str, str]:
        """Variables the pool's current code generation adds (a fresh bytecode cache)."""


@dataclass(frozen=True)
class PoolSettings:
    """What every environment of a function shares."""

    command: tuple[str, ...]
    region: str
    extra_environment: Mapping[str, str]
    response_limits: ResponseLimits
    connection_limits: ConnectionLimits


class Environment:
    """One sandbox: a runtime process, the Runtime API it talks to, and what it holds."""

    _numbers = itertools.count(1)

    def __init__(self, function: FunctionConfig, settings: PoolSettings, pool: Pool, log: Logger) -> None:
        self.function = function
        self.pool = pool
        self.log = log
        self.name = f"{function.label}-{next(self._numbers)}"
        self.function_arn = function.arn(settings.region)
        self.generation = pool.generation
        self.last_used = time.monotonic()
        self._state = E.STARTING
        self._lock = threading.Condition()
        self._queue: collections.deque[Invocation] = collections.deque()
        self._in_flight: dict[str, Invocation] = {}
        self.init_error: tuple[str, bytes] | None = None
        self._initialised = False  # the runtime asked for its first invocation: init is over
        self._killed = False  # we ended the process (its exit is not news)
        self.server = RuntimeAPIServer(self, settings.response_limits, settings.connection_limits)
        self.server.start(f"runtime-api-{self.name}")
        log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + secrets.token_hex(16)
        extra = {**settings.extra_environment, **pool.environment_for_generation()}
        environ = function_environ(function, settings.region, self.server.address, log_stream, extra)
        try:
            self.process = subprocess.Popen(list(settings.command), env=environ, cwd=function.code_dir)
        except OSError:
            self.server.stop()
            raise
        threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True).start()

    # -- state -------------------------------------------------------------------------------------

    @property
    def state(self) -> EnvironmentState:
        return self._state

    def _advance(self, event: str) -> None:
        """Move the lifecycle (caller holds the lock); raises IllegalTransition."""
        self._state = TABLE.advance(self._state, event)
        self._lock.notify_all()

    @property
    def alive(self) -> bool:
        return self._state is not E.DEAD and self.process.poll() is None

    @property
    def load(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def accepts(self) -> bool:
        """Whether `assign` would take one more invocation now."""
        with self._lock:
            return self._accepts()

    def _accepts(self) -> bool:
        held = len(self._in_flight)  # queued ones included
        return self._state in (E.STARTING, E.ACTIVE) and held < self.function.per_environment_concurrency

    # -- called by the pool -----------------------------------------------------------------------

    def assign(self, invocation: Invocation) -> None:
        """Queue `invocation` for this environment's runtime; EnvironmentUnavailable if it cannot."""
        with self._lock:
            if not self._accepts() or self.process.poll() is not None:
                raise EnvironmentUnavailable(self.name)
            invocation.on_settled = self._settled
            self._in_flight[invocation.request_id] = invocation
            self._queue.append(invocation)
            self.last_used = time.monotonic()
            self._lock.notify_all()

    def retire(self) -> None:
        """Finish what it holds on the old code, take nothing new, then stop."""
        with self._lock:
            if self._state in (E.RETIRING, E.DEAD):
                return
            self._advance("retire")
            idle = not self._in_flight
        if idle:
            self._stop_quietly()

    def kill(self, error_type: str, message: str, culprit: Invocation | None = None, grace: float = 0.0) -> None:
        """Out of the pool now, and the process ended (after `grace` seconds to exit by itself, so
        its own exit status is what gets logged). `culprit` (and anything else the runtime held)
        fails with `error_type`; invocations it had not taken yet go back to the pool."""
        if not self._die():
            return
        if grace > 0:
            threading.Thread(target=self._stop_process, args=(grace,), daemon=True).start()
        else:
            self._stop_process()
        if culprit is not None:
            culprit.fail(error_type, message)
        for invocation in self._held():
            if invocation.state is InvocationState.QUEUED:
                self._give_back(invocation)
            else:
                invocation.fail("Sandbox.Failure" if invocation is not culprit else error_type, message)

    def _die(self) -> bool:
        """DEAD now (False if it already was): out of the pool, no more invocations."""
        with self._lock:
            if self._state is E.DEAD:
                return False
            self._advance("die")
        self.pool.discard(self)
        return True

    def _stop_process(self, grace: float = 0.0) -> None:
        if grace > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        if self.process.poll() is None:
            self._killed = True
            self.process.kill()

    def _stop_quietly(self) -> None:
        if self._die():
            self._stop_process()

    # -- RuntimeAPIBackend -----------------------------------------------------------------------------

    def next_invocation(self) -> Invocation | None:
        """The long poll: the next queued invocation, once there is one."""
        with self._lock:
            if self._state in (E.STARTING, E.RETIRING):
                self._advance("initialise")
            self._initialised = True
            while True:
                if self._state is E.DEAD:
                    return None
                if self._queue:
                    invocation = self._queue.popleft()
                    if invocation.state is InvocationState.QUEUED:
                        invocation.dispatch()
                        return invocation
                    continue  # it ended while queued (deadline passed): skip it
                self._lock.wait()

    def find_invocation(self, request_id: str) -> Invocation | None:
        with self._lock:
            return self._in_flight.get(request_id)

    def record_init_error(self, error_type: str, body: bytes) -> bool:
        with self._lock:
            if self._initialised:
                return False
            self.init_error = (error_type, body)
            return True

    # -- invocations ending -------------------------------------------------------------------------------

    def _settled(self, invocation: Invocation, outcome: Outcome) -> None:
        """Called by the invocation as it ends, before its client hears the end."""
        with self._lock:
            self._in_flight.pop(invocation.request_id, None)
            if invocation in self._queue:
                self._queue.remove(invocation)
            state, idle = self._state, not self._in_flight
        broken = outcome.error_type in ("Runtime.TruncatedResponse", "Runtime.ExitError")
        if broken and state is not E.DEAD:
            # The runtime's connection broke mid-answer: it is dying or confused. Lambda resets
            # such a sandbox; so do we, so no later request lands on it.
            self.kill("Sandbox.Failure", "the runtime broke off its response", grace=BROKEN_GRACE_SECONDS)
        elif state is E.RETIRING and idle:
            self._stop_quietly()
        elif state in (E.STARTING, E.ACTIVE):
            self.pool.release(self)

    def _held(self) -> list[Invocation]:
        with self._lock:
            return list(self._in_flight.values())

    def _give_back(self, invocation: Invocation) -> None:
        """Hand a queued invocation back to the pool; only whoever takes it out of this
        environment does (a kill and the process watcher may both try)."""
        with self._lock:
            if self._in_flight.pop(invocation.request_id, None) is None:
                return
            if invocation in self._queue:
                self._queue.remove(invocation)
        if invocation.requeues >= MAX_REQUEUES:
            invocation.fail("Runtime.ExitError", "the runtime exited before taking the invocation")
            return
        invocation.requeue()
        self.pool.redispatch(invocation)

    # -- the process ending --------------------------------------------------------------------------------

    def _watch(self) -> None:
        code = self.process.wait()
        self._die()
        if not self._killed:
            self.log(f"runtime process of environment {self.name} exited with status {code}")
        self.server.settle(SETTLE_SECONDS)  # relay what the runtime wrote before it died
        if self.init_error is not None:
            error_type, body = self.init_error
            self.log(f"init error in environment {self.name}: {error_type}: {error_message(body)}")
        for invocation in self._held():
            self._after_exit(invocation, code)
        self.server.stop()

    def _after_exit(self, invocation: Invocation, code: int) -> None:
        state = invocation.state
        if self.init_error is not None and state is InvocationState.QUEUED:
            invocation.report_error(*self.init_error)
        elif state is InvocationState.QUEUED and self._initialised:
            self._give_back(invocation)
        elif state in (InvocationState.QUEUED, InvocationState.DISPATCHED, InvocationState.REPORTING):
            invocation.fail("Runtime.ExitError", f"the runtime exited with status {code}")
        # RESPONDING: the Runtime API reader ends it when the connection's last bytes are relayed.
