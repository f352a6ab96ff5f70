"""The emulator as one object: the front door's HTTP server owning the environment pool.

`make_server(config)` is a context manager in the style of the standard library's servers: it
binds (port 0 picks a free port), serves in a thread, and on exit stops serving and kills every
runtime process, also when the body of the `with` raised.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

from runtime.emulator.config import EmulatorConfig
from runtime.emulator.environment import EnvironmentPool
from runtime.emulator.invoke_api import InvokeAPIHandler


class FrontDoorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._log_lock = threading.Lock()
        self.pool = EnvironmentPool(config, self.log)
        super().__init__((config.host, config.port), InvokeAPIHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def log(self, line: str) -> None:
        with self._log_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def server_close(self) -> None:
        self.pool.close()
        super().server_close()


@contextlib.contextmanager
def make_server(config: EmulatorConfig) -> Iterator[FrontDoorServer]:
    server = FrontDoorServer(config)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="front-door", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
