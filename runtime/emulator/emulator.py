"""The emulator assembled: an embedded S3, and per function an environment pool and a Function URL,
plus one Invoke API for all of them.

With one function, its Function URL and the Invoke API share one port (the first); with several,
the Invoke API takes the first port and each Function URL the next ones, in order. Port 0 picks
free ports for all. `make_server(config)` is a context manager in the style of the standard
library's servers: it binds, serves in threads, and on exit stops serving and kills every runtime
process, also when the body of the `with` raised.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

from runtime.emulator.config import EmulatorConfig, FunctionConfig, bootstrap_command
from runtime.emulator.environment import PoolSettings
from runtime.emulator.front_door import FrontDoorSettings, FunctionUrl
from runtime.emulator.http_connection import ConnectionLimits, IncomingRequest, ServerConnection
from runtime.emulator.http_server import HttpServer
from runtime.emulator.invoke_api import InvokeAPI
from runtime.emulator.pool import EnvironmentPool
from runtime.emulator.runtime_api import ResponseLimits
from runtime.emulator.watch import CodeWatcher

Logger = Callable[[str], None]
WATCH_INTERVAL_SECONDS = 1.0


class SharedPort:
    """One function's Function URL and the Invoke API on the same port (single-function mode)."""

    def __init__(self, function_url: FunctionUrl, invoke_api: InvokeAPI) -> None:
        self.function_url = function_url
        self.invoke_api = invoke_api

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None:
        application = self.invoke_api if self.invoke_api.matches(request) else self.function_url
        application.handle(connection, request)

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]:
        return self.function_url.error_response(status, message)

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None:
        self.function_url.log_rejection(connection, status, message)


class StdoutLog:
    """Whole lines to stdout, one writer at a time (tools read the emulator's output line by line)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class Emulator:
    def __init__(self, config: EmulatorConfig, log: Logger | None = None) -> None:
        self.config = config
        self.log = log or StdoutLog()
        self.pools: dict[str, EnvironmentPool] = {}  # by function label
        self.function_urls: dict[str, str] = {}  # by function label
        self.invoke_api_url = ""
        self.s3_endpoint: str | None = None
        self._servers: list[HttpServer] = []
        self._stack = contextlib.ExitStack()
        self._stopped = threading.Event()

    def start(self) -> Emulator:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        config = self.config
        extra = self._start_s3() if config.serves_s3 else {}
        limits = ConnectionLimits(idle_timeout=config.idle_timeout, head_timeout=config.head_timeout)
        for function in config.functions:
            self.pools[function.label] = self._pool(function, extra)
        settings = FrontDoorSettings(
            region=config.region,
            max_request_bytes=config.max_request_bytes,
            max_buffered_response_bytes=config.max_buffered_response_bytes,
            aws_throttle=config.aws_throttle,
            throttle_burst_bytes=config.throttle_burst_bytes,
            throttle_rate_bytes=config.throttle_rate_bytes,
            access_log=config.access_log,
        )
        by_name = {}
        for pool in self.pools.values():
            by_name[pool.function.name] = pool
            by_name[pool.function.label] = pool
        invoke_api = InvokeAPI(by_name, settings, self.log)
        urls = [FunctionUrl(pool, settings, self.log) for pool in self.pools.values()]
        if len(urls) == 1:
            server = self._serve(SharedPort(urls[0], invoke_api), config.port, limits, "front-door")
            self.invoke_api_url = self.function_urls[urls[0].function.label] = server.url(config.host)
        else:
            self.invoke_api_url = self._serve(invoke_api, config.port, limits, "invoke-api").url(config.host)
            for index, function_url in enumerate(urls, start=1):
                port = config.port + index if config.port else 0
                server = self._serve(function_url, port, limits, f"function-url-{function_url.function.label}")
                self.function_urls[function_url.function.label] = server.url(config.host)
        if config.watch:
            threading.Thread(target=self._watch, name="code-watch", daemon=True).start()

    def _start_s3(self) -> dict[str, str]:
        from runtime.emulator.embedded_s3 import embedded_s3  # moto is needed only when S3 is

        environment = self._stack.enter_context(embedded_s3(self.config.buckets, self.config.region, self.config.host))
        self.s3_endpoint = environment["AWS_ENDPOINT_URL_S3"]
        return environment

    def _pool(self, function: FunctionConfig, extra: dict[str, str]) -> EnvironmentPool:
        settings = PoolSettings(
            command=bootstrap_command(function),
            region=self.config.region,
            extra_environment=extra,
            response_limits=ResponseLimits(
                self.config.max_buffered_response_bytes, self.config.max_streamed_response_bytes
            ),
            # A runtime may stay silent mid-body for as long as its function may run: the
            # invocation's deadline bounds that, not a socket timeout.
            connection_limits=ConnectionLimits(
                idle_timeout=None, head_timeout=self.config.head_timeout, body_timeout=None
            ),
        )
        watcher = CodeWatcher(function.code_dir) if self.config.watch else None
        return EnvironmentPool(function, settings, self.log, watcher)

    def _serve(self, application: object, port: int, limits: ConnectionLimits, name: str) -> HttpServer:
        server = HttpServer((self.config.host, port), application, limits)  # type: ignore[arg-type]
        self._servers.append(server)
        server.start(name)
        return server

    def _watch(self) -> None:
        """Retire environments soon after a save even when no request comes (dispatch checks too)."""
        while not self._stopped.wait(WATCH_INTERVAL_SECONDS):
            for pool in self.pools.values():
                pool.check_code()

    def close(self) -> None:
        self._stopped.set()
        for server in self._servers:
            server.stop()
        for pool in self.pools.values():
            pool.close()
        self._stack.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def make_server(config: EmulatorConfig, log: Logger | None = None) -> Iterator[Emulator]:
    """Start the emulator for `config`; stop it and every runtime process on exit."""
    emulator = Emulator(config, log).start()
    try:
        yield emulator
    finally:
        emulator.close()
