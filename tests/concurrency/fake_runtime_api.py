"""A scripted Runtime API on a real port, for running the real `bootstrap` with several slot
processes before the emulator can hand one environment several invocations at once.

Tests queue invocations (or raw `/next` answers); any number of pollers may wait on `/next` at
once, each gets the next queued item. Everything the runtime posts is recorded by request id:
streamed bodies are de-chunked with `runtime.wire`, trailers kept. `status_for` lets a test
answer a given request id's `/response` with another status (500 makes the runtime exit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runtime import wire

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"


@dataclass
class Posted:
    kind: str  # "response" or "error"
    headers: dict[str, str]
    body: bytes
    trailers: dict[str, str] = field(default_factory=dict)


class FakeRuntimeAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Condition()
        self.queue: deque[bytes] = deque()
        self.posted: dict[str, Posted] = {}
        self.init_errors: list[bytes] = []
        self.polls = 0
        self.status_for: dict[str, int] = {}
        self.closing = False
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, request_id: str, event: object, **headers: str) -> None:
        body = json.dumps(event).encode()
        fields = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "Content-Type": "application/json",
            **headers,
            "Content-Length": str(len(body)),
        }
        head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value is not None)
        self.answer_next(f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body)

    def answer_next(self, raw: bytes) -> None:
        with self.lock:
            self.queue.append(raw)
            self.lock.notify_all()

    def wait_for(self, predicate, timeout: float = 30.0) -> None:
        """Wait (on a condition, not a sleep) until `predicate(self)` holds."""
        with self.lock:
            if not self.lock.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"timed out; posted so far: {sorted(self.posted)}")

    def close(self) -> None:
        with self.lock:
            self.closing = True
            self.lock.notify_all()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeRuntimeAPI

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != NEXT:
            return self._reply(404, b"{}")
        with self.server.lock:
            self.server.polls += 1
            self.server.lock.notify_all()
            self.server.lock.wait_for(lambda: self.server.queue or self.server.closing)
            if self.server.closing:
                self.close_connection = True
                return None
            raw = self.server.queue.popleft()
        self.wfile.write(raw)
        self.wfile.flush()
        return None

    def do_POST(self) -> None:
        body, trailers = self._read_body()
        if self.path == INIT_ERROR:
            with self.server.lock:
                self.server.init_errors.append(body)
                self.server.lock.notify_all()
            return self._reply(202, b'{"status":"OK"}')
        parts = self.path.split("/")  # /2018-06-01/runtime/invocation/{id}/{kind}
        request_id, kind = parts[-2], parts[-1]
        with self.server.lock:
            self.server.posted[request_id] = Posted(kind, dict(self.headers.items()), body, trailers)
            self.server.lock.notify_all()
            status = self.server.status_for.get(request_id, 202)
        return self._reply(status, json.dumps({"status": str(status)}).encode())

    def _read_body(self) -> tuple[bytes, dict[str, str]]:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length", "0"))), {}
        decoder, parts, trailers = wire.ChunkedDecoder(), [], {}
        while not decoder.done:
            data = self.rfile.read1(65536)
            if not data:
                break
            for event in decoder.feed(data):
                if isinstance(event, wire.Data):
                    parts.append(bytes(event.data))
                elif isinstance(event, wire.EndOfBody):
                    trailers = dict(event.trailers)
        return b"".join(parts), trailers

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_bootstrap(api: FakeRuntimeAPI, handler: str, concurrency: int = 1, **extra: str) -> subprocess.Popen:
    """The real `bootstrap`, pointed at `api`, with its stderr and stdout captured."""
    environ = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(PROJECT_ROOT),
        "LAMBDA_RUNTIME_PYTHON": sys.executable,
        "AWS_LAMBDA_MAX_CONCURRENCY": str(concurrency),
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        **extra,
    }
    return subprocess.Popen(
        [str(PROJECT_ROOT / "bootstrap")], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def children_of(pid: int) -> set[int]:
    """The live child processes of `pid`, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found
