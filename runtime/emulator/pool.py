"""A function's execution environments: reuse, start, refuse (429), reload, time out.

The pool is what the front doors talk to: `dispatch` hands an invocation to an environment
(warm ones first, a new one up to the function's concurrency, else `Throttled`), `wait` blocks
until the invocation ends and enforces its deadline by killing the environment that holds it, as
Lambda does on a timeout, and `reload` retires every environment when the code changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable

from runtime.emulator.config import FunctionConfig
from runtime.emulator.environment import Environment, EnvironmentUnavailable, PoolSettings
from runtime.emulator.invocation import Invocation, Outcome
from runtime.emulator.watch import CodeWatcher

Logger = Callable[[str], None]


class Throttled(Exception):
    """Every environment is busy and the concurrency limit is reached (the client gets 429)."""


class EnvironmentPool:
    """A function's environments: idle ones are reused first (warm starts), new ones are started
    up to `function.concurrency`, beyond that `dispatch` raises Throttled.

    `reload()` (the code changed) retires every environment: in-flight invocations finish on the
    old code, the next invocation starts a new environment on the new code.
    """

    def __init__(
        self, function: FunctionConfig, settings: PoolSettings, log: Logger, watcher: CodeWatcher | None = None
    ) -> None:
        self.function = function
        self.settings = settings
        self.log = log
        self.watcher = watcher
        self._code_lock = threading.Lock()
        self._pycache_generation = -1
        self._pycache = ""
        self._pycaches: list[str] = []  # removed when the pool closes
        self.generation = 0
        self._lock = threading.Lock()
        self._environments: list[Environment] = []  # counted against the concurrency limit
        self._retiring: list[Environment] = []  # old code finishing its invocations
        self._closed = False

    def dispatch(self, invocation: Invocation) -> None:
        """Give `invocation` to an environment, starting one if needed; Throttled when at the limit."""
        self.check_code()
        with self._lock:
            for environment in self._candidates():
                try:
                    environment.assign(invocation)
                    return
                except EnvironmentUnavailable:
                    continue
            if self._closed or len(self._environments) >= self.function.concurrency:
                raise Throttled()
            environment = Environment(self.function, self.settings, self, self.log)
            self._environments.append(environment)
            environment.assign(invocation)

    def _candidates(self) -> list[Environment]:
        """Live environments of the current code that can take one more, most recently used first."""
        ready = [e for e in self._environments if e.generation == self.generation and e.accepts()]
        return sorted(ready, key=lambda e: (e.load, -e.last_used))

    def redispatch(self, invocation: Invocation) -> None:
        """An invocation whose environment died before taking it: another environment serves it."""
        try:
            self.dispatch(invocation)
        except Throttled:
            invocation.fail("Runtime.ExitError", "its environment exited and no other was free")

    def release(self, environment: Environment) -> None:
        """An environment finished an invocation (nothing to do: `accepts()` tells the truth)."""
        environment.last_used = time.monotonic()

    def discard(self, environment: Environment) -> None:
        with self._lock:
            for group in (self._environments, self._retiring):
                if environment in group:
                    group.remove(environment)

    def check_code(self) -> None:
        """With a watcher: retire every environment if the function's code changed.

        One check at a time: a dispatch that finds nothing new because the background check
        just took the change waits until that check has retired the old environments.
        """
        if self.watcher is None:
            return
        with self._code_lock:
            changes = self.watcher.changes()
            if changes:
                shown = ", ".join(os.path.relpath(path, self.watcher.root) for path in changes[:3])
                more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
                self.log(f"reloading {self.function.label}: {shown}{more} changed")
                self.reload()

    def environment_for_generation(self) -> dict[str, str]:
        """With a watcher, each code generation gets its own bytecode cache (PYTHONPYCACHEPREFIX).

        CPython trusts a `.pyc` whose source has the same size and the same mtime in whole seconds,
        so an edit that keeps a file's length within a second of the last compile would otherwise
        run the old code; a fresh cache per generation makes "the next request runs the new code"
        exact.
        """
        if self.watcher is None:
            return {}
        if self._pycache_generation != self.generation:
            self._pycache_generation = self.generation
            self._pycache = tempfile.mkdtemp(prefix=f"lambda-emulator-pycache-{self.function.label}-")
            self._pycaches.append(self._pycache)
        return {"PYTHONPYCACHEPREFIX": self._pycache}

    def reload(self) -> None:
        """The function's code changed: retire every environment."""
        with self._lock:
            self.generation += 1
            environments, self._environments = self._environments, []
            self._retiring += environments  # they finish outside the concurrency count
        for environment in environments:
            environment.retire()

    def environments(self) -> list[Environment]:
        with self._lock:
            return self._environments + self._retiring

    def wait(self, invocation: Invocation) -> Outcome:
        """Block until `invocation` ends; past its deadline, its environment is killed (as Lambda
        does on a timeout) and it fails with `Sandbox.Timedout`."""
        while not invocation.wait(invocation.remaining()):  # wakes early when dispatch moves the deadline
            if invocation.remaining() <= 0:
                self.time_out(invocation)
        assert invocation.outcome is not None
        return invocation.outcome

    def time_out(self, invocation: Invocation) -> None:
        message = f"RequestId: {invocation.request_id} Error: Task timed out after {invocation.timeout:.2f} seconds"
        for environment in self.environments():
            if environment.find_invocation(invocation.request_id) is invocation:
                environment.kill("Sandbox.Timedout", message, culprit=invocation)
        invocation.fail("Sandbox.Timedout", message)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            environments = self._environments + self._retiring
            self._environments, self._retiring = [], []
        for environment in environments:
            environment.kill("Sandbox.Shutdown", "the emulator is shutting down")
        for directory in self._pycaches:
            shutil.rmtree(directory, ignore_errors=True)
