"""Async handlers the end-to-end tests run under the emulator through the real bootstrap."""

from __future__ import annotations

import asyncio
import json
import os

from runtime import streaming


async def _acknowledged(directory: str, index: int) -> bool:
    """Wait, without blocking the loop, until the test has read chunk `index` (it creates ack-i)."""
    for _ in range(4000):  # ~20 s
        if os.path.exists(os.path.join(directory, f"ack-{index}")):
            return True
        await asyncio.sleep(0.005)
    return False


@streaming
async def lockstep(event, response, context):
    """Await between writes: chunk i goes out, then the handler awaits the client's acknowledgement."""
    query = event.get("queryStringParameters") or {}
    response.start(200, {"content-type": "text/plain"}, ["async=1"])
    for index in range(int(query.get("n", "5"))):
        await response.write(f"chunk-{index}\n")
        if not await _acknowledged(query["dir"], index):
            await response.write("gave up waiting\n")
            return


@streaming
async def generated(event, response, context):
    """An async generator handler: each yielded item is one chunk."""
    response.start(200, {"content-type": "text/plain"})
    for index in range(3):
        await asyncio.sleep(0)
        yield f"item {index}\n"


async def buffered(event, context):
    await asyncio.sleep(0)
    return {"async": True, "request_id": context.aws_request_id}


class _EchoConnection:
    """A client connection bound to the loop it was opened on, like an async HTTP client's pool."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened_on: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(line.upper())
                await writer.drain()

        self.server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.opened_on = asyncio.get_running_loop()

    async def ask(self, text: str) -> str:
        assert self.writer is not None and self.reader is not None
        self.writer.write(f"{text}\n".encode())
        await self.writer.drain()
        return (await self.reader.readline()).decode().strip()


connection = _EchoConnection()
invocations = 0
queue: asyncio.Queue[int] | None = None


@streaming
async def loop_bound(event, response, context):
    """Open a connection and a queue in the first invocation; use both in every later one."""
    global invocations, queue
    invocations += 1
    if connection.writer is None:
        await connection.open()
        queue = asyncio.Queue()
    assert queue is not None
    await queue.put(invocations)
    response.start(200, {"content-type": "application/json"})
    answer = await connection.ask(f"invocation {invocations}")
    same_loop = connection.opened_on is asyncio.get_running_loop()
    document = {"answer": answer, "queued": await queue.get(), "same_loop": same_loop}
    await response.write(json.dumps(document))
