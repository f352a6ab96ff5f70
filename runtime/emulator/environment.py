"""Execution environments: a real `bootstrap` child process plus its own Runtime API server.

An `Environment` holds at most one invocation at a time (AWS's rule). The `EnvironmentPool`
hands out idle environments, starts new ones up to the concurrency limit and refuses beyond it
(the front door turns that into 429). An environment whose process exits, or whose invocation
passes its deadline, is killed and dropped from the pool; the next request gets a fresh one.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections.abc import Callable

from runtime.emulator import invocation as inv
from runtime.emulator.config import EmulatorConfig
from runtime.emulator.runtime_api import RuntimeAPIServer

Logger = Callable[[str], None]


class Throttled(Exception):
    """Every environment is busy and the concurrency limit is reached."""


class Environment:
    """One sandbox: a runtime process, the Runtime API it talks to, and its current invocation."""

    def __init__(self, config: EmulatorConfig, pool: EnvironmentPool, log: Logger) -> None:
        self.config = config
        self.pool = pool
        self.log = log
        self.name = secrets.token_hex(4)
        self._cond = threading.Condition()
        self._pending: inv.Invocation | None = None
        self._current: inv.Invocation | None = None
        self._initialised = False
        self.init_error: tuple[str, bytes] | None = None
        self.alive = True
        self.server = RuntimeAPIServer(self)
        self.server.start()
        log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + secrets.token_hex(16)
        environ = config.function_environ(self.server.address, log_stream)
        self.process = subprocess.Popen([config.bootstrap], env=environ, cwd=config.task_root)
        threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True).start()

    # -- called by the front door -----------------------------------------------------------------

    def assign(self, invocation: inv.Invocation) -> None:
        invocation.on_final = self.release
        with self._cond:
            self._pending = invocation
            self._cond.notify_all()

    def kill(self, reason: str, message: str) -> None:
        """End the process now; its invocation (if still running) fails with `reason`."""
        for victim in self._shutdown():
            victim.emit(inv.InvocationFailed(reason, message))

    # -- called by the Runtime API server ------------------------------------------------------------

    def next_invocation(self) -> inv.Invocation | None:
        """Block until an invocation is assigned (the long poll); None once the environment is dead."""
        with self._cond:
            self._initialised = True
            # Several pollers may wait here (AWS_LAMBDA_MAX_CONCURRENCY > 1): each takes the next
            # invocation; an environment still holds at most one at a time.
            while self._pending is None and self.alive:
                self._cond.wait()
            if not self.alive:
                return None
            invocation, self._pending = self._pending, None
            invocation.transition((inv.State.QUEUED,), inv.State.DISPATCHED)
            self._current = invocation
            return invocation

    def claim(self, request_id: str, target: inv.State) -> inv.Invocation | None:
        """The current invocation if `request_id` names it and it has not been answered yet."""
        with self._cond:
            current = self._current
        if current is None or current.request_id != request_id:
            return None
        return current if current.transition((inv.State.DISPATCHED,), target) else None

    def release(self, invocation: inv.Invocation) -> None:
        """The runtime finished answering: the environment may take the next request."""
        with self._cond:
            if self._current is invocation:
                self._current = None
        if self.alive:
            self.pool.release(self)

    def record_init_error(self, error_type: str, body: bytes) -> bool:
        with self._cond:
            if self._initialised:
                return False
            self.init_error = (error_type, body)
            return True

    # -- process lifecycle ---------------------------------------------------------------------------

    def _watch(self) -> None:
        code = self.process.wait()
        was_alive = self.alive
        victims = self._shutdown()
        if self.init_error is not None:
            error_type, body = self.init_error
            self.log(f"init error in environment {self.name}: {error_type} {body.decode('utf-8', 'replace')}")
            for victim in victims:
                victim.emit(inv.FunctionErrored(error_type, body))
        elif was_alive:
            self.log(f"runtime process of environment {self.name} exited with status {code}")
        for victim in victims:
            victim.emit(inv.InvocationFailed("Runtime.ExitError", f"runtime exited with status {code}"))

    def _shutdown(self) -> list[inv.Invocation]:
        """Mark dead, leave the pool, kill the process; returns the invocations it still held."""
        with self._cond:
            victims = [i for i in (self._pending, self._current) if i is not None]
            if not self.alive:
                return victims
            self.alive = False
            self._cond.notify_all()
        self.pool.discard(self)
        if self.process.poll() is None:
            self.process.kill()
        threading.Thread(target=self._close_server, daemon=True).start()
        return victims

    def _close_server(self) -> None:
        self.process.wait()
        self.server.shutdown()
        self.server.server_close()


class EnvironmentPool:
    """Up to `config.concurrency` environments; idle ones are reused first (warm starts)."""

    def __init__(self, config: EmulatorConfig, log: Logger) -> None:
        self.config = config
        self.log = log
        self._lock = threading.Lock()
        self._idle: list[Environment] = []
        self._all: set[Environment] = set()
        self._closed = False

    def acquire(self) -> Environment:
        with self._lock:
            while self._idle:
                environment = self._idle.pop()
                if environment.alive:
                    return environment
            if self._closed or len(self._all) >= self.config.concurrency:
                raise Throttled()
            environment = Environment(self.config, self, self.log)
            self._all.add(environment)
            return environment

    def release(self, environment: Environment) -> None:
        with self._lock:
            if environment in self._all and environment not in self._idle:
                self._idle.append(environment)

    def discard(self, environment: Environment) -> None:
        with self._lock:
            self._all.discard(environment)
            if environment in self._idle:
                self._idle.remove(environment)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            environments = list(self._all)
        for environment in environments:
            environment.kill("Sandbox.Shutdown", "the emulator is shutting down")
