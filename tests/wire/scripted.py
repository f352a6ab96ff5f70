"""A scripted Runtime API peer on a socketpair: it records every request byte for byte and
answers each with the next scripted response, so tests see exactly what the runtime sends."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field

from runtime import wire
from runtime.api import RuntimeAddress
from runtime.client import Connection, RuntimeClient
from runtime.context import FunctionEnvironment
from runtime.log import RuntimeLog
from runtime.loop import InvocationLoop, log_rejection


def next_answer(request_id: str, event: object, **headers: str) -> bytes:
    body = json.dumps(event).encode()
    fields = {
        "Lambda-Runtime-Aws-Request-Id": request_id,
        "Lambda-Runtime-Deadline-Ms": headers.pop("deadline", "9999999999999"),
        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:1:function:f",
        "Content-Type": "application/json",
        **headers,
        "Content-Length": str(len(body)),
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body


def status_answer(status: int, document: dict | None = None, close: bool = False) -> bytes:
    body = json.dumps(document or {"status": "OK"}).encode()
    extra = "Connection: close\r\n" if close else ""
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


ACCEPTED = status_answer(202)


@dataclass
class RecordedRequest:
    head: bytes
    body: bytes  # raw body bytes as sent (chunk framing included)

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode()

    @property
    def decoded_body(self) -> bytes:
        if b"transfer-encoding: chunked" not in self.head.lower():
            return self.body
        events = wire.ChunkedDecoder().feed(self.body)
        return b"".join(e.data for e in events if isinstance(e, wire.Data))

    @property
    def trailers(self) -> dict[str, str]:
        events = wire.ChunkedDecoder().feed(self.body)
        return dict(events[-1].trailers) if events and isinstance(events[-1], wire.EndOfBody) else {}


@dataclass
class ScriptedPeer:
    """Answers request N with `answers[N]`; an answer given as (index, bytes) in `early` is sent
    while request `index`'s body is still arriving, after `early_after` body bytes."""

    answers: list[bytes]
    early: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runtime_side, self.peer = socket.socketpair()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def connect(self, address: tuple[str, int]) -> socket.socket:
        return self.runtime_side

    def _serve(self) -> None:
        buffer = b""
        try:
            for index, answer in enumerate(self.answers):
                buffer = self._read_request(buffer, index)
                if answer:
                    self.peer.sendall(answer)
        except OSError:
            pass
        finally:
            self.peer.close()

    def _recv(self) -> bytes:
        data = self.peer.recv(65536)
        if not data:
            raise ConnectionResetError
        return data

    def _read_request(self, buffer: bytes, index: int) -> bytes:
        while b"\r\n\r\n" not in buffer:
            buffer += self._recv()
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        framing = wire.request_body_framing(wire.parse_request_head(head))  # strict, as the emulator reads
        head += b"\r\n\r\n"
        if framing.kind == wire.CHUNKED:
            body, buffer = self._read_chunked(buffer, index)
        else:
            length = framing.length
            while len(buffer) < length:
                buffer += self._recv()
            body, buffer = buffer[:length], buffer[length:]
        self.requests.append(RecordedRequest(head, body))
        return buffer

    def _read_chunked(self, buffer: bytes, index: int) -> tuple[bytes, bytes]:
        decoder, raw, size, sent_early = wire.ChunkedDecoder(), b"", 0, False
        data = buffer
        while True:
            raw += data
            for event in decoder.feed(data):
                if isinstance(event, wire.Data):
                    size += len(event.data)
            if index in self.early and not sent_early and size >= self.early[index][0]:
                self.peer.sendall(self.early[index][1])
                sent_early = True
            if decoder.done:
                return raw[: len(raw) - len(decoder.unused)], decoder.unused
            data = self._recv()


def run_loop(
    peer: ScriptedPeer, handler, invocations: int, environ: dict | None = None, json_format: bool = False
) -> list[str]:
    """Serve `invocations` invocations against `peer`; returns the runtime's log lines."""
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    log = RuntimeLog(json_format=json_format, stream=Sink())  # type: ignore[arg-type]
    client = RuntimeClient(Connection(RuntimeAddress.parse("127.0.0.1:9001"), peer.connect), log_rejection(log))
    loop = InvocationLoop(client, handler, FunctionEnvironment.from_environ({}), log, environ=environ)
    loop.run(invocations)
    return lines
