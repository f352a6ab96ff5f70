"""Strict HTTP/1.1 servers, shared by the Function URL, the Invoke API and the Runtime API.

The standard library's `BaseHTTPRequestHandler` accepts what a production server refuses
(`Content-Length: ²`, conflicting lengths, `Transfer-Encoding: xchunked`), swallows requests
pipelined after a chunked body and holds a thread per idle socket forever. `HttpServer` runs
each connection through `http_connection.ServerConnection` instead, so every server here applies
the same rules to clients and to runtimes; an application only sees well-formed requests. The
listen backlog takes bursts, and the server tracks its open connections so an environment can
wait until a dead runtime's last bytes were read (`settle`).
"""

from __future__ import annotations

import contextlib
import select
import socketserver
import sys
import threading
import time
import traceback
from typing import Protocol

from runtime.emulator.http_connection import (
    ClientGone,
    ConnectionLimits,
    IncomingRequest,
    RequestRejected,
    ServerConnection,
)

LISTEN_BACKLOG = 1024


class Application(Protocol):
    """What a server runs for each request."""

    def handle(self, connection: ServerConnection, request: IncomingRequest) -> None: ...

    def error_response(self, status: int, message: str) -> tuple[list[tuple[str, str]], bytes]: ...

    def log_rejection(self, connection: ServerConnection, status: int, message: str) -> None: ...


class _ConnectionHandler(socketserver.BaseRequestHandler):
    server: HttpServer

    def handle(self) -> None:
        connection = ServerConnection(self.request, self.client_address, self.server.limits)
        self.server.connection_opened(connection)
        try:
            self._serve(connection)
        finally:
            connection.close()
            self.server.connection_closed(connection)

    def _serve(self, connection: ServerConnection) -> None:
        app = self.server.app
        while True:
            try:
                request = connection.read_request()
                if request is None:
                    return
                app.handle(connection, request)
            except RequestRejected as exc:
                self._refuse(connection, exc)
                return
            except ClientGone:
                return
            except Exception:  # a bug in the emulator: say so loudly, answer 500 if we still can
                traceback.print_exc(file=sys.stderr)
                if not connection.response_started:
                    self._refuse(connection, RequestRejected(500, "the emulator failed; see its log"))
                return
            if connection.closing or not request.head.keep_alive or not connection.finish_request():
                return

    def _refuse(self, connection: ServerConnection, exc: RequestRejected) -> None:
        self.server.app.log_rejection(connection, exc.status, exc.message)
        connection.linger = True
        if connection.response_started:
            return
        headers, body = self.server.app.error_response(exc.status, exc.message)
        with contextlib.suppress(ClientGone):
            connection.respond(exc.status, headers, body, close=True)


class HttpServer(socketserver.ThreadingTCPServer):
    """A threading server that runs `app` for each request, with connection tracking."""

    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], app: Application, limits: ConnectionLimits | None = None) -> None:
        self.app = app
        self.limits = limits or ConnectionLimits()
        self._connections: set[ServerConnection] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        super().__init__(address, _ConnectionHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, host: str | None = None) -> str:
        shown = host or str(self.server_address[0])
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/"

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
        self.server_close()
        with self._changed:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()

    def connection_opened(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.add(connection)
            self._changed.notify_all()

    def connection_closed(self, connection: ServerConnection) -> None:
        with self._changed:
            self._connections.discard(connection)
            self._changed.notify_all()

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._connections)

    def settle(self, timeout: float) -> bool:
        """Wait until no connection is open and none waits to be accepted; False on timeout.

        Used after a runtime process died: its connections then end (the kernel closed them), so
        this returns once everything the runtime wrote before dying has been read and relayed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if not self._connections and not self._pending_accept():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.02))

    def _pending_accept(self) -> bool:
        try:
            readable, _, _ = select.select([self.socket], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)
